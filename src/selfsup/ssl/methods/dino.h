// DINO: a student network distils a momentum teacher's centred, sharpened outputs across crops.
#pragma once

#include "selfsup/models/dino_head.h"
#include "selfsup/ssl/method.h"
#include "selfsup/train/recipe.h"

namespace selfsup::ssl {

class Dino : public Method {
 public:
  Dino(const Recipe& recipe, int64_t in_channels);
  StepOutput training_step(const data::Batch& batch, StepContext& ctx) override;
  void after_step(StepContext& ctx) override;
  // The teacher, as DINO evaluates and releases it (its BatchNorms keep their own running statistics).
  std::shared_ptr<models::Backbone> backbone() override { return teacher_encoder_; }

  // Teacher temperature at `epoch`: linear warm-up from teacher_temperature_start, then constant.
  double teacher_temperature(int64_t epoch) const;
  const torch::Tensor& center() const { return center_; }

 private:
  DinoConfig config_;
  std::shared_ptr<models::Backbone> encoder_, teacher_encoder_;
  models::DinoHead head_{nullptr}, teacher_head_{nullptr};
  torch::Tensor center_;  // 1 x K
};

}  // namespace selfsup::ssl
