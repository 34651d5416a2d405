#include "selfsup/diffusion/config.h"

namespace selfsup::diffusion {

void DiffusionConfig::visit(config::Visitor& v) {
  v("timesteps", timesteps, "T, the number of noising steps (DDPM: 1000)", config::at_least(2));
  v("schedule", schedule, "linear (DDPM; beta_start/beta_end are for T = 1000 and scaled by 1000 / T) or cosine (improved DDPM)");
  v("beta_start", beta_start, "linear schedule: the first beta (DDPM: 1e-4)", config::positive);
  v("beta_end", beta_end, "linear schedule: the last beta (DDPM: 0.02)", config::probability);
  v("prediction", prediction, "what the U-Net predicts: eps (the noise, DDPM), x0 (the clean image) or v (Salimans & Ho)");
  v("p_uncond", p_uncond, "classifier-free training: probability that a label is replaced by the null class (Ho & Salimans: 0.1-0.2)", config::probability);
  v("ema_decay", ema_decay, "decay of the EMA copy of the weights that sampling uses (warmed up as min(decay, (1+n)/(10+n)))", config::probability);
  v.section("unet", unet, "the denoiser (task diffusion) or the noisy classifier's down path (task noisy_classifier)");
  v("sample_every", sample_every, "task diffusion: write runs/NAME/samples_epoch_N.png every N epochs (0 = only samples.png at the end)", config::non_negative);
  v("preview_guidance", preview_guidance, "guidance scale s of those sample grids", config::non_negative);
  v("preview_steps", preview_steps, "DDIM steps of those sample grids", config::at_least_one);
}

void DiffusionConfig::validate(const Recipe& r, const RecipeCheck& check) const {
  if (augment::count_views(r.augment.views) != 1) check.fail("augment.views", "task " + r.task + " uses exactly one view");
  const auto& view = r.augment.views[0];
  if (r.task != "classifier") {
    for (double m : view.mean)
      if (m != 0.5) check.fail("augment.views.0.mean", "diffusion works on images scaled to [-1, 1]: expected 0.5");
    for (double s : view.std)
      if (s != 0.5) check.fail("augment.views.0.std", "diffusion works on images scaled to [-1, 1]: expected 0.5");
  }
  if (timesteps < 2) check.fail("diffusion.timesteps", "expected at least 2");
  if (schedule != "linear" && schedule != "cosine")
    check.fail("diffusion.schedule", "expected linear or cosine, got '" + schedule + "'");
  if (beta_start <= 0 || beta_end < beta_start || beta_end >= 1)
    check.fail("diffusion.beta_start", "expected 0 < beta_start <= beta_end < 1");
  if (prediction != "eps" && prediction != "x0" && prediction != "v")
    check.fail("diffusion.prediction", "expected eps, x0 or v, got '" + prediction + "'");
  if (p_uncond < 0 || p_uncond >= 1) check.fail("diffusion.p_uncond", "expected a probability in [0, 1)");
  if (ema_decay < 0 || ema_decay >= 1) check.fail("diffusion.ema_decay", "expected a value in [0, 1)");
  if (sample_every < 0) check.fail("diffusion.sample_every", "expected 0 (only at the end) or a positive number of epochs");
  if (preview_steps < 1 || preview_steps > timesteps)
    check.fail("diffusion.preview_steps", "expected 1..diffusion.timesteps");
}

}  // namespace selfsup::diffusion
