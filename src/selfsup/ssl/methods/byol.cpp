// BYOL (Grill et al. 2020, "Bootstrap Your Own Latent"): no negatives. The online network
// (backbone -> projector -> predictor) predicts, for one view, the target network's projection of
// the other view; the target network (backbone -> projector) is an exponential moving average of
// the online one whose momentum ramps from `momentum` to `momentum_final` (1) on a cosine, and it
// gets no gradient. Loss: the normalised MSE 2 - 2 cos(p, z'), symmetrised over the two views and
// averaged (so it lies in [0, 4]). The heads' normalisation (method.projector.norm,
// method.predictor.norm) is a recipe choice: without any, BYOL is expected to collapse (the seeds'
// BatchNorm experiment; see docs/methods.md).
#include "selfsup/ssl/methods/byol.h"

#include "selfsup/ssl/common.h"
#include "selfsup/ssl/losses.h"

namespace selfsup::ssl {

void ByolConfig::visit(config::Visitor& v) {
  v("momentum", momentum, "target EMA momentum at the start (BYOL: 0.996; small data: 0.99)", config::unit_interval);
  v("momentum_final", momentum_final, "momentum at the end, reached on a cosine ramp (BYOL: 1.0)", config::unit_interval);
}

void ByolConfig::validate(const Recipe& r, const RecipeCheck& check) const {
  check.views(r, 2, "byol");
  check.momentum("method.byol.momentum", momentum);
  check.momentum("method.byol.momentum_final", momentum_final);
  check_predictor_matches_projector(r, check);
}


Byol::Byol(const Recipe& recipe, int64_t in_channels) : config_(method_settings<ByolConfig>(recipe)) {
  const auto& m = method_config(recipe);
  encoder_ = register_module("encoder", models::make_backbone(recipe.model, in_channels));
  projector_ = register_module("projector", make_head(m.projector, encoder_->output_dim()));
  predictor_ = register_module("predictor", make_head(m.predictor, m.projector.out_dim));
  target_encoder_ = register_module("target_encoder", models::make_backbone(recipe.model, in_channels));
  target_projector_ = register_module("target_projector", make_head(m.projector, encoder_->output_dim()));
  momentum_ = train::MomentumBranch(config_.momentum, config_.momentum_final);
  momentum_.follow(target_encoder_, encoder_);
  momentum_.follow(target_projector_.ptr(), projector_.ptr());
}

StepOutput Byol::training_step(const data::Batch& batch, StepContext& ctx) {
  const auto& x1 = batch.views.at(0);
  const auto& x2 = batch.views.at(1);
  const auto z1 = projector_->forward(encoder_->forward(x1));
  const auto z2 = projector_->forward(encoder_->forward(x2));
  const auto p1 = predictor_->forward(z1), p2 = predictor_->forward(z2);
  torch::Tensor t1, t2;
  {
    torch::NoGradGuard no_grad;
    t1 = target_projector_->forward(target_encoder_->forward(x1));
    t2 = target_projector_->forward(target_encoder_->forward(x2));
  }
  StepOutput out{0.5 * (normalized_mse(p1, t2) + normalized_mse(p2, t1)), {}};
  out.logs["spread"] = embedding_spread(z1);
  out.logs["m"] = momentum_.momentum(ctx.progress());
  return out;
}

void Byol::after_step(StepContext& ctx) {
  // The target follows the online network after its update (official BYOL order).
  momentum_.update_at(ctx.progress());
}

}  // namespace selfsup::ssl
