#include "selfsup/ssl/losses.h"

#include <cmath>

namespace selfsup::ssl {

torch::Tensor info_nce_queue_logits(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& queue,
                                    double temperature) {
  const auto positive = (q * k).sum(1, /*keepdim=*/true);  // N x 1
  const auto negative = torch::mm(q, queue.t());            // N x K
  return torch::cat({positive, negative}, 1) / temperature;  // N x (1+K)
}

torch::Tensor info_nce_queue(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& queue,
                             double temperature) {
  const auto logits = info_nce_queue_logits(q, k, queue, temperature).to(torch::kFloat32);
  const auto target = torch::zeros({q.size(0)}, torch::TensorOptions().dtype(torch::kLong).device(q.device()));
  return torch::nn::functional::cross_entropy(logits, target);
}

double embedding_spread(const torch::Tensor& z) {
  torch::NoGradGuard no_grad;
  const auto n = torch::nn::functional::normalize(z.detach().to(torch::kFloat32),
                                                  torch::nn::functional::NormalizeFuncOptions().dim(1));
  return n.std(0).mean().item<double>() * std::sqrt(static_cast<double>(z.size(1)));
}

}  // namespace selfsup::ssl
