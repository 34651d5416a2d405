// MoCo v1/v2 (He et al. 2020; Chen et al. 2020): a query encoder trained by InfoNCE against a
// momentum key encoder and a FIFO queue of past keys. v1 = linear projector, tau 0.07;
// v2 = MLP projector, tau 0.2, blur in the augmentations, cosine lr (all recipe choices).
// Shuffle-BN for one process: every BatchNorm runs in `bn_splits` sub-batches (one per simulated
// GPU) and the key batch is permuted before the key encoder, so a query and its positive key never
// share BN statistics (official single-GPU CIFAR demo, lightly's SplitBatchNorm).
#include "selfsup/ssl/methods/moco.h"

#include "selfsup/models/batch_norm.h"
#include "selfsup/ssl/common.h"
#include "selfsup/ssl/losses.h"
#include "selfsup/ssl/momentum.h"
#include "selfsup/train/recipe.h"
#include "selfsup/train/schedule.h"

namespace selfsup::ssl {


Moco::Moco(const Recipe& recipe, int64_t in_channels) : config_(recipe.method.moco) {
  encoder_ = register_module("encoder", models::make_backbone(recipe.model, in_channels));
  projector_ = register_module("projector", make_head(recipe.method.projector, encoder_->output_dim()));
  key_encoder_ = register_module("key_encoder", models::make_backbone(recipe.model, in_channels));
  key_projector_ = register_module("key_projector", make_head(recipe.method.projector, encoder_->output_dim()));
  init_momentum_copy(*key_encoder_, *encoder_);
  init_momentum_copy(*key_projector_, *projector_);
  queue_ = register_module("queue", KeyQueue(config_.queue_size, recipe.method.projector.out_dim));
  if (config_.shuffle_bn) models::set_bn_splits(*this, config_.bn_splits);
}

torch::Tensor Moco::query(const torch::Tensor& x) {
  return l2_normalize(projector_->forward(encoder_->forward(x)));
}

torch::Tensor Moco::key(const torch::Tensor& x, at::Generator& gen) {
  torch::NoGradGuard no_grad;
  if (!config_.shuffle_bn) return l2_normalize(key_projector_->forward(key_encoder_->forward(x)));
  const auto perm = torch::randperm(x.size(0), gen, torch::kLong).to(x.device());
  const auto k = key_projector_->forward(key_encoder_->forward(x.index_select(0, perm)));
  return l2_normalize(k).index_select(0, torch::argsort(perm));
}

StepOutput Moco::training_step(const data::Batch& batch, StepContext& ctx) {
  // The key encoder moves before computing this step's keys, as in the official implementation.
  const double m = train::cosine_ramp(config_.momentum, config_.momentum_final, ctx.progress());
  momentum_update(*key_encoder_, *encoder_, m);
  momentum_update(*key_projector_, *projector_, m);

  const auto& x1 = batch.views.at(0);
  const auto& x2 = batch.views.at(1);
  const auto queue = queue_->keys();  // K x D
  const auto q1 = query(x1);
  const auto k2 = key(x2, ctx.generator);
  auto loss = info_nce_queue(q1, k2, queue, config_.temperature);
  pending_keys_ = k2;
  if (config_.symmetric) {
    const auto q2 = query(x2);
    const auto k1 = key(x1, ctx.generator);
    loss = 0.5 * (loss + info_nce_queue(q2, k1, queue, config_.temperature));
    pending_keys_ = torch::cat({k2, k1});
  }
  StepOutput out{loss, {}};
  out.logs["spread"] = embedding_spread(q1);
  out.logs["m"] = m;
  {
    torch::NoGradGuard no_grad;
    const auto logits = info_nce_queue_logits(q1.detach(), k2, queue, config_.temperature);
    out.logs["acc"] = logits.argmax(1).eq(0).to(torch::kFloat32).mean().item<double>();
  }
  return out;
}

void Moco::after_step(StepContext&) {
  // Enqueued after backward: the loss graph still referenced the queue's previous contents.
  if (pending_keys_.defined()) queue_->enqueue(pending_keys_);
  pending_keys_ = torch::Tensor();
}

}  // namespace selfsup::ssl
