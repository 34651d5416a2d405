// MoCo v1/v2: query encoder + momentum key encoder + queue of negatives, InfoNCE.
#pragma once

#include "selfsup/models/heads.h"
#include "selfsup/ssl/memory.h"
#include "selfsup/ssl/method.h"
#include "selfsup/train/recipe.h"

namespace selfsup::ssl {

class Moco : public Method {
 public:
  Moco(const Recipe& recipe, int64_t in_channels);
  StepOutput training_step(const data::Batch& batch, StepContext& ctx) override;
  void after_step(StepContext& ctx) override;
  std::shared_ptr<models::Backbone> backbone() override { return encoder_; }

  torch::Tensor query(const torch::Tensor& x);                   // N x D, L2-normalised, with grad
  torch::Tensor key(const torch::Tensor& x, at::Generator& gen);  // N x D, no grad, shuffle-BN
  const KeyQueue& queue() const { return queue_; }

 private:
  MocoConfig config_;
  std::shared_ptr<models::Backbone> encoder_, key_encoder_;
  models::MlpHead projector_{nullptr}, key_projector_{nullptr};
  KeyQueue queue_{nullptr};
  torch::Tensor pending_keys_;
};

}  // namespace selfsup::ssl
