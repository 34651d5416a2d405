// InvaSpread (Ye et al. 2019): one encoder, end to end, in-batch negatives.
#pragma once

#include "selfsup/models/heads.h"
#include "selfsup/ssl/config.h"
#include "selfsup/ssl/method.h"

namespace selfsup::ssl {

struct InvaSpreadConfig : config::DynamicSectionOf<InvaSpreadConfig> {
  static constexpr const char* kSection = "invaspread";
  static constexpr const char* kDoc = "InvaSpread settings";
  double temperature = 0.1;
  void visit(config::Visitor& v) override;
  void validate(const Recipe& r, const RecipeCheck& check) const;
};

class InvaSpread : public Method {
 public:
  using Config = InvaSpreadConfig;
  static constexpr const char* kName = "invaspread";
  InvaSpread(const Recipe& recipe, int64_t in_channels);
  StepOutput training_step(const data::Batch& batch, StepContext& ctx) override;
  std::shared_ptr<models::Backbone> backbone() override { return encoder_; }

 private:
  InvaSpreadConfig config_;
  std::shared_ptr<models::Backbone> encoder_;
  models::MlpHead projector_{nullptr};
};

}  // namespace selfsup::ssl
