// The forward (noising) process of a diffusion model: the β schedule, ᾱ_t = Π(1 − β_s),
// q(x_t | x_0) = N(√ᾱ_t x_0, (1 − ᾱ_t) I), and the conversions between what the network predicts
// (ε, x₀ or v) and the ε / x₀ the samplers need. Timesteps are 0-based: t = 0 is the first
// noising step, t = T − 1 the last.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>

namespace selfsup::diffusion {

struct NoiseSchedule {
  int64_t steps = 0;            // T
  torch::Tensor betas;          // T, double, CPU
  torch::Tensor alphas_cumprod;  // ᾱ, T, double, CPU

  // kind: "linear" (DDPM: β from beta_start to beta_end, both scaled by 1000 / T as improved
  // diffusion does so that any T ends near pure noise) or "cosine" (Nichol & Dhariwal, s = 0.008,
  // β capped at 0.999). Throws selfsup::Error on an unknown kind or T < 2.
  static NoiseSchedule make(const std::string& kind, int64_t steps, double beta_start = 1e-4, double beta_end = 0.02);

  // ᾱ at the (integer) timesteps `t`, shaped B x 1 x 1 x 1 for broadcasting over images, as float
  // on `device`.
  torch::Tensor abar(const torch::Tensor& t, torch::Device device) const;

  // x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε.
  torch::Tensor q_sample(const torch::Tensor& x0, const torch::Tensor& t, const torch::Tensor& noise) const;
};

// What the network outputs: "eps" (the added noise), "x0" (the clean image) or "v"
// (√ᾱ ε − √(1 − ᾱ) x₀, Salimans & Ho).
torch::Tensor training_target(const std::string& prediction, const torch::Tensor& x0, const torch::Tensor& noise,
                              const torch::Tensor& abar);

struct EpsX0 {
  torch::Tensor eps, x0;
};
// The network output at x_t (ᾱ broadcastable) as both the noise and the clean-image estimate.
EpsX0 to_eps_x0(const std::string& prediction, const torch::Tensor& output, const torch::Tensor& x_t,
                const torch::Tensor& abar);

}  // namespace selfsup::diffusion
