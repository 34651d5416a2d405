// InvaSpread (Ye et al. 2019): one encoder, end to end, in-batch negatives.
#pragma once

#include "selfsup/models/heads.h"
#include "selfsup/ssl/method.h"
#include "selfsup/train/recipe.h"

namespace selfsup::ssl {

class InvaSpread : public Method {
 public:
  InvaSpread(const Recipe& recipe, int64_t in_channels);
  StepOutput training_step(const data::Batch& batch, StepContext& ctx) override;
  std::shared_ptr<models::Backbone> backbone() override { return encoder_; }

 private:
  InvaSpreadConfig config_;
  std::shared_ptr<models::Backbone> encoder_;
  models::MlpHead projector_{nullptr};
};

}  // namespace selfsup::ssl
