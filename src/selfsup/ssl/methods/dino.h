// DINO: a student network distils a momentum teacher's centred, sharpened outputs across crops.
#pragma once

#include "selfsup/models/dino_head.h"
#include "selfsup/ssl/config.h"
#include "selfsup/ssl/method.h"
#include "selfsup/train/momentum.h"

namespace selfsup::ssl {

struct DinoConfig : config::DynamicSectionOf<DinoConfig> {
  static constexpr const char* kSection = "dino";
  static constexpr const char* kDoc = "DINO settings (its head is configured here, not in method.projector)";
  int64_t out_dim = 4096;  // K prototypes
  int64_t hidden_dim = 2048;
  int64_t bottleneck_dim = 256;
  int64_t head_layers = 3;
  bool head_batch_norm = false;
  bool norm_last_layer = true;
  int64_t freeze_last_layer_epochs = 1;
  double student_temperature = 0.1;
  double teacher_temperature_start = 0.04;
  double teacher_temperature = 0.04;
  int64_t teacher_warmup_epochs = 0;
  double center_momentum = 0.9;
  double momentum = 0.996;
  double momentum_final = 1.0;
  void visit(config::Visitor& v) override;
  void validate(const Recipe& r, const RecipeCheck& check) const;
};

class Dino : public Method {
 public:
  using Config = DinoConfig;
  static constexpr const char* kName = "dino";
  Dino(const Recipe& recipe, int64_t in_channels);
  StepOutput training_step(const data::Batch& batch, StepContext& ctx) override;
  void after_step(StepContext& ctx) override;
  // The teacher, as DINO evaluates and releases it (its BatchNorms keep their own running statistics).
  std::shared_ptr<models::Backbone> backbone() override { return teacher_encoder_; }

  // Teacher temperature at `epoch`: linear warm-up from teacher_temperature_start, then constant.
  double teacher_temperature(int64_t epoch) const;
  const torch::Tensor& center() const { return center_; }

 private:
  DinoConfig config_;
  train::MomentumBranch momentum_;  // the key / target / teacher networks follow the online ones
  std::shared_ptr<models::Backbone> encoder_, teacher_encoder_;
  models::DinoHead head_{nullptr}, teacher_head_{nullptr};
  torch::Tensor center_;  // 1 x K
};

}  // namespace selfsup::ssl
