// MoCo v1/v2: query encoder + momentum key encoder + queue of negatives, InfoNCE.
#pragma once

#include "selfsup/models/heads.h"
#include "selfsup/ssl/memory.h"
#include "selfsup/ssl/config.h"
#include "selfsup/ssl/method.h"
#include "selfsup/train/momentum.h"

namespace selfsup::ssl {

struct MocoConfig : config::DynamicSectionOf<MocoConfig> {
  static constexpr const char* kSection = "moco";
  static constexpr const char* kDoc = "MoCo v1/v2 settings";
  int64_t queue_size = 4096;
  double temperature = 0.2;
  double momentum = 0.99;
  double momentum_final = 0.99;
  bool symmetric = false;
  bool shuffle_bn = true;
  int64_t bn_splits = 8;
  void visit(config::Visitor& v) override;
  void validate(const Recipe& r, const RecipeCheck& check) const;
};

class Moco : public Method {
 public:
  using Config = MocoConfig;
  static constexpr const char* kName = "moco";
  Moco(const Recipe& recipe, int64_t in_channels);
  StepOutput training_step(const data::Batch& batch, StepContext& ctx) override;
  void after_step(StepContext& ctx) override;
  std::shared_ptr<models::Backbone> backbone() override { return encoder_; }

  torch::Tensor query(const torch::Tensor& x);                   // N x D, L2-normalised, with grad
  torch::Tensor key(const torch::Tensor& x, at::Generator& gen);  // N x D, no grad, shuffle-BN
  const KeyQueue& queue() const { return queue_; }

 private:
  MocoConfig config_;
  train::MomentumBranch momentum_;  // the key / target / teacher networks follow the online ones
  std::shared_ptr<models::Backbone> encoder_, key_encoder_;
  models::MlpHead projector_{nullptr}, key_projector_{nullptr};
  KeyQueue queue_{nullptr};
};

}  // namespace selfsup::ssl
