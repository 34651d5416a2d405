// SwAV (Caron et al. 2020, "Unsupervised Learning of Visual Features by Contrasting Cluster
// Assignments"): no pairwise comparison. Every crop's L2-normalised embedding z is scored against K
// prototypes (unit vectors, renormalised at the start of every step). For each of the two global
// crops, Sinkhorn-Knopp turns the batch's scores into codes q that spread the batch evenly over
// the prototypes (sinkhorn_knopp, fp32); each code is then predicted from every *other* crop
// (swapped prediction, cross_view_cross_entropy with temperature tau):
//   L = mean_{g in {1,2}} mean_{v != g} mean_n [ -sum_k q_g(k) log softmax(z_v . c / tau)(k) ]
// Optional queue: from `queue_start_epoch` the embeddings of past batches are kept per global crop
// and, once the queue is full, added to the batch whose codes Sinkhorn computes (with small batches
// the equal partition over K is otherwise too coarse). The prototypes get no update during the first
// `freeze_prototypes_steps` steps. Uniform collapse shows as a loss at ln K and `uniformity` (mean
// entropy of the predictions / ln K) near 1.
#include "selfsup/ssl/methods/swav.h"

#include "selfsup/ssl/common.h"
#include "selfsup/ssl/losses.h"

#include <cmath>

namespace selfsup::ssl {

void SwavConfig::visit(config::Visitor& v) {
  v("prototypes", prototypes, "K, the number of prototypes (official: 3000 ImageNet; lightly CIFAR: 512)", config::at_least(2));
  v("temperature", temperature, "softmax temperature of the swapped prediction (0.1)", config::positive);
  v("epsilon", epsilon, "Sinkhorn entropy regularisation (0.05; lower it, e.g. 0.03, if the loss stalls at ln K)", config::positive);
  v("sinkhorn_iterations", sinkhorn_iterations, "Sinkhorn-Knopp normalisation rounds (3)", config::at_least_one);
  v("queue_size", queue_size, "embeddings of past batches kept per global crop and added to the assignment batch (0 = none; official: 3840)", config::non_negative);
  v("queue_start_epoch", queue_start_epoch, "epoch (0-based) from which the queue is filled; it is used once full", config::non_negative);
  v("freeze_prototypes_steps", freeze_prototypes_steps, "the prototypes get no update during the first N steps (official: 5005)", config::non_negative);
}

void SwavConfig::validate(const Recipe& r, const RecipeCheck& check) const {
  if (augment::count_views(r.augment.views) < 2)
    check.fail("augment.views", "swav needs at least the two global crops (then any local crops)");
  if (prototypes < 2) check.fail("method.swav.prototypes", "expected at least 2");
  check.temperature("method.swav.temperature", temperature);
  if (epsilon <= 0) check.fail("method.swav.epsilon", "expected a positive value");
  if (sinkhorn_iterations < 1) check.fail("method.swav.sinkhorn_iterations", "expected at least 1");
  if (queue_size < 0 || (queue_size > 0 && queue_size % r.train.batch_size != 0))
    check.fail("method.swav.queue_size", "expected 0 or a positive multiple of train.batch_size (" +
                                             std::to_string(r.train.batch_size) + ")");
  if (queue_start_epoch < 0 || freeze_prototypes_steps < 0)
    check.fail("method.swav", "expected queue_start_epoch and freeze_prototypes_steps >= 0");
}


Swav::Swav(const Recipe& recipe, int64_t in_channels) : config_(method_settings<SwavConfig>(recipe)) {
  encoder_ = register_module("encoder", models::make_backbone(recipe.model, in_channels));
  projector_ = register_module("projector", make_head(method_config(recipe).projector, encoder_->output_dim()));
  const int64_t d = method_config(recipe).projector.out_dim;
  prototypes_ = register_parameter("prototypes", l2_normalize(torch::randn({config_.prototypes, d})));
  queue_ = register_buffer("queue", torch::zeros({2, config_.queue_size, d}));
}

StepOutput Swav::training_step(const data::Batch& batch, StepContext& ctx) {
  {
    torch::NoGradGuard no_grad;
    prototypes_.copy_(l2_normalize(prototypes_));
  }
  const auto& views = batch.views;
  const auto c = ctx.global_step < config_.freeze_prototypes_steps ? prototypes_.detach() : prototypes_;
  // Several processes: the global batch, so the Sinkhorn normalisation and the queue see all of it.
  const auto z = gather_views(
      l2_normalize(forward_multicrop([&](const torch::Tensor& x) { return projector_->forward(encoder_->forward(x)); }, views)),
      static_cast<int64_t>(views.size()));  // (V*N) x D
  const int64_t n = z.size(0) / static_cast<int64_t>(views.size());
  const auto scores = torch::mm(z, c.t());              // (V*N) x K
  std::vector<torch::Tensor> codes;
  {
    torch::NoGradGuard no_grad;
    const bool queue_on = config_.queue_size > 0 && ctx.epoch >= config_.queue_start_epoch;
    for (int64_t g = 0; g < 2; ++g) {
      auto s = scores.slice(0, g * n, (g + 1) * n).detach();
      const bool queue_full = queue_on && queue_[g][-1].abs().sum().item<double>() > 0;
      if (queue_full) s = torch::cat({torch::mm(queue_[g], prototypes_.t()), s});
      codes.push_back(sinkhorn_knopp(s, config_.epsilon, config_.sinkhorn_iterations).slice(0, -n));
      if (queue_on) {  // newest first, as the official code (the size is a multiple of the batch)
        queue_[g].slice(0, n).copy_(queue_[g].slice(0, 0, config_.queue_size - n).clone());
        queue_[g].slice(0, 0, n).copy_(z.slice(0, g * n, (g + 1) * n).detach());
      }
    }
  }
  StepOutput out{cross_view_cross_entropy(scores, torch::cat(codes), static_cast<int64_t>(views.size()), config_.temperature), {}};
  {
    torch::NoGradGuard no_grad;
    const auto p = torch::softmax(scores.slice(0, 0, n) / config_.temperature, 1);
    out.logs["uniformity"] = -(p * p.clamp_min(1e-12).log()).sum(1).mean().item<double>() /
                             std::log(static_cast<double>(config_.prototypes));
  }
  out.logs["spread"] = embedding_spread(z.slice(0, 0, n));
  return out;
}

}  // namespace selfsup::ssl
