// The recipe's `precision`: bf16 autocast around the training step's forward pass (LibTorch's
// autocast: convolutions and matrix products in bfloat16, reductions, losses, weights and the
// optimiser in fp32), or plain fp32. `auto` picks bf16 only where it is measured faster: on CUDA,
// on CPUs with AMX tiles, and on AMD CPUs with AVX512-BF16 (Zen 4: the MoCo v2 step 2x faster);
// on an Intel Xeon with AVX512-BF16 but no AMX oneDNN 2.6's bf16 convolutions ran 1.2-1.9x slower
// than fp32 (docs/performance.md).
#pragma once

#include <torch/torch.h>

#include <string>

namespace selfsup::train {

// "fp32" or "bf16" for the recipe's `precision` on `device`.
std::string resolve_precision(const std::string& precision, torch::Device device);

// Whether bf16 autocast trains faster than fp32 on the CPU that /proc/cpuinfo text `cpuinfo` describes.
bool cpu_bf16_is_faster(const std::string& cpuinfo);

// Autocast on `device` for the guard's lifetime when `bf16`; nothing otherwise.
class AutocastGuard {
 public:
  AutocastGuard(bool bf16, torch::Device device);
  ~AutocastGuard();
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

 private:
  bool active_, cuda_, was_enabled_ = false;
  at::ScalarType was_dtype_ = at::kFloat;
};

}  // namespace selfsup::train
