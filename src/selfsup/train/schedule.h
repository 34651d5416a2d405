// Learning-rate and momentum schedules: linear warm-up then cosine decay, and the cosine ramp
// that MoCo v3 / BYOL / DINO use to move an EMA coefficient toward 1.
#pragma once

#include <cstdint>
#include <string>

namespace selfsup::config {
class Visitor;
}

namespace selfsup::train {

struct ScheduleConfig {
  std::string name = "cosine";  // cosine | constant
  double warmup_epochs = 0;
  double final_lr_ratio = 0.0;  // lr at the end, as a fraction of the base lr
  void visit(config::Visitor& v);
};

// lr at `step` (0-based) of a run of `total_steps`, with `warmup_steps` of linear warm-up.
double lr_at(const ScheduleConfig& s, double base_lr, int64_t step, int64_t warmup_steps, int64_t total_steps);

// start at progress 0, end at progress 1, following half a cosine (MoCo v3 adjust_moco_momentum).
double cosine_ramp(double start, double end, double progress);

}  // namespace selfsup::train
