// BYOL (Grill et al. 2020): online network with a predictor regresses a momentum target network.
#pragma once

#include "selfsup/models/heads.h"
#include "selfsup/ssl/config.h"
#include "selfsup/ssl/method.h"
#include "selfsup/train/momentum.h"

namespace selfsup::ssl {

struct ByolConfig : config::DynamicSectionOf<ByolConfig> {
  static constexpr const char* kSection = "byol";
  static constexpr const char* kDoc = "BYOL settings";
  double momentum = 0.99;
  double momentum_final = 1.0;
  void visit(config::Visitor& v) override;
  void validate(const Recipe& r, const RecipeCheck& check) const;
};

class Byol : public Method {
 public:
  using Config = ByolConfig;
  static constexpr const char* kName = "byol";
  Byol(const Recipe& recipe, int64_t in_channels);
  StepOutput training_step(const data::Batch& batch, StepContext& ctx) override;
  void after_step(StepContext& ctx) override;
  std::shared_ptr<models::Backbone> backbone() override { return encoder_; }

 private:
  ByolConfig config_;
  train::MomentumBranch momentum_;  // the key / target / teacher networks follow the online ones
  std::shared_ptr<models::Backbone> encoder_, target_encoder_;
  models::MlpHead projector_{nullptr}, predictor_{nullptr}, target_projector_{nullptr};
};

}  // namespace selfsup::ssl
