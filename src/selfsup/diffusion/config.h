// The recipe's `diffusion` section (tasks diffusion, noisy_classifier; classifier uses its data
// checks): the noise schedule, the denoiser and the sampling previews.
#pragma once

#include <string>

#include "selfsup/core/config.h"
#include "selfsup/models/unet.h"
#include "selfsup/train/recipe.h"

namespace selfsup::diffusion {

struct DiffusionConfig : config::DynamicSectionOf<DiffusionConfig> {
  static constexpr const char* kSection = "diffusion";
  int64_t timesteps = 1000;         // T
  std::string schedule = "linear";  // linear | cosine
  double beta_start = 1e-4, beta_end = 0.02;
  std::string prediction = "eps";  // eps | x0 | v
  double p_uncond = 0.1;           // classifier-free training: probability of the null class
  double ema_decay = 0.999;
  models::UNetConfig unet;
  int64_t sample_every = 0;  // epochs between sample grids in the run folder (0 = only at the end)
  double preview_guidance = 3;
  int64_t preview_steps = 50;
  void visit(config::Visitor& v) override;
  void validate(const Recipe& r, const RecipeCheck& check) const;
};

inline const DiffusionConfig& diffusion_config(const Recipe& r) { return r.section<DiffusionConfig>(); }

}  // namespace selfsup::diffusion
