#include "selfsup/diffusion/model.h"

#include <algorithm>

#include "selfsup/core/distributed.h"
#include "selfsup/core/tensor.h"
#include "selfsup/models/registry.h"

namespace selfsup::diffusion {

namespace {

// Uniform timesteps and Gaussian noise for a batch, from the step's generator (CPU), on x0's device.
// Several processes draw for the global batch and keep their part (core/distributed.h): the same
// draws as one process, and no two processes reuse one noise image.
std::pair<torch::Tensor, torch::Tensor> draw_noise(const torch::Tensor& x0, int64_t T, at::Generator& gen) {
  auto global = x0.sizes().vec();
  global[0] *= dist::world_size();
  const auto t = dist::local_part(torch::randint(0, T, {global[0]}, gen, torch::kLong));
  const auto noise = dist::local_part(torch::randn(global, gen, torch::kFloat));
  return {t.to(x0.device()), noise.to(x0.device())};
}

}  // namespace

NoiseSchedule make_schedule(const DiffusionConfig& c) {
  return NoiseSchedule::make(c.schedule, c.timesteps, c.beta_start, c.beta_end);
}

DiffusionModel::DiffusionModel(const DiffusionConfig& c, int64_t channels_, int64_t side, int64_t classes)
    : config(c), schedule(make_schedule(c)), channels(channels_), image_side(side), num_classes(classes) {
  net = register_module("net", models::UNet(c.unet, channels, side, classes));
  ema = register_module("ema", models::UNet(c.unet, channels, side, classes));
  ema_branch_.follow(ema.ptr(), net.ptr());
}

train::StepOutput DiffusionModel::training_step(const data::Batch& batch, train::StepContext& ctx) {
  const auto& x0 = batch.views.at(0);
  auto [t, noise] = draw_noise(x0, schedule.steps, ctx.generator);
  const auto dropped = dist::local_part(torch::rand({x0.size(0) * dist::world_size()}, ctx.generator)) < config.p_uncond;
  const auto y = torch::where(dropped, torch::full_like(batch.labels, num_classes), batch.labels).to(x0.device());
  const auto abar = schedule.abar(t, x0.device());
  const auto x_t = abar.sqrt() * x0 + (1 - abar).sqrt() * noise;
  const auto loss = torch::mse_loss(net(x_t, t, y), training_target(config.prediction, x0, noise, abar));
  return {loss, {}};
}

void DiffusionModel::after_step(train::StepContext& ctx) {
  const double n = static_cast<double>(ctx.global_step);
  ema_branch_.update(std::min(config.ema_decay, (1 + n) / (10 + n)));
}

DenoiseFn DiffusionModel::denoiser() {
  ema->eval();
  auto e = ema;
  return [e](const torch::Tensor& x, const torch::Tensor& t, const torch::Tensor& y) mutable { return e->forward(x, t, y); };
}

NoisyClassifier::NoisyClassifier(const DiffusionConfig& c, int64_t channels, int64_t side, int64_t classes)
    : config(c), schedule(make_schedule(c)) {
  net = register_module("net", models::NoisyClassifierNet(c.unet, channels, side, classes));
}

train::StepOutput NoisyClassifier::training_step(const data::Batch& batch, train::StepContext& ctx) {
  const auto& x0 = batch.views.at(0);
  auto [t, noise] = draw_noise(x0, schedule.steps, ctx.generator);
  const auto labels = batch.labels.to(x0.device());
  const auto logits = net(schedule.q_sample(x0, t, noise), t);
  return {torch::cross_entropy_loss(logits, labels), {{"acc", top1_accuracy(logits, labels)}}};
}

ClassifierFn NoisyClassifier::classifier() {
  net->eval();
  auto n = net;
  return [n](const torch::Tensor& x, const torch::Tensor& t) mutable { return n->forward(x, t); };
}

ImageClassifier::ImageClassifier(const models::BackboneConfig& c, int64_t channels, int64_t num_classes) {
  backbone = register_module("backbone", models::make_backbone(c, channels));
  head = register_module("head", torch::nn::Linear(backbone->output_dim(), num_classes));
}

train::StepOutput ImageClassifier::training_step(const data::Batch& batch, train::StepContext&) {
  const auto& x = batch.views.at(0);
  const auto labels = batch.labels.to(x.device());
  const auto out = logits(x);
  return {torch::cross_entropy_loss(out, labels), {{"acc", top1_accuracy(out, labels)}}};
}

}  // namespace selfsup::diffusion
