// SimSiam (Chen & He 2021): shared encoder, predictor, stop-gradient; no momentum, no negatives.
#pragma once

#include "selfsup/models/heads.h"
#include "selfsup/ssl/method.h"
#include "selfsup/train/recipe.h"

namespace selfsup::ssl {

class SimSiam : public Method {
 public:
  SimSiam(const Recipe& recipe, int64_t in_channels);
  StepOutput training_step(const data::Batch& batch, StepContext& ctx) override;
  std::shared_ptr<models::Backbone> backbone() override { return encoder_; }
  std::vector<train::NamedParameter> optimizer_parameters() override;

 private:
  SimSiamConfig config_;
  std::shared_ptr<models::Backbone> encoder_;
  models::MlpHead projector_{nullptr}, predictor_{nullptr};
};

}  // namespace selfsup::ssl
