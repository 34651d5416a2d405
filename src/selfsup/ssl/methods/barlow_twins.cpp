// Barlow Twins (Zbontar et al. 2021, "Self-Supervised Learning via Redundancy Reduction"): the
// same encoder + projector embed both views; each view's embeddings are standardised over the
// batch and their D x D cross-correlation is pushed to the identity: diagonal -> 1 (invariance),
// off-diagonal -> 0 weighted by lambda (redundancy reduction). No negatives, no momentum network,
// no predictor; a wide projector helps (the paper: 8192-8192-8192).
#include "selfsup/ssl/methods/barlow_twins.h"

#include "selfsup/ssl/common.h"
#include "selfsup/ssl/losses.h"

namespace selfsup::ssl {

BarlowTwins::BarlowTwins(const Recipe& recipe, int64_t in_channels) : config_(recipe.method.barlow) {
  encoder_ = register_module("encoder", models::make_backbone(recipe.model, in_channels));
  projector_ = register_module("projector", make_head(recipe.method.projector, encoder_->output_dim()));
}

StepOutput BarlowTwins::training_step(const data::Batch& batch, StepContext&) {
  const auto z1 = projector_->forward(encoder_->forward(batch.views.at(0)));
  const auto z2 = projector_->forward(encoder_->forward(batch.views.at(1)));
  StepOutput out{config_.scale_loss * barlow_twins(z1, z2, config_.lambda), {}};
  out.logs["spread"] = embedding_spread(z1);
  return out;
}

}  // namespace selfsup::ssl
