// SimCLR (Chen et al. 2020, "A Simple Framework for Contrastive Learning of Visual
// Representations"): one encoder and a projection head embed two strong augmentations of each
// image; NT-Xent treats the other view as the positive and the other 2N-2 embeddings of the batch
// as negatives. The projection head is used for the loss only; evaluation uses the backbone.
// Both views go through the network as one 2N batch, so BatchNorm statistics are global over the
// batch (SimCLR's "global BN").
// SimCLR v2 (Chen et al. 2020, "Big Self-Supervised Models are Strong Semi-Supervised Learners"):
// - a deeper projector (recipe: method.projector.layers: 3);
// - method.simclr.eval_head_layers: 1 evaluates and fine-tunes from the projector's first layer;
// - method.simclr.queue_size > 0: a momentum copy of the encoder embeds each batch, and its
//   embeddings are queued as extra negatives (the MoCo-style memory of v2, section 2).
#include "selfsup/ssl/methods/simclr.h"

#include "selfsup/ssl/common.h"
#include "selfsup/ssl/losses.h"
#include "selfsup/ssl/momentum.h"

namespace selfsup::ssl {

SimClr::SimClr(const Recipe& recipe, int64_t in_channels) : config_(recipe.method.simclr) {
  encoder_ = register_module("encoder", models::make_backbone(recipe.model, in_channels));
  projector_ = register_module("projector", make_head(recipe.method.projector, encoder_->output_dim()));
  if (has_memory()) {
    key_encoder_ = register_module("key_encoder", models::make_backbone(recipe.model, in_channels));
    key_projector_ = register_module("key_projector", make_head(recipe.method.projector, encoder_->output_dim()));
    init_momentum_copy(*key_encoder_, *encoder_);
    init_momentum_copy(*key_projector_, *projector_);
    queue_ = register_module("queue", KeyQueue(config_.queue_size, recipe.method.projector.out_dim));
  }
}

std::shared_ptr<models::Backbone> SimClr::eval_encoder() {
  if (config_.eval_head_layers == 0) return encoder_;
  return std::make_shared<HeadPrefixEncoder>(encoder_, projector_, config_.eval_head_layers);
}

StepOutput SimClr::training_step(const data::Batch& batch, StepContext&) {
  const auto x = torch::cat({batch.views.at(0), batch.views.at(1)});
  const int64_t n = batch.views.at(0).size(0);
  const auto z = l2_normalize(projector_->forward(encoder_->forward(x)));
  const auto z1 = z.narrow(0, 0, n), z2 = z.narrow(0, n, n);
  auto logits = nt_xent_logits(z1, z2, config_.temperature);  // 2N x 2N
  if (has_memory()) {
    logits = torch::cat({logits, torch::mm(z.to(torch::kFloat32), queue_->keys().t()) / config_.temperature}, 1);
    momentum_update(*key_encoder_, *encoder_, config_.momentum);
    momentum_update(*key_projector_, *projector_, config_.momentum);
    torch::NoGradGuard no_grad;
    pending_keys_ = l2_normalize(key_projector_->forward(key_encoder_->forward(x)));
  }
  const auto targets = nt_xent_targets(n, z.device());
  StepOutput out{torch::nn::functional::cross_entropy(logits, targets), {}};
  out.logs["spread"] = embedding_spread(z1);
  out.logs["acc"] = logits.detach().argmax(1).eq(targets).to(torch::kFloat32).mean().item<double>();
  return out;
}

void SimClr::after_step(StepContext&) {
  if (pending_keys_.defined()) queue_->enqueue(pending_keys_);
  pending_keys_ = torch::Tensor();
}

}  // namespace selfsup::ssl
