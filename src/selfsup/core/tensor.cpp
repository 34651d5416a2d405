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

double top1_accuracy(const torch::Tensor& logits, const torch::Tensor& targets) {
  torch::NoGradGuard no_grad;
  return logits.argmax(1).eq(targets).to(torch::kFloat64).mean().item<double>();
}

}  // namespace selfsup
