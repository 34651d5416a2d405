// InstDisc (Wu et al. 2018): instance discrimination against a memory bank.
#pragma once

#include "selfsup/models/heads.h"
#include "selfsup/ssl/memory.h"
#include "selfsup/ssl/method.h"
#include "selfsup/train/recipe.h"

namespace selfsup::ssl {

class InstDisc : public Method {
 public:
  InstDisc(const Recipe& recipe, int64_t in_channels, int64_t train_images);
  StepOutput training_step(const data::Batch& batch, StepContext& ctx) override;
  void after_step(StepContext& ctx) override;
  std::shared_ptr<models::Backbone> backbone() override { return encoder_; }

  torch::Tensor embed(const torch::Tensor& x);  // N x D, L2-normalised
  const MemoryBank& bank() const { return bank_; }
  double log_z() const { return log_z_.item<double>(); }  // NaN until the first NCE step

 private:
  InstDiscConfig config_;
  std::shared_ptr<models::Backbone> encoder_;
  models::MlpHead projector_{nullptr};
  MemoryBank bank_{nullptr};
  torch::Tensor visited_;  // buffer: bank rows written at least once
  torch::Tensor log_z_;  // buffer: NCE normalisation constant, estimated once on the first batch
  torch::Tensor pending_indices_, pending_features_;

  void update_log_z(const torch::Tensor& scores);  // N x (1+K) scores of this batch, no gradient
};

}  // namespace selfsup::ssl
