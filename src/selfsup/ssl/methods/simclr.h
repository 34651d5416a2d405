// SimCLR v1/v2 (Chen et al. 2020a, 2020b): NT-Xent over 2N views; v2 options: a deeper projector,
// evaluation from its first layer, and a momentum encoder whose keys extend the negatives.
#pragma once

#include "selfsup/models/heads.h"
#include "selfsup/ssl/memory.h"
#include "selfsup/ssl/config.h"
#include "selfsup/ssl/method.h"
#include "selfsup/train/momentum.h"

namespace selfsup::ssl {

struct SimClrConfig : config::DynamicSectionOf<SimClrConfig> {
  static constexpr const char* kSection = "simclr";
  static constexpr const char* kDoc = "SimCLR v1/v2 settings";
  double temperature = 0.2;
  int64_t queue_size = 0;  // > 0: SimCLR v2's momentum encoder with a queue of its keys
  double momentum = 0.99;
  int64_t eval_head_layers = 0;  // SimCLR v2: evaluate/fine-tune from this many projector layers
  void visit(config::Visitor& v) override;
  void validate(const Recipe& r, const RecipeCheck& check) const;
};

class SimClr : public Method {
 public:
  using Config = SimClrConfig;
  static constexpr const char* kName = "simclr";
  SimClr(const Recipe& recipe, int64_t in_channels);
  StepOutput training_step(const data::Batch& batch, StepContext& ctx) override;
  void after_step(StepContext& ctx) override;
  std::shared_ptr<models::Backbone> backbone() override { return encoder_; }
  std::shared_ptr<models::Backbone> eval_encoder() override;

 private:
  bool has_memory() const { return config_.queue_size > 0; }

  SimClrConfig config_;
  train::MomentumBranch momentum_;  // the key / target / teacher networks follow the online ones
  std::shared_ptr<models::Backbone> encoder_, key_encoder_;
  models::MlpHead projector_{nullptr}, key_projector_{nullptr};
  KeyQueue queue_{nullptr};
};

}  // namespace selfsup::ssl
