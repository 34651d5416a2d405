// MoCo v3 (Chen, Xie & He 2021, "An Empirical Study of Training Self-Supervised Vision
// Transformers"): no queue. The query network (backbone -> projector -> predictor) of each view
// must pick, among the momentum network's keys (backbone -> projector) of the other view for the
// whole batch, the key of its own image:
//   L = 2τ · [ CE(q1 k2ᵀ/τ, i) + CE(q2 k1ᵀ/τ, i) ]   (the official 2τ scale; at uniform similarity 4τ ln N)
// The key network is an EMA of the query network whose momentum follows a cosine ramp from
// `momentum` to `momentum_final` (1), updated before the keys are computed, as in the official
// code. Works with ResNets and ViTs (model.backbone.vit.freeze_patch_embed is the paper's fix for
// the ViT's training instability; train.grad_norms logs the per-layer gradient norms in which that
// instability shows).
#include "selfsup/ssl/methods/moco_v3.h"

#include "selfsup/core/distributed.h"
#include "selfsup/ssl/common.h"
#include "selfsup/ssl/losses.h"

namespace selfsup::ssl {

void MocoV3Config::visit(config::Visitor& v) {
  v("temperature", temperature, "softmax temperature; the loss is scaled by 2*temperature (official: 0.2 ViT, 1.0 ResNet-50)", config::positive);
  v("momentum", momentum, "key-encoder momentum at the start of training (official: 0.99)", config::unit_interval);
  v("momentum_final", momentum_final, "momentum at the end, reached on a cosine ramp (official --moco-m-cos: 1)", config::unit_interval);
}

void MocoV3Config::validate(const Recipe& r, const RecipeCheck& check) const {
  check.views(r, 2, "moco_v3");
  check.momentum("method.moco_v3.momentum", momentum);
  check.momentum("method.moco_v3.momentum_final", momentum_final);
  check.temperature("method.moco_v3.temperature", temperature);
  check_predictor_matches_projector(r, check);
}


MocoV3::MocoV3(const Recipe& recipe, int64_t in_channels) : config_(method_settings<MocoV3Config>(recipe)) {
  const auto& m = method_config(recipe);
  encoder_ = register_module("encoder", models::make_backbone(recipe.model, in_channels));
  projector_ = register_module("projector", make_head(m.projector, encoder_->output_dim()));
  predictor_ = register_module("predictor", make_head(m.predictor, m.projector.out_dim));
  key_encoder_ = register_module("key_encoder", models::make_backbone(recipe.model, in_channels));
  key_projector_ = register_module("key_projector", make_head(m.projector, encoder_->output_dim()));
  momentum_ = train::MomentumBranch(config_.momentum, config_.momentum_final);
  momentum_.follow(key_encoder_, encoder_);
  momentum_.follow(key_projector_.ptr(), projector_.ptr());
}

StepOutput MocoV3::training_step(const data::Batch& batch, StepContext& ctx) {
  const auto& x1 = batch.views.at(0);
  const auto& x2 = batch.views.at(1);
  const auto q1 = predictor_->forward(projector_->forward(encoder_->forward(x1)));
  const auto q2 = predictor_->forward(projector_->forward(encoder_->forward(x2)));
  torch::Tensor k1, k2;
  double m = 0;
  {
    torch::NoGradGuard no_grad;
    m = momentum_.update_at(ctx.progress());
    k1 = l2_normalize(key_projector_->forward(key_encoder_->forward(x1)));
    k2 = l2_normalize(key_projector_->forward(key_encoder_->forward(x2)));
  }
  const double t = config_.temperature;
  // Several processes: each query against the keys of the global batch.
  const auto n1 = dist::gather_batch_with_grad(l2_normalize(q1)), n2 = dist::gather_batch_with_grad(l2_normalize(q2));
  k1 = dist::gather_batch(k1);
  k2 = dist::gather_batch(k2);
  StepOutput out{2 * t * (info_nce_in_batch(n1, k2, t) + info_nce_in_batch(n2, k1, t)), {}};
  {
    torch::NoGradGuard no_grad;
    const auto target = torch::arange(n1.size(0), torch::TensorOptions().dtype(torch::kLong).device(n1.device()));
    out.logs["acc"] = top1_accuracy(torch::mm(n1, k2.t()), target);
  }
  out.logs["spread"] = embedding_spread(q1);
  out.logs["m"] = m;
  return out;
}

}  // namespace selfsup::ssl
