// MoCo v3: query encoder + projector + predictor against a momentum key encoder, in-batch keys.
#pragma once

#include "selfsup/models/heads.h"
#include "selfsup/ssl/method.h"
#include "selfsup/train/recipe.h"

namespace selfsup::ssl {

class MocoV3 : public Method {
 public:
  MocoV3(const Recipe& recipe, int64_t in_channels);
  StepOutput training_step(const data::Batch& batch, StepContext& ctx) override;
  std::shared_ptr<models::Backbone> backbone() override { return encoder_; }

 private:
  MocoV3Config config_;
  std::shared_ptr<models::Backbone> encoder_, key_encoder_;
  models::MlpHead projector_{nullptr}, predictor_{nullptr}, key_projector_{nullptr};
};

}  // namespace selfsup::ssl
