// Barlow Twins (Zbontar et al. 2021, "Self-Supervised Learning via Redundancy Reduction"): the
// same encoder + projector embed both views; each view's embeddings are standardised over the
// batch and their D x D cross-correlation is pushed to the identity: diagonal -> 1 (invariance),
// off-diagonal -> 0 weighted by lambda (redundancy reduction). No negatives, no momentum network,
// no predictor; a wide projector helps (the paper: 8192-8192-8192).
#include "selfsup/ssl/methods/barlow_twins.h"

#include "selfsup/core/distributed.h"
#include "selfsup/ssl/common.h"
#include "selfsup/ssl/losses.h"

namespace selfsup::ssl {

void BarlowConfig::visit(config::Visitor& v) {
  v("lambda", lambda, "weight of the off-diagonal terms (paper: 0.0051)", config::non_negative);
  v("scale_loss", scale_loss, "multiplies the whole loss (solo-learn: 0.1 at 2048 dims)", config::positive);
}

void BarlowConfig::validate(const Recipe& r, const RecipeCheck& check) const {
  check.views(r, 2, "barlow_twins");
  if (lambda < 0) check.fail("method.barlow.lambda", "expected a value >= 0");
}


BarlowTwins::BarlowTwins(const Recipe& recipe, int64_t in_channels) : config_(method_settings<BarlowConfig>(recipe)) {
  encoder_ = register_module("encoder", models::make_backbone(recipe.model, in_channels));
  projector_ = register_module("projector", make_head(method_config(recipe).projector, encoder_->output_dim()));
}

StepOutput BarlowTwins::training_step(const data::Batch& batch, StepContext&) {
  // Several processes: the cross-correlation (and its batch normalisation) of the global batch.
  const auto z1 = dist::gather_batch_with_grad(projector_->forward(encoder_->forward(batch.views.at(0))));
  const auto z2 = dist::gather_batch_with_grad(projector_->forward(encoder_->forward(batch.views.at(1))));
  StepOutput out{config_.scale_loss * barlow_twins(z1, z2, config_.lambda), {}};
  out.logs["spread"] = embedding_spread(z1);
  return out;
}

}  // namespace selfsup::ssl
