// Learning-rate and momentum schedules: linear warm-up then cosine decay, and the cosine ramp
// that MoCo v3 / BYOL / DINO use to move an EMA coefficient toward 1.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace selfsup::config {
class Visitor;
}

namespace selfsup::train {

struct ScheduleConfig {
  std::string name = "cosine";  // cosine | step | constant
  double warmup_epochs = 0;
  double final_lr_ratio = 0.0;          // cosine: lr at the end, as a fraction of the base lr
  std::vector<double> milestones{0.6, 0.8};  // step: fractions of training where lr is multiplied by gamma
  double gamma = 0.1;
  void visit(config::Visitor& v);
};

// lr at `step` (0-based) of a run of `total_steps`, with `warmup_steps` of linear warm-up.
double lr_at(const ScheduleConfig& s, double base_lr, int64_t step, int64_t warmup_steps, int64_t total_steps);

// start at progress 0, end at progress 1, following half a cosine (MoCo v3 adjust_moco_momentum).
double cosine_ramp(double start, double end, double progress);

}  // namespace selfsup::train
