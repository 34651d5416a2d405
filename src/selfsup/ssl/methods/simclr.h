// SimCLR v1/v2 (Chen et al. 2020a, 2020b): NT-Xent over 2N views; v2 options: a deeper projector,
// evaluation from its first layer, and a momentum encoder whose keys extend the negatives.
#pragma once

#include "selfsup/models/heads.h"
#include "selfsup/ssl/memory.h"
#include "selfsup/ssl/method.h"
#include "selfsup/train/recipe.h"

namespace selfsup::ssl {

class SimClr : public Method {
 public:
  SimClr(const Recipe& recipe, int64_t in_channels);
  StepOutput training_step(const data::Batch& batch, StepContext& ctx) override;
  void after_step(StepContext& ctx) override;
  std::shared_ptr<models::Backbone> backbone() override { return encoder_; }
  std::shared_ptr<models::Backbone> eval_encoder() override;

 private:
  bool has_memory() const { return config_.queue_size > 0; }

  SimClrConfig config_;
  std::shared_ptr<models::Backbone> encoder_, key_encoder_;
  models::MlpHead projector_{nullptr}, key_projector_{nullptr};
  KeyQueue queue_{nullptr};
  torch::Tensor pending_keys_;
};

}  // namespace selfsup::ssl
