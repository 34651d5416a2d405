#include "selfsup/diffusion/sampler.h"

#include <algorithm>
#include <cmath>

#include "selfsup/core/error.h"
#include "selfsup/core/progress.h"

namespace selfsup::diffusion {

torch::Tensor guided_output(const DenoiseFn& net, const torch::Tensor& x, const torch::Tensor& t, const torch::Tensor& y,
                            int64_t null_class, double s) {
  if (s == 1) return net(x, t, y);
  const auto null = torch::full_like(y, null_class);
  if (s == 0) return net(x, t, null);
  const auto both = net(torch::cat({x, x}), torch::cat({t, t}), torch::cat({y, null})).chunk(2, 0);
  return both[1] + s * (both[0] - both[1]);
}

torch::Tensor classifier_gradient(const ClassifierFn& classifier, const torch::Tensor& x, const torch::Tensor& t,
                                  const torch::Tensor& y, double scale) {
  torch::AutoGradMode enable_grad(true);
  const auto xi = x.detach().requires_grad_(true);
  const auto log_probs = torch::log_softmax(classifier(xi, t), 1);
  const auto selected = log_probs.gather(1, y.view({-1, 1})).sum();
  return torch::autograd::grad({selected}, {xi})[0] * scale;
}

std::vector<int64_t> sampling_timesteps(int64_t T, int64_t steps) {
  if (steps < 1 || steps > T)
    throw Error("sampling steps: expected 1.." + std::to_string(T) + " (the model's timesteps), got " + std::to_string(steps));
  std::vector<int64_t> out;
  for (int64_t i = 0; i < steps; ++i) {
    const double at = steps == 1 ? T - 1 : static_cast<double>(i) * static_cast<double>(T - 1) / static_cast<double>(steps - 1);
    const int64_t t = std::llround(at);
    if (out.empty() || out.back() != t) out.push_back(t);
  }
  return out;
}

torch::Tensor sample(const DenoiseFn& net, const NoiseSchedule& schedule, const std::string& prediction,
                     int64_t null_class, const torch::Tensor& labels, torch::IntArrayRef image_shape,
                     const SampleOptions& o, torch::Device device) {
  if (o.sampler != "ddim" && o.sampler != "ddpm") throw Error("sampler: expected ddim or ddpm, got '" + o.sampler + "'");
  if (o.variance != "small" && o.variance != "large")
    throw Error("variance: expected small or large, got '" + o.variance + "'");
  if (o.classifier_scale != 0 && !o.classifier) throw Error("classifier guidance: a scale was given without a classifier");
  torch::NoGradGuard no_grad;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(o.seed);
  const int64_t batch = labels.size(0);
  std::vector<int64_t> shape{batch};
  shape.insert(shape.end(), image_shape.begin(), image_shape.end());
  const auto randn = [&] { return torch::randn(shape, gen, torch::kFloat).to(device); };

  const auto timesteps = sampling_timesteps(schedule.steps, o.steps);
  const auto abar = schedule.alphas_cumprod.accessor<double, 1>();
  const auto y = labels.to(device);
  auto x = randn();
  Progress progress("sampling " + std::to_string(batch) + " images (" + o.sampler + ", " +
                        std::to_string(timesteps.size()) + " steps)",
                    static_cast<int64_t>(timesteps.size()), std::max<size_t>(1, timesteps.size() / 5));
  for (size_t i = timesteps.size(); i-- > 0;) {
    const int64_t t = timesteps[i];
    const double a_t = abar[t], a_prev = i > 0 ? abar[timesteps[i - 1]] : 1.0;
    const auto tt = torch::full({batch}, t, torch::TensorOptions().dtype(torch::kLong).device(device));
    const auto out = guided_output(net, x, tt, y, null_class, o.guidance);
    auto [eps, x0] = to_eps_x0(prediction, out, x, torch::scalar_tensor(a_t, torch::kFloat).to(device));
    if (o.clip_x0) {
      x0 = x0.clamp(-1, 1);
      eps = (x - std::sqrt(a_t) * x0) / std::sqrt(1 - a_t);
    }
    torch::Tensor grad;
    if (o.classifier && o.classifier_scale != 0) grad = classifier_gradient(o.classifier, x, tt, y, o.classifier_scale);
    if (o.sampler == "ddim") {
      if (grad.defined()) {  // guided-diffusion's condition_score: ε ← ε − √(1 − ᾱ) ∇log p(y|x_t)
        eps = eps - std::sqrt(1 - a_t) * grad;
        x0 = (x - std::sqrt(1 - a_t) * eps) / std::sqrt(a_t);
      }
      const double sigma = o.eta * std::sqrt((1 - a_prev) / (1 - a_t)) * std::sqrt(1 - a_t / a_prev);
      x = std::sqrt(a_prev) * x0 + std::sqrt(std::max(0.0, 1 - a_prev - sigma * sigma)) * eps;
      if (i > 0 && sigma > 0) x = x + sigma * randn();
    } else {
      // Posterior q(x_prev | x_t, x0) of the (respaced) chain: β' = 1 − ᾱ_t / ᾱ_prev.
      const double beta = 1 - a_t / a_prev;
      auto mean = (std::sqrt(a_prev) * beta / (1 - a_t)) * x0 + (std::sqrt(1 - beta) * (1 - a_prev) / (1 - a_t)) * x;
      const double var = o.variance == "small" ? beta * (1 - a_prev) / (1 - a_t) : beta;
      if (grad.defined()) mean = mean + var * grad;  // guided-diffusion's condition_mean: μ + Σ ∇log p(y|x_t)
      x = i > 0 ? mean + std::sqrt(var) * randn() : mean;
    }
    if (o.progress) progress.update(static_cast<int64_t>(timesteps.size() - i), "");
  }
  if (o.progress) progress.finish(std::to_string(batch) + " images");
  return x;
}

}  // namespace selfsup::diffusion
