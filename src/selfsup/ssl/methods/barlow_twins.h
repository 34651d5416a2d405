// Barlow Twins (Zbontar et al. 2021): cross-correlation of the two views' embeddings -> identity.
#pragma once

#include "selfsup/models/heads.h"
#include "selfsup/ssl/config.h"
#include "selfsup/ssl/method.h"

namespace selfsup::ssl {

struct BarlowConfig : config::DynamicSectionOf<BarlowConfig> {
  static constexpr const char* kSection = "barlow";
  static constexpr const char* kDoc = "Barlow Twins settings";
  double lambda = 0.0051;
  double scale_loss = 1.0;
  void visit(config::Visitor& v) override;
  void validate(const Recipe& r, const RecipeCheck& check) const;
};

class BarlowTwins : public Method {
 public:
  using Config = BarlowConfig;
  static constexpr const char* kName = "barlow_twins";
  BarlowTwins(const Recipe& recipe, int64_t in_channels);
  StepOutput training_step(const data::Batch& batch, StepContext& ctx) override;
  std::shared_ptr<models::Backbone> backbone() override { return encoder_; }

 private:
  BarlowConfig config_;
  std::shared_ptr<models::Backbone> encoder_;
  models::MlpHead projector_{nullptr};
};

}  // namespace selfsup::ssl
