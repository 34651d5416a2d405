// SwAV: online clustering; each global crop's Sinkhorn codes are predicted from every other crop.
#pragma once

#include "selfsup/models/heads.h"
#include "selfsup/ssl/method.h"
#include "selfsup/train/recipe.h"

namespace selfsup::ssl {

class Swav : public Method {
 public:
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
