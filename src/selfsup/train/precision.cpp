#include "selfsup/train/precision.h"

#include <ATen/autocast_mode.h>
#include <torch/library.h>

#include <fstream>
#include <sstream>

namespace selfsup::train {

namespace {

// LibTorch 1.13's CPU autocast has no rule for GroupNorm and LayerNorm (CUDA autocast runs them in
// fp32), so a bf16 activation meets their fp32 weights and the op fails ("expected scalar type
// BFloat16 but found Float"; PyTorch 1.13 fails the same way). These kernels give them CUDA's rule:
// run in fp32 with autocast off inside. They are registered when this file is linked, which every
// program that trains is.
at::Tensor to_fp32(const at::Tensor& x) { return x.scalar_type() == at::kBFloat16 ? x.to(at::kFloat) : x; }

at::Tensor group_norm_fp32(const at::Tensor& input, int64_t groups, const c10::optional<at::Tensor>& weight,
                           const c10::optional<at::Tensor>& bias, double eps, bool cudnn) {
  c10::impl::ExcludeDispatchKeyGuard no_autocast(c10::DispatchKey::AutocastCPU);
  return at::group_norm(to_fp32(input), groups, weight, bias, eps, cudnn);
}

at::Tensor layer_norm_fp32(const at::Tensor& input, at::IntArrayRef shape, const c10::optional<at::Tensor>& weight,
                           const c10::optional<at::Tensor>& bias, double eps, bool cudnn) {
  c10::impl::ExcludeDispatchKeyGuard no_autocast(c10::DispatchKey::AutocastCPU);
  return at::layer_norm(to_fp32(input), shape, weight, bias, eps, cudnn);
}

TORCH_LIBRARY_IMPL(aten, AutocastCPU, m) {
  m.impl("group_norm", TORCH_FN(group_norm_fp32));
  m.impl("layer_norm", TORCH_FN(layer_norm_fp32));
}

}  // namespace

bool cpu_bf16_is_faster(const std::string& cpuinfo) {
  std::string vendor, flags;
  std::istringstream lines(cpuinfo);
  for (std::string line; std::getline(lines, line) && (vendor.empty() || flags.empty());) {
    if (vendor.empty() && line.rfind("vendor_id", 0) == 0) vendor = line;
    if (flags.empty() && line.rfind("flags", 0) == 0) flags = line + " ";
  }
  if (flags.find(" amx_bf16 ") != std::string::npos) return true;
  return vendor.find("AuthenticAMD") != std::string::npos && flags.find(" avx512_bf16 ") != std::string::npos;
}

std::string resolve_precision(const std::string& precision, torch::Device device) {
  if (precision != "auto") return precision;
  if (device.is_cuda()) return "bf16";
  static const bool faster = [] {
    std::ifstream file("/proc/cpuinfo");
    std::ostringstream text;
    text << file.rdbuf();
    return cpu_bf16_is_faster(text.str());
  }();
  return faster ? "bf16" : "fp32";
}

AutocastGuard::AutocastGuard(bool bf16, torch::Device device) : active_(bf16), cuda_(device.is_cuda()) {
  if (!active_) return;
  was_enabled_ = cuda_ ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled();
  was_dtype_ = cuda_ ? at::autocast::get_autocast_gpu_dtype() : at::autocast::get_autocast_cpu_dtype();
  if (cuda_) {
    at::autocast::set_enabled(true);
    at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
  } else {
    at::autocast::set_cpu_enabled(true);
    at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
  }
  at::autocast::increment_nesting();
}

AutocastGuard::~AutocastGuard() {
  if (!active_) return;
  // Leaving the outermost autocast region drops the cached bf16 copies of the weights, which the
  // optimiser step is about to change.
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  if (cuda_) {
    at::autocast::set_enabled(was_enabled_);
    at::autocast::set_autocast_gpu_dtype(was_dtype_);
  } else {
    at::autocast::set_cpu_enabled(was_enabled_);
    at::autocast::set_autocast_cpu_dtype(was_dtype_);
  }
}

}  // namespace selfsup::train
