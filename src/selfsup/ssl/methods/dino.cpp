// DINO (Caron et al. 2021, "Emerging Properties in Self-Supervised Vision Transformers"):
// self-distillation without labels. The student (backbone -> DINO head) sees every crop, the
// teacher (an EMA of the student, momentum on a cosine ramp to 1) only the two global crops. The
// teacher's logits are centred (minus an EMA of their batch mean: no prototype may dominate) and
// sharpened (temperature 0.04-0.07 below the student's 0.1: the output may not go uniform); the
// student's distribution of every other crop is trained toward them (ssl::cross_view_cross_entropy). The
// prototypes (the head's last layer) are not updated during the first epoch(s).
// Uniform collapse shows as a loss stuck at ln K and a teacher entropy of ln K: `t_entropy` and
// `uniformity` (= t_entropy / ln K; the trainer warns above 0.985) are logged.
#include "selfsup/ssl/methods/dino.h"

#include "selfsup/ssl/common.h"
#include "selfsup/ssl/losses.h"
#include "selfsup/ssl/momentum.h"
#include "selfsup/train/schedule.h"

#include <cmath>

namespace selfsup::ssl {

namespace {

models::DinoHead make_dino_head(const DinoConfig& c, int64_t in_dim) {
  return models::DinoHead(models::DinoHeadOptions(in_dim, c.out_dim)
                              .hidden_dim(c.hidden_dim)
                              .bottleneck_dim(c.bottleneck_dim)
                              .layers(c.head_layers)
                              .batch_norm(c.head_batch_norm)
                              .norm_last_layer(c.norm_last_layer));
}

}  // namespace

Dino::Dino(const Recipe& recipe, int64_t in_channels) : config_(recipe.method.dino) {
  encoder_ = register_module("encoder", models::make_backbone(recipe.model, in_channels));
  head_ = register_module("head", make_dino_head(config_, encoder_->output_dim()));
  teacher_encoder_ = register_module("teacher_encoder", models::make_backbone(recipe.model, in_channels));
  teacher_head_ = register_module("teacher_head", make_dino_head(config_, encoder_->output_dim()));
  init_momentum_copy(*teacher_encoder_, *encoder_);
  init_momentum_copy(*teacher_head_, *head_);
  center_ = register_buffer("center", torch::zeros({1, config_.out_dim}));
}

double Dino::teacher_temperature(int64_t epoch) const {
  const int64_t w = config_.teacher_warmup_epochs;
  if (epoch >= w) return config_.teacher_temperature;
  const double f = w > 1 ? static_cast<double>(epoch) / static_cast<double>(w - 1) : 0.0;  // np.linspace
  return config_.teacher_temperature_start + f * (config_.teacher_temperature - config_.teacher_temperature_start);
}

StepOutput Dino::training_step(const data::Batch& batch, StepContext& ctx) {
  const auto& views = batch.views;
  const int64_t n = views.at(0).size(0);
  const bool freeze_prototypes = ctx.epoch < config_.freeze_last_layer_epochs;
  torch::Tensor first_view;  // the student's bottleneck embeddings of view 1, for the collapse signal
  const auto student = forward_multicrop(
      [&](const torch::Tensor& x) {
        const auto z = head_->bottleneck(encoder_->forward(x));
        if (!first_view.defined()) first_view = z.slice(0, 0, n);
        return head_->prototypes(z, freeze_prototypes);
      },
      views);
  torch::Tensor teacher_logits, teacher;
  const double t = teacher_temperature(ctx.epoch);
  {
    torch::NoGradGuard no_grad;
    teacher_logits = forward_multicrop([&](const torch::Tensor& x) { return teacher_head_->forward(teacher_encoder_->forward(x)); },
                                       {views.at(0), views.at(1)});  // 2N x K
    teacher = dino_teacher_probs(teacher_logits, center_, t);
  }
  StepOutput out{cross_view_cross_entropy(student, teacher, static_cast<int64_t>(views.size()), config_.student_temperature), {}};
  {
    torch::NoGradGuard no_grad;
    center_.mul_(config_.center_momentum).add_(teacher_logits.mean(0, /*keepdim=*/true), 1 - config_.center_momentum);
    out.logs["t_entropy"] = -(teacher * teacher.clamp_min(1e-12).log()).sum(1).mean().item<double>();
    out.logs["uniformity"] = out.logs["t_entropy"] / std::log(static_cast<double>(config_.out_dim));
  }
  out.logs["spread"] = embedding_spread(first_view);
  out.logs["t_temp"] = t;
  out.logs["m"] = train::cosine_ramp(config_.momentum, config_.momentum_final, ctx.progress());
  return out;
}

void Dino::after_step(StepContext& ctx) {
  const double m = train::cosine_ramp(config_.momentum, config_.momentum_final, ctx.progress());
  momentum_update(*teacher_encoder_, *encoder_, m);
  momentum_update(*teacher_head_, *head_, m);
}

}  // namespace selfsup::ssl
