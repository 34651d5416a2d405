// InstDisc (Wu et al. 2018, "Unsupervised Feature Learning via Non-Parametric Instance
// Discrimination"): every training image is its own class. One augmented view per image is
// embedded (backbone + linear projection to 128-d, L2-normalised); the classifier weights are the
// memory bank's entries, one per image, so the "class" of image i is scored by v_i.f/tau.
// - negatives > 0: NCE with that many noise entries drawn uniformly from the bank; the partition
//   function Z is estimated from the first batch (n * mean exp(score)) and then kept fixed, as in
//   the authors' code (lemniscate.pytorch NCEAverage), or, with z_momentum > 0, tracked as a
//   moving average of the per-batch estimate.
// - negatives = 0: the plain non-parametric softmax over all n entries.
// - proximal > 0: + lambda * ||f_i - v_i||^2, the paper's proximal regularisation (section 3.3).
// After each step the batch's entries move toward the new features: v_i <- norm(m v_i + (1-m) f_i);
// an image's first visit writes its feature into the bank (instead of leaving a random vector as
// the target). docs/methods.md explains both departures from the authors' code.
#include "selfsup/ssl/methods/instdisc.h"

#include <cmath>
#include <limits>

#include "selfsup/core/error.h"
#include "selfsup/core/distributed.h"
#include "selfsup/ssl/common.h"
#include "selfsup/ssl/losses.h"

namespace selfsup::ssl {

void InstDiscConfig::visit(config::Visitor& v) {
  v("negatives", negatives, "NCE noise samples drawn from the memory bank per image (0 = full softmax over the bank)", config::non_negative);
  v("temperature", temperature, "tau of the bank scores v.f/tau (paper: 0.07)", config::positive);
  v("bank_momentum", bank_momentum, "m of the bank update v <- norm(m v + (1-m) f) (authors' code: 0.5)", config::unit_interval);
  v("proximal", proximal, "lambda of the proximal term lambda ||f - v||^2 (0 = off)", config::non_negative);
  v("z_momentum", z_momentum, "NCE normalisation constant Z: 0 = estimated on the first batch and fixed (authors' code), m > 0 = moving average with momentum m of the per-batch estimate", config::probability);
}

void InstDiscConfig::validate(const Recipe& r, const RecipeCheck& check) const {
  check.views(r, 1, "instdisc");
  if (negatives < 0) check.fail("method.instdisc.negatives", "expected 0 (full softmax) or a positive count");
  check.temperature("method.instdisc.temperature", temperature);
  check.momentum("method.instdisc.bank_momentum", bank_momentum);
  if (proximal < 0) check.fail("method.instdisc.proximal", "expected a value >= 0");
  if (z_momentum < 0 || z_momentum >= 1) check.fail("method.instdisc.z_momentum", "expected a value in [0, 1)");
}


InstDisc::InstDisc(const Recipe& recipe, int64_t in_channels, int64_t train_images)
    : config_(method_settings<InstDiscConfig>(recipe)) {
  if (train_images <= 0) throw Error("instdisc: the memory bank needs the number of training images");
  if (config_.negatives >= train_images)
    throw Error("method.instdisc.negatives: " + std::to_string(config_.negatives) +
                " noise samples need more than that many training images (have " + std::to_string(train_images) + ")");
  encoder_ = register_module("encoder", models::make_backbone(recipe.model, in_channels));
  projector_ = register_module("projector", make_head(method_config(recipe).projector, encoder_->output_dim()));
  bank_ = register_module("bank", MemoryBank(train_images, method_config(recipe).projector.out_dim));
  visited_ = register_buffer("visited", torch::zeros({train_images}, torch::kBool));
  log_z_ = register_buffer("log_z", torch::full({}, std::numeric_limits<double>::quiet_NaN(), torch::kFloat64));
}

torch::Tensor InstDisc::embed(const torch::Tensor& x) { return l2_normalize(projector_->forward(encoder_->forward(x))); }

StepOutput InstDisc::training_step(const data::Batch& batch, StepContext& ctx) {
  const auto f = embed(batch.views.at(0)).to(torch::kFloat32);  // N x D; fp32 scores, see below
  const auto idx = batch.indices.to(f.device());
  // Several processes: every bank update covers the global batch, so the banks stay identical.
  const auto all_idx = dist::gather_batch(idx);
  const auto all_f = dist::gather_batch(f.detach());
  {
    // An image seen for the first time gets its current feature as its entry, rather than
    // keeping a random vector as the target it must learn to match.
    torch::NoGradGuard no_grad;
    const auto fresh = visited_.index_select(0, all_idx).logical_not();
    if (fresh.any().item<bool>()) {
      bank_->update(all_idx.masked_select(fresh), all_f.index({fresh}), 0.0);
      visited_.index_fill_(0, all_idx, true);
    }
  }
  const auto& memory = bank_->features();  // no gradient: a buffer
  const auto own = memory.index_select(0, idx);
  const double tau = config_.temperature;
  // Scores in fp32 even under bf16 autocast (precision auto on CPUs with AMX): NCE compares
  // exp(score) with a fixed Z, and with bf16 products the positive beat its negatives no more often
  // than chance (MethodLearns test); the memory bank holds fp32 features anyway.
  c10::impl::ExcludeDispatchKeyGuard fp32_scores(
      c10::DispatchKeySet({c10::DispatchKey::AutocastCPU, c10::DispatchKey::AutocastCUDA}));
  StepOutput out;
  if (config_.negatives == 0) {
    const auto logits = torch::mm(f, memory.t()) / tau;  // N x n
    out.loss = torch::nn::functional::cross_entropy(logits, idx);
    out.logs["acc"] = top1_accuracy(logits.detach(), idx);
  } else {
    // One set of K noise entries shared by the batch: a (K x D) gather and one matrix product
    // instead of N x K x D, with every sample's noise still drawn uniformly from the bank.
    const auto noise = memory.index_select(0, bank_->sample(1, config_.negatives, ctx.generator).flatten());
    const auto positive = (f * own).sum(1) / tau;             // N
    const auto negative = torch::mm(f, noise.t()) / tau;      // N x K
    update_log_z(dist::gather_batch(torch::cat({positive.unsqueeze(1), negative}, 1).detach()));
    out.loss = nce_loss(positive, negative, log_z(), bank_->size());
    out.logs["acc"] = (positive.detach().unsqueeze(1) > negative.detach()).all(1).to(torch::kFloat32).mean().item<double>();
  }
  if (config_.proximal > 0) out.loss = out.loss + config_.proximal * (f - own).pow(2).sum(1).mean();
  out.logs["spread"] = embedding_spread(f);
  pending_indices_ = all_idx;
  pending_features_ = all_f;
  return out;
}

void InstDisc::update_log_z(const torch::Tensor& scores) {
  // This batch's estimate: Z = n * mean exp(score).
  const double n = static_cast<double>(bank_->size()), count = static_cast<double>(scores.numel());
  const double batch_log_z = std::log(n) + torch::logsumexp(scores.flatten(), 0).item<double>() - std::log(count);
  if (std::isnan(log_z())) {
    log_z_.fill_(batch_log_z);  // the first batch sets Z
  } else if (config_.z_momentum > 0) {
    const double m = config_.z_momentum;
    log_z_.fill_(std::log(m * std::exp(log_z()) + (1 - m) * std::exp(batch_log_z)));
  }
}

void InstDisc::after_step(StepContext&) {
  if (pending_indices_.defined()) bank_->update(pending_indices_, pending_features_, config_.bank_momentum);
  pending_indices_ = pending_features_ = torch::Tensor();
}

}  // namespace selfsup::ssl
