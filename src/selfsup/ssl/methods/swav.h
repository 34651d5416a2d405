// SwAV: online clustering; each global crop's Sinkhorn codes are predicted from every other crop.
#pragma once

#include "selfsup/models/heads.h"
#include "selfsup/ssl/config.h"
#include "selfsup/ssl/method.h"

namespace selfsup::ssl {

struct SwavConfig : config::DynamicSectionOf<SwavConfig> {
  static constexpr const char* kSection = "swav";
  static constexpr const char* kDoc = "SwAV settings (method.projector is the head before the prototypes)";
  int64_t prototypes = 3000;  // K
  double temperature = 0.1;
  double epsilon = 0.05;
  int64_t sinkhorn_iterations = 3;
  int64_t queue_size = 0;  // embeddings kept per global crop for the assignments (0 = no queue)
  int64_t queue_start_epoch = 15;
  int64_t freeze_prototypes_steps = 5005;
  void visit(config::Visitor& v) override;
  void validate(const Recipe& r, const RecipeCheck& check) const;
};

class Swav : public Method {
 public:
  using Config = SwavConfig;
  static constexpr const char* kName = "swav";
  Swav(const Recipe& recipe, int64_t in_channels);
  StepOutput training_step(const data::Batch& batch, StepContext& ctx) override;
  std::shared_ptr<models::Backbone> backbone() override { return encoder_; }

  const torch::Tensor& prototypes() const { return prototypes_; }  // K x D, unit rows after each step start
  const torch::Tensor& queue() const { return queue_; }            // 2 x L x D, newest first

 private:
  SwavConfig config_;
  std::shared_ptr<models::Backbone> encoder_;
  models::MlpHead projector_{nullptr};
  torch::Tensor prototypes_, queue_;
};

}  // namespace selfsup::ssl
