#include "selfsup/diffusion/schedule.h"

#include <cmath>

#include "selfsup/core/error.h"

namespace selfsup::diffusion {

NoiseSchedule NoiseSchedule::make(const std::string& kind, int64_t steps, double beta_start, double beta_end) {
  if (steps < 2) throw Error("diffusion.timesteps: expected at least 2, got " + std::to_string(steps));
  const auto f64 = torch::TensorOptions().dtype(torch::kDouble);
  NoiseSchedule s;
  s.steps = steps;
  if (kind == "linear") {
    const double scale = 1000.0 / static_cast<double>(steps);
    s.betas = torch::linspace(scale * beta_start, scale * beta_end, steps, f64).clamp_max(0.999);
  } else if (kind == "cosine") {
    const double offset = 0.008;
    const auto f = [&](const torch::Tensor& t) {
      return torch::cos((t / static_cast<double>(steps) + offset) / (1 + offset) * M_PI / 2).pow(2);
    };
    const auto t = torch::arange(steps + 1, f64);
    const auto abar = f(t) / f(t.slice(0, 0, 1));
    s.betas = (1 - abar.slice(0, 1) / abar.slice(0, 0, steps)).clamp_max(0.999);
  } else {
    throw Error("diffusion.schedule: expected linear or cosine, got '" + kind + "'");
  }
  s.alphas_cumprod = torch::cumprod(1 - s.betas, 0);
  return s;
}

torch::Tensor NoiseSchedule::abar(const torch::Tensor& t, torch::Device device) const {
  return alphas_cumprod.index_select(0, t.to(torch::kCPU).to(torch::kLong))
      .to(torch::kFloat)
      .to(device)
      .view({-1, 1, 1, 1});
}

torch::Tensor NoiseSchedule::q_sample(const torch::Tensor& x0, const torch::Tensor& t, const torch::Tensor& noise) const {
  const auto a = abar(t, x0.device());
  return a.sqrt() * x0 + (1 - a).sqrt() * noise;
}

torch::Tensor training_target(const std::string& prediction, const torch::Tensor& x0, const torch::Tensor& noise,
                              const torch::Tensor& abar) {
  if (prediction == "eps") return noise;
  if (prediction == "x0") return x0;
  if (prediction == "v") return abar.sqrt() * noise - (1 - abar).sqrt() * x0;
  throw Error("diffusion.prediction: expected eps, x0 or v, got '" + prediction + "'");
}

EpsX0 to_eps_x0(const std::string& prediction, const torch::Tensor& out, const torch::Tensor& x_t,
                const torch::Tensor& abar) {
  const auto a = abar.sqrt(), s = (1 - abar).sqrt();
  if (prediction == "eps") return {out, (x_t - s * out) / a};
  if (prediction == "x0") return {(x_t - a * out) / s, out};
  if (prediction == "v") return {s * x_t + a * out, a * x_t - s * out};
  throw Error("diffusion.prediction: expected eps, x0 or v, got '" + prediction + "'");
}

}  // namespace selfsup::diffusion
