// InstDisc (Wu et al. 2018): instance discrimination against a memory bank.
#pragma once

#include "selfsup/models/heads.h"
#include "selfsup/ssl/memory.h"
#include "selfsup/ssl/config.h"
#include "selfsup/ssl/method.h"

namespace selfsup::ssl {

struct InstDiscConfig : config::DynamicSectionOf<InstDiscConfig> {
  static constexpr const char* kSection = "instdisc";
  static constexpr const char* kDoc = "InstDisc settings";
  int64_t negatives = 4096;  // NCE noise samples from the bank; 0 = full non-parametric softmax
  double temperature = 0.07;
  double bank_momentum = 0.5;
  double proximal = 0;
  double z_momentum = 0;  // 0: NCE's Z fixed after the first batch; > 0: moving average
  void visit(config::Visitor& v) override;
  void validate(const Recipe& r, const RecipeCheck& check) const;
};

class InstDisc : public Method {
 public:
  using Config = InstDiscConfig;
  static constexpr const char* kName = "instdisc";
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
