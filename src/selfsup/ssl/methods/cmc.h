// CMC: views of one image from different "sensors" (channel groups), one encoder per view,
// pairwise contrast between the views.
#pragma once

#include "selfsup/models/heads.h"
#include "selfsup/ssl/config.h"
#include "selfsup/ssl/method.h"

#include <vector>

namespace selfsup::ssl {

struct CmcConfig : config::DynamicSectionOf<CmcConfig> {
  static constexpr const char* kSection = "cmc";
  static constexpr const char* kDoc = "CMC settings (views = channel groups of a colour image, one encoder each)";
  std::string color_space = "lab";  // lab | rgb: what the channel groups index
  std::vector<std::string> channel_groups{"0", "1,2"};  // one view per entry: its channels (L | ab)
  double temperature = 0.07;
  void visit(config::Visitor& v) override;
  void validate(const Recipe& r, const RecipeCheck& check) const;
};

// All views' encoders side by side: splits the channels, encodes each group, concatenates the
// features (how CMC evaluates: L and ab features together).
class MultiViewEncoder : public models::Backbone {
 public:
  MultiViewEncoder(const Recipe& recipe, std::vector<std::vector<int64_t>> groups, bool lab);
  torch::Tensor forward(torch::Tensor x) override;
  int64_t output_dim() const override;
  // The input of each view: Lab (or RGB) channels of the group. x: N x 3 x H x W RGB in [0, 1].
  std::vector<torch::Tensor> split(const torch::Tensor& x) const;
  models::Backbone& encoder(size_t i) { return *encoders_->ptr<models::Backbone>(i); }
  size_t views() const { return groups_.size(); }

 private:
  std::vector<std::vector<int64_t>> groups_;
  bool lab_;
  torch::nn::ModuleList encoders_{nullptr};
};

class Cmc : public Method {
 public:
  using Config = CmcConfig;
  static constexpr const char* kName = "cmc";
  Cmc(const Recipe& recipe, int64_t in_channels);
  StepOutput training_step(const data::Batch& batch, StepContext& ctx) override;
  std::shared_ptr<models::Backbone> backbone() override { return encoders_; }

 private:
  CmcConfig config_;
  std::shared_ptr<MultiViewEncoder> encoders_;
  torch::nn::ModuleList projectors_{nullptr};
};

// "1,2" -> {1, 2}; throws selfsup::Error naming method.cmc.channel_groups.
std::vector<std::vector<int64_t>> parse_channel_groups(const std::vector<std::string>& groups, int64_t channels);

}  // namespace selfsup::ssl
