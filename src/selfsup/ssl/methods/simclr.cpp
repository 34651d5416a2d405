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

namespace selfsup::ssl {

void SimClrConfig::visit(config::Visitor& v) {
  v("temperature", temperature, "tau of NT-Xent (SimCLR: 0.1-0.5; solo-learn CIFAR: 0.2)", config::positive);
  v("queue_size", queue_size, "SimCLR v2 memory: > 0 adds a momentum encoder whose keys are queued as extra negatives", config::non_negative);
  v("momentum", momentum, "EMA momentum of that encoder", config::unit_interval);
  v("eval_head_layers", eval_head_layers, "evaluate / fine-tune from this many projector layers on top of the backbone (SimCLR v2: 1)", config::non_negative);
}

void SimClrConfig::validate(const Recipe& r, const RecipeCheck& check) const {
  check.views(r, 2, "simclr");
  check.temperature("method.simclr.temperature", temperature);
  if (queue_size < 0 || (queue_size > 0 && queue_size < 2 * r.train.batch_size))
    check.fail("method.simclr.queue_size", "expected 0 (no memory) or at least two batches (" +
                                               std::to_string(2 * r.train.batch_size) + ")");
  check.momentum("method.simclr.momentum", momentum);
  const int64_t layers = method_config(r).projector.layers;
  if (eval_head_layers < 0 || eval_head_layers >= layers)
    check.fail("method.simclr.eval_head_layers", "expected 0 to projector.layers - 1 (" + std::to_string(layers - 1) + ")");
}


SimClr::SimClr(const Recipe& recipe, int64_t in_channels) : config_(method_settings<SimClrConfig>(recipe)) {
  encoder_ = register_module("encoder", models::make_backbone(recipe.model, in_channels));
  projector_ = register_module("projector", make_head(method_config(recipe).projector, encoder_->output_dim()));
  if (has_memory()) {
    key_encoder_ = register_module("key_encoder", models::make_backbone(recipe.model, in_channels));
    key_projector_ = register_module("key_projector", make_head(method_config(recipe).projector, encoder_->output_dim()));
    momentum_ = train::MomentumBranch(config_.momentum, config_.momentum);
    momentum_.follow(key_encoder_, encoder_);
    momentum_.follow(key_projector_.ptr(), projector_.ptr());
    queue_ = register_module("queue", KeyQueue(config_.queue_size, method_config(recipe).projector.out_dim));
  }
}

std::shared_ptr<models::Backbone> SimClr::eval_encoder() {
  if (config_.eval_head_layers == 0) return encoder_;
  return std::make_shared<HeadPrefixEncoder>(encoder_, projector_, config_.eval_head_layers);
}

StepOutput SimClr::training_step(const data::Batch& batch, StepContext&) {
  const auto x = torch::cat({batch.views.at(0), batch.views.at(1)});
  // Several processes: negatives from the global batch (the official all-gather with gradient).
  const auto z = gather_views(l2_normalize(projector_->forward(encoder_->forward(x))), 2);
  const int64_t n = z.size(0) / 2;
  const auto z1 = z.narrow(0, 0, n), z2 = z.narrow(0, n, n);
  auto logits = nt_xent_logits(z1, z2, config_.temperature);  // 2N x 2N
  if (has_memory()) {
    logits = torch::cat({logits, torch::mm(z.to(torch::kFloat32), queue_->keys().t()) / config_.temperature}, 1);
    momentum_.update(config_.momentum);
    torch::NoGradGuard no_grad;
    queue_->stage(gather_views(l2_normalize(key_projector_->forward(key_encoder_->forward(x))), 2, false));
  }
  const auto targets = nt_xent_targets(n, z.device());
  StepOutput out{torch::nn::functional::cross_entropy(logits, targets), {}};
  out.logs["spread"] = embedding_spread(z1);
  out.logs["acc"] = top1_accuracy(logits.detach(), targets);
  return out;
}

void SimClr::after_step(StepContext&) {
  if (has_memory()) queue_->commit();
}

}  // namespace selfsup::ssl
