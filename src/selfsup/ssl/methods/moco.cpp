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
  const double m = momentum_.update_at(ctx.progress());

  const auto& x1 = batch.views.at(0);
  const auto& x2 = batch.views.at(1);
  const auto queue = queue_->keys();  // K x D
  const auto q1 = query(x1);
  const auto k2 = key(x2, ctx.generator);
  auto loss = info_nce_queue(q1, k2, queue, config_.temperature);
  queue_->stage(k2);
  if (config_.symmetric) {
    const auto q2 = query(x2);
    const auto k1 = key(x1, ctx.generator);
    loss = 0.5 * (loss + info_nce_queue(q2, k1, queue, config_.temperature));
    queue_->stage(torch::cat({k2, k1}));
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
