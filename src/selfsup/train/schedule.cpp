#include "selfsup/train/schedule.h"

#include <algorithm>
#include <cmath>

#include "selfsup/core/config.h"
#include "selfsup/core/error.h"

namespace selfsup::train {

void ScheduleConfig::visit(config::Visitor& v) {
  v("name", name, "learning-rate schedule after warm-up: cosine (decay to final_lr_ratio x lr), step (x gamma at each milestone; MoCo v1) or constant");
  v("warmup_epochs", warmup_epochs, "epochs of linear warm-up from 0 to the base lr (fractions allowed)", config::non_negative);
  v("final_lr_ratio", final_lr_ratio, "cosine schedule: final lr as a fraction of the base lr", config::unit_interval);
  v("milestones", milestones, "step schedule: fractions of the run (0-1) at which the lr is multiplied by gamma (MoCo v1: epochs 120 and 160 of 200 = [0.6, 0.8])");
  v("gamma", gamma, "step schedule: factor applied at each milestone", config::positive);
}

double lr_at(const ScheduleConfig& s, double base_lr, int64_t step, int64_t warmup_steps, int64_t total_steps) {
  if (step < warmup_steps) return base_lr * static_cast<double>(step + 1) / static_cast<double>(warmup_steps);
  if (s.name == "constant") return base_lr;
  if (s.name == "step") {
    double lr = base_lr;
    for (double m : s.milestones)
      if (static_cast<double>(step) >= m * static_cast<double>(total_steps)) lr *= s.gamma;
    return lr;
  }
  if (s.name != "cosine") throw Error("train.schedule.name: unknown schedule '" + s.name + "' (expected cosine, step or constant)");
  const double span = std::max<int64_t>(1, total_steps - warmup_steps);
  const double progress = std::min(1.0, static_cast<double>(step - warmup_steps) / span);
  const double final_lr = base_lr * s.final_lr_ratio;
  return final_lr + (base_lr - final_lr) * 0.5 * (1.0 + std::cos(M_PI * progress));
}

double cosine_ramp(double start, double end, double progress) {
  progress = std::clamp(progress, 0.0, 1.0);
  return end - (end - start) * 0.5 * (1.0 + std::cos(M_PI * progress));
}

}  // namespace selfsup::train
