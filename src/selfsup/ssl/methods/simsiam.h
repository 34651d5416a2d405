// SimSiam (Chen & He 2021): shared encoder, predictor, stop-gradient; no momentum, no negatives.
#pragma once

#include "selfsup/models/heads.h"
#include "selfsup/ssl/config.h"
#include "selfsup/ssl/method.h"

namespace selfsup::ssl {

struct SimSiamConfig : config::DynamicSectionOf<SimSiamConfig> {
  static constexpr const char* kSection = "simsiam";
  static constexpr const char* kDoc = "SimSiam settings";
  bool fix_predictor_lr = true;
  void visit(config::Visitor& v) override;
  void validate(const Recipe& r, const RecipeCheck& check) const;
};

class SimSiam : public Method {
 public:
  using Config = SimSiamConfig;
  static constexpr const char* kName = "simsiam";
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
