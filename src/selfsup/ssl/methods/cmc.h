// CMC: views of one image from different "sensors" (channel groups), one encoder per view,
// pairwise contrast between the views.
#pragma once

#include "selfsup/models/heads.h"
#include "selfsup/ssl/method.h"
#include "selfsup/train/recipe.h"

#include <vector>

namespace selfsup::ssl {

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
