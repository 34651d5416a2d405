#include "selfsup/core/tensor.h"

#include <cmath>

namespace selfsup {

torch::Tensor l2_normalize(const torch::Tensor& x) {
  return torch::nn::functional::normalize(x, torch::nn::functional::NormalizeFuncOptions().dim(1));
}

double embedding_spread(const torch::Tensor& z) {
  torch::NoGradGuard no_grad;
  const auto n = l2_normalize(z.detach().to(torch::kFloat32));
  return n.std(0).mean().item<double>() * std::sqrt(static_cast<double>(z.size(1)));
}

uint64_t content_hash(const TensorMap& tensors) {
  uint64_t h = 1469598103934665603ULL;
  auto mix = [&](const void* data, size_t n) {
    const auto* p = static_cast<const unsigned char*>(data);
    for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ULL;
  };
  for (const auto& [name, tensor] : tensors) {
    const auto t = tensor.detach().to(torch::kCPU).contiguous();
    mix(name.data(), name.size());
    const auto dtype = static_cast<int>(t.scalar_type());
    mix(&dtype, sizeof(dtype));
    for (const int64_t d : t.sizes()) mix(&d, sizeof(d));
    mix(t.data_ptr(), t.numel() * t.element_size());
  }
  return h;
}

double top1_accuracy(const torch::Tensor& logits, const torch::Tensor& targets) {
  torch::NoGradGuard no_grad;
  return logits.argmax(1).eq(targets).to(torch::kFloat64).mean().item<double>();
}

}  // namespace selfsup
