// BYOL (Grill et al. 2020): online network with a predictor regresses a momentum target network.
#pragma once

#include "selfsup/models/heads.h"
#include "selfsup/ssl/method.h"
#include "selfsup/train/recipe.h"

namespace selfsup::ssl {

class Byol : public Method {
 public:
  Byol(const Recipe& recipe, int64_t in_channels);
  StepOutput training_step(const data::Batch& batch, StepContext& ctx) override;
  void after_step(StepContext& ctx) override;
  std::shared_ptr<models::Backbone> backbone() override { return encoder_; }

 private:
  ByolConfig config_;
  std::shared_ptr<models::Backbone> encoder_, target_encoder_;
  models::MlpHead projector_{nullptr}, predictor_{nullptr}, target_projector_{nullptr};
};

}  // namespace selfsup::ssl
