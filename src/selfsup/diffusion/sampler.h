// Sampling: DDPM ancestral steps (fixed-small or fixed-large variance) and DDIM (η, any number of
// steps), with classifier-free guidance and classifier guidance. Deterministic for a seed: every
// random draw comes from one CPU generator, so a seed gives the same images on any device.
//
// Guidance scale convention (s, as diffusers and stable-diffusion.cpp): ε̃ = ε_uncond + s·(ε_cond − ε_uncond).
// s = 0 is the unconditional model, s = 1 the plain conditional one, s > 1 pushes away from the
// unconditional prediction. Ho & Salimans' w is s − 1.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <string>

#include "selfsup/diffusion/schedule.h"

namespace selfsup::diffusion {

// The denoiser: (x_t, t, y) -> network output (ε, x₀ or v), y = class indices or the null class.
using DenoiseFn = std::function<torch::Tensor(const torch::Tensor& x, const torch::Tensor& t, const torch::Tensor& y)>;
// A noise-aware classifier: (x_t, t) -> B x K logits.
using ClassifierFn = std::function<torch::Tensor(const torch::Tensor& x, const torch::Tensor& t)>;

// Classifier-free guidance: out_uncond + s (out_cond − out_uncond). The two passes share one
// batched forward; s = 1 runs only the conditional pass and s = 0 only the unconditional one.
torch::Tensor guided_output(const DenoiseFn& net, const torch::Tensor& x, const torch::Tensor& t, const torch::Tensor& y,
                            int64_t null_class, double s);

// ∇_x log p(y | x, t) · scale (guided-diffusion's cond_fn), taken at x_t.
torch::Tensor classifier_gradient(const ClassifierFn& classifier, const torch::Tensor& x, const torch::Tensor& t,
                                  const torch::Tensor& y, double scale);

struct SampleOptions {
  std::string sampler = "ddim";     // ddim | ddpm
  int64_t steps = 50;               // denoising steps (timesteps evenly spaced over 0..T-1)
  double eta = 0;                   // DDIM: 0 = deterministic, 1 = DDPM-like noise
  std::string variance = "small";   // DDPM: small (posterior β̃) | large (β)
  double guidance = 1;              // classifier-free guidance scale s (convention above)
  double classifier_scale = 0;      // classifier guidance γ (needs `classifier`)
  ClassifierFn classifier;
  bool clip_x0 = true;              // clamp the x₀ estimate to [-1, 1] each step
  uint64_t seed = 0;
  bool progress = true;             // a progress bar over the steps
};

// The timesteps a sampler visits, ascending: `steps` values evenly spaced over 0..T-1 (rounded,
// 0 and T-1 included). Throws selfsup::Error when steps < 1 or > T.
std::vector<int64_t> sampling_timesteps(int64_t T, int64_t steps);

// Generates one image per entry of `labels` (B int64; the null class for unconditional samples),
// each of shape `image_shape` (C x H x W), in the model's [-1, 1] range. `prediction` is what the
// network outputs (eps | x0 | v).
torch::Tensor sample(const DenoiseFn& net, const NoiseSchedule& schedule, const std::string& prediction,
                     int64_t null_class, const torch::Tensor& labels, torch::IntArrayRef image_shape,
                     const SampleOptions& options, torch::Device device);

}  // namespace selfsup::diffusion
