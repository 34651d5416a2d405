// Per-layer-group gradient norms written every step to a CSV a person can plot: MoCo v3's
// instability shows as sudden spikes of the first layer's (patch projection's) gradient norm.
#pragma once

#include "selfsup/train/optimizer.h"

#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

namespace selfsup::train {

// The group a parameter belongs to: its first two dotted name parts
// ("encoder.blocks.3.attn.qkv.weight" -> "encoder.blocks", "projector.layers.0.weight" -> "projector.layers").
std::string grad_norm_group(const std::string& parameter_name);

class GradNormLog {
 public:
  // Appends to `csv_path` (header written when the file is new): step, then one column per group.
  GradNormLog(const std::vector<NamedParameter>& params, const std::string& csv_path);
  // L2 norm of each group's current gradients (parameters without a gradient count as 0).
  std::vector<double> norms() const;
  void record(int64_t step);
  const std::vector<std::string>& groups() const { return groups_; }

 private:
  std::vector<std::string> groups_;
  std::vector<std::vector<torch::Tensor>> members_;
  std::string path_;
  std::ofstream out_;
};

}  // namespace selfsup::train
