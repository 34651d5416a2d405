// InvaSpread (Ye et al. 2019, "Unsupervised Embedding Learning via Invariant and Spreading
// Instance Feature"): the end-to-end predecessor of SimCLR. One encoder (backbone + a linear layer
// to a 128-d unit sphere) embeds two augmentations of each image of the batch; an image's other
// view is its positive and the other 2N-2 embeddings of the batch are its negatives. The loss is
// the paper's: the probability that an anchor is recognised as its positive instance (invariance)
// and not as any other instance (spreading) — see invariance_spread() in losses.h.
#include "selfsup/ssl/methods/invaspread.h"

#include "selfsup/ssl/common.h"
#include "selfsup/ssl/losses.h"

namespace selfsup::ssl {

void InvaSpreadConfig::visit(config::Visitor& v) {
  v("temperature", temperature, "tau of the instance softmax (paper: 0.1)", config::positive);
}

void InvaSpreadConfig::validate(const Recipe& r, const RecipeCheck& check) const {
  check.views(r, 2, "invaspread");
  check.temperature("method.invaspread.temperature", temperature);
}


InvaSpread::InvaSpread(const Recipe& recipe, int64_t in_channels) : config_(method_settings<InvaSpreadConfig>(recipe)) {
  encoder_ = register_module("encoder", models::make_backbone(recipe.model, in_channels));
  projector_ = register_module("projector", make_head(method_config(recipe).projector, encoder_->output_dim()));
}

StepOutput InvaSpread::training_step(const data::Batch& batch, StepContext&) {
  // Both views in one forward pass: BatchNorm sees the whole 2N batch, as in the paper. Several
  // processes: the loss of the global batch.
  const auto z = gather_views(
      l2_normalize(projector_->forward(encoder_->forward(torch::cat({batch.views.at(0), batch.views.at(1)})))), 2);
  const int64_t n = z.size(0) / 2;
  const auto z1 = z.narrow(0, 0, n), z2 = z.narrow(0, n, n);
  StepOutput out{invariance_spread(z1, z2, config_.temperature), {}};
  out.logs["spread"] = embedding_spread(z1);
  {
    torch::NoGradGuard no_grad;
    const auto logits = nt_xent_logits(z1, z2, config_.temperature);
    out.logs["acc"] = top1_accuracy(logits, nt_xent_targets(n, z.device()));
  }
  return out;
}

}  // namespace selfsup::ssl
