// Barlow Twins (Zbontar et al. 2021): cross-correlation of the two views' embeddings -> identity.
#pragma once

#include "selfsup/models/heads.h"
#include "selfsup/ssl/method.h"
#include "selfsup/train/recipe.h"

namespace selfsup::ssl {

class BarlowTwins : public Method {
 public:
  BarlowTwins(const Recipe& recipe, int64_t in_channels);
  StepOutput training_step(const data::Batch& batch, StepContext& ctx) override;
  std::shared_ptr<models::Backbone> backbone() override { return encoder_; }

 private:
  BarlowConfig config_;
  std::shared_ptr<models::Backbone> encoder_;
  models::MlpHead projector_{nullptr};
};

}  // namespace selfsup::ssl
