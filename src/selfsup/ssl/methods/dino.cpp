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
#include "selfsup/train/schedule.h"

#include <cmath>

namespace selfsup::ssl {

void DinoConfig::visit(config::Visitor& v) {
  v("out_dim", out_dim, "K, the number of prototypes the head outputs logits for (official: 65536 ViT, lightly CIFAR: 2048)", config::at_least_one);
  v("hidden_dim", hidden_dim, "hidden width of the head's MLP", config::at_least_one);
  v("bottleneck_dim", bottleneck_dim, "width of the L2-normalised bottleneck before the prototypes", config::at_least_one);
  v("head_layers", head_layers, "Linear layers of the head's MLP (GELU between)", config::at_least_one);
  v("head_batch_norm", head_batch_norm, "BatchNorm after each hidden Linear of the head (official: off)");
  v("norm_last_layer", norm_last_layer, "keep the prototypes at unit norm (official default; more stable)");
  v("freeze_last_layer_epochs", freeze_last_layer_epochs, "the prototypes get no update during the first N epochs", config::non_negative);
  v("student_temperature", student_temperature, "student softmax temperature (0.1)", config::positive);
  v("teacher_temperature_start", teacher_temperature_start, "teacher temperature at epoch 0 (0.04)", config::positive);
  v("teacher_temperature", teacher_temperature, "teacher temperature after the warm-up (<= 0.07; sharpening)", config::positive);
  v("teacher_warmup_epochs", teacher_warmup_epochs, "epochs of the linear teacher-temperature warm-up (official ViT-S: 30)", config::non_negative);
  v("center_momentum", center_momentum, "EMA momentum of the centre subtracted from the teacher's logits (0.9)", config::probability);
  v("momentum", momentum, "teacher EMA momentum at the start (official 0.996; 0.9995 at batch 256 on ImageNet)", config::unit_interval);
  v("momentum_final", momentum_final, "teacher momentum at the end, reached on a cosine ramp (1)", config::unit_interval);
}

void DinoConfig::validate(const Recipe& r, const RecipeCheck& check) const {
  if (augment::count_views(r.augment.views) < 2)
    check.fail("augment.views", "dino needs at least the two global crops (then any local crops)");
  std::vector<int64_t> sizes;  // crop size of each view, repeats expanded
  for (const auto& view : r.augment.views) sizes.insert(sizes.end(), view.repeat, view.crop.size);
  if (sizes.size() >= 2 && sizes[0] != sizes[1])
    check.fail("augment.views", "dino: the two global crops (the first two views) must have the same size");
  if (out_dim < 1 || hidden_dim < 1 || bottleneck_dim < 1 || head_layers < 1)
    check.fail("method.dino", "expected positive out_dim, hidden_dim, bottleneck_dim and head_layers");
  check.temperature("method.dino.student_temperature", student_temperature);
  check.temperature("method.dino.teacher_temperature", teacher_temperature);
  check.temperature("method.dino.teacher_temperature_start", teacher_temperature_start);
  if (teacher_warmup_epochs < 0 || freeze_last_layer_epochs < 0)
    check.fail("method.dino", "expected teacher_warmup_epochs and freeze_last_layer_epochs >= 0");
  if (center_momentum < 0 || center_momentum >= 1) check.fail("method.dino.center_momentum", "expected a value in [0, 1)");
  check.momentum("method.dino.momentum", momentum);
  check.momentum("method.dino.momentum_final", momentum_final);
}


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

Dino::Dino(const Recipe& recipe, int64_t in_channels) : config_(method_settings<DinoConfig>(recipe)) {
  encoder_ = register_module("encoder", models::make_backbone(recipe.model, in_channels));
  head_ = register_module("head", make_dino_head(config_, encoder_->output_dim()));
  teacher_encoder_ = register_module("teacher_encoder", models::make_backbone(recipe.model, in_channels));
  teacher_head_ = register_module("teacher_head", make_dino_head(config_, encoder_->output_dim()));
  momentum_ = train::MomentumBranch(config_.momentum, config_.momentum_final);
  momentum_.follow(teacher_encoder_, encoder_);
  momentum_.follow(teacher_head_.ptr(), head_.ptr());
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
    // Several processes: the mean over the global batch, so the centre stays the same everywhere.
    const auto batch_mean = gather_views(teacher_logits, 2, false).mean(0, /*keepdim=*/true);
    center_.mul_(config_.center_momentum).add_(batch_mean, 1 - config_.center_momentum);
    out.logs["t_entropy"] = -(teacher * teacher.clamp_min(1e-12).log()).sum(1).mean().item<double>();
    out.logs["uniformity"] = out.logs["t_entropy"] / std::log(static_cast<double>(config_.out_dim));
  }
  out.logs["spread"] = embedding_spread(first_view);
  out.logs["t_temp"] = t;
  out.logs["m"] = momentum_.momentum(ctx.progress());
  return out;
}

void Dino::after_step(StepContext& ctx) {
  momentum_.update_at(ctx.progress());
}

}  // namespace selfsup::ssl
