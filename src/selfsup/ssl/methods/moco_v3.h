// MoCo v3: query encoder + projector + predictor against a momentum key encoder, in-batch keys.
#pragma once

#include "selfsup/models/heads.h"
#include "selfsup/ssl/config.h"
#include "selfsup/ssl/method.h"
#include "selfsup/train/momentum.h"

namespace selfsup::ssl {

struct MocoV3Config : config::DynamicSectionOf<MocoV3Config> {
  static constexpr const char* kSection = "moco_v3";
  static constexpr const char* kDoc = "MoCo v3 settings";
  double temperature = 0.2;
  double momentum = 0.99;
  double momentum_final = 1.0;
  void visit(config::Visitor& v) override;
  void validate(const Recipe& r, const RecipeCheck& check) const;
};

class MocoV3 : public Method {
 public:
  using Config = MocoV3Config;
  static constexpr const char* kName = "moco_v3";
  MocoV3(const Recipe& recipe, int64_t in_channels);
  StepOutput training_step(const data::Batch& batch, StepContext& ctx) override;
  std::shared_ptr<models::Backbone> backbone() override { return encoder_; }

 private:
  MocoV3Config config_;
  train::MomentumBranch momentum_;  // the key / target / teacher networks follow the online ones
  std::shared_ptr<models::Backbone> encoder_, key_encoder_;
  models::MlpHead projector_{nullptr}, predictor_{nullptr}, key_projector_{nullptr};
};

}  // namespace selfsup::ssl
