// MoCo v1/v2 (He et al. 2020; Chen et al. 2020): a query encoder trained by InfoNCE against a
// momentum key encoder and a FIFO queue of past keys. v1 = linear projector, tau 0.07;
// v2 = MLP projector, tau 0.2, blur in the augmentations, cosine lr (all recipe choices).
// Shuffle-BN: every BatchNorm runs in `bn_splits` groups of the global batch (one per GPU of the
// official 8-GPU setup) and the key batch is permuted before the key encoder, so a query and its
// positive key never share BN statistics. One process simulates the groups (official single-GPU
// CIFAR demo, lightly's SplitBatchNorm); with several processes each holds bn_splits / W of them,
// and the key batch is gathered from all of them, shuffled with a permutation every process draws
// alike, encoded in parts and un-shuffled (the official cross-GPU shuffle). The groups coincide with
// the simulation's, so W processes train as one process with the same bn_splits.
#include "selfsup/ssl/methods/moco.h"

#include "selfsup/core/distributed.h"
#include "selfsup/core/error.h"
#include "selfsup/models/batch_norm.h"
#include "selfsup/ssl/common.h"
#include "selfsup/ssl/losses.h"

namespace selfsup::ssl {

void MocoConfig::visit(config::Visitor& v) {
  v("queue_size", queue_size, "K, keys in the FIFO dictionary (a multiple of the batch size)", config::at_least_one);
  v("temperature", temperature, "tau of the InfoNCE softmax (v1: 0.07, v2: 0.2)", config::positive);
  v("momentum", momentum, "m of the key encoder EMA at the start of training", config::unit_interval);
  v("momentum_final", momentum_final, "m at the end; values above `momentum` ramp on a cosine (MoCo v3 style)", config::unit_interval);
  v("symmetric", symmetric, "also swap the views and average the two losses (MoCo CIFAR demo: +2-3% kNN)");
  v("shuffle_bn", shuffle_bn, "shuffle the key batch across BN splits so BN cannot leak the positive pair");
  v("bn_splits", bn_splits, "BatchNorm sub-batches simulating that many GPUs (1 = ordinary BN)", config::at_least_one);
}

void MocoConfig::validate(const Recipe& r, const RecipeCheck& check) const {
  check.views(r, 2, "moco");
  const int64_t batch = r.train.batch_size;
  if (queue_size <= 0 || queue_size % batch != 0)
    check.fail("method.moco.queue_size", "expected a positive multiple of train.batch_size (" + std::to_string(batch) + ")");
  if (bn_splits <= 0 || batch % bn_splits != 0) check.fail("method.moco.bn_splits", "expected a divisor of train.batch_size");
  check.momentum("method.moco.momentum", momentum);
  check.momentum("method.moco.momentum_final", momentum_final);
  check.temperature("method.moco.temperature", temperature);
  if (shuffle_bn && r.model.sync_bn)
    check.fail("method.moco.shuffle_bn", "needs BatchNorm statistics per group, which model.sync_bn shares: turn one of them off");
}



Moco::Moco(const Recipe& recipe, int64_t in_channels) : config_(method_settings<MocoConfig>(recipe)) {
  encoder_ = register_module("encoder", models::make_backbone(recipe.model, in_channels));
  projector_ = register_module("projector", make_head(method_config(recipe).projector, encoder_->output_dim()));
  key_encoder_ = register_module("key_encoder", models::make_backbone(recipe.model, in_channels));
  key_projector_ = register_module("key_projector", make_head(method_config(recipe).projector, encoder_->output_dim()));
  momentum_ = train::MomentumBranch(config_.momentum, config_.momentum_final);
  momentum_.follow(key_encoder_, encoder_);
  momentum_.follow(key_projector_.ptr(), projector_.ptr());
  queue_ = register_module("queue", KeyQueue(config_.queue_size, method_config(recipe).projector.out_dim));
  if (config_.shuffle_bn) {
    const int64_t processes = dist::world_size();
    if (config_.bn_splits % processes != 0)
      throw Error("method.moco.bn_splits: " + std::to_string(config_.bn_splits) + " BatchNorm groups cannot be shared by " +
                  std::to_string(processes) + " processes: expected a multiple of the process count");
    models::set_bn_splits(*this, config_.bn_splits / processes);
  }
}

torch::Tensor Moco::query(const torch::Tensor& x) {
  return l2_normalize(projector_->forward(encoder_->forward(x)));
}

torch::Tensor Moco::key(const torch::Tensor& x, at::Generator& gen) {
  torch::NoGradGuard no_grad;
  if (!config_.shuffle_bn) return l2_normalize(key_projector_->forward(key_encoder_->forward(x)));
  const auto all = dist::gather_batch(x);  // x itself in one process
  const auto perm = torch::randperm(all.size(0), gen, torch::kLong).to(x.device());
  const auto k = l2_normalize(key_projector_->forward(key_encoder_->forward(dist::local_part(all.index_select(0, perm)))));
  return dist::local_part(dist::gather_batch(k).index_select(0, torch::argsort(perm)));
}

StepOutput Moco::training_step(const data::Batch& batch, StepContext& ctx) {
  // The key encoder moves before computing this step's keys, as in the official implementation.
  const double m = momentum_.update_at(ctx.progress());

  const auto& x1 = batch.views.at(0);
  const auto& x2 = batch.views.at(1);
  const auto queue = queue_->keys();  // K x D
  const auto q1 = query(x1);
  const auto k2 = key(x2, ctx.generator);
  auto loss = info_nce_queue(q1, k2, queue, config_.temperature);
  // The keys of the global batch join the queue, in the same order on every process.
  queue_->stage(dist::gather_batch(k2));
  if (config_.symmetric) {
    const auto q2 = query(x2);
    const auto k1 = key(x1, ctx.generator);
    loss = 0.5 * (loss + info_nce_queue(q2, k1, queue, config_.temperature));
    queue_->stage(torch::cat({dist::gather_batch(k2), dist::gather_batch(k1)}));
  }
  StepOutput out{loss, {}};
  out.logs["spread"] = embedding_spread(q1);
  out.logs["m"] = m;
  {
    torch::NoGradGuard no_grad;
    const auto logits = info_nce_queue_logits(q1.detach(), k2, queue, config_.temperature);
    out.logs["acc"] = top1_accuracy(logits, torch::zeros({logits.size(0)}, logits.options().dtype(torch::kLong)));  // positive at 0
  }
  return out;
}

void Moco::after_step(StepContext&) {
  // Enqueued after backward: the loss graph still referenced the queue's previous contents.
  queue_->commit();
}

}  // namespace selfsup::ssl
