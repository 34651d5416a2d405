#include "selfsup/ssl/memory.h"

#include "selfsup/core/error.h"

namespace selfsup::ssl {

KeyQueueImpl::KeyQueueImpl(int64_t size, int64_t dim) {
  if (size <= 0 || dim <= 0) throw Error("queue: size and dim must be positive");
  keys_ = register_buffer("keys", torch::nn::functional::normalize(
                                      torch::randn({size, dim}), torch::nn::functional::NormalizeFuncOptions().dim(1)));
  pointer_ = register_buffer("pointer", torch::zeros({1}, torch::kLong));
}

void KeyQueueImpl::enqueue(const torch::Tensor& keys) {
  torch::NoGradGuard no_grad;
  const int64_t size = keys_.size(0), n = keys.size(0);
  if (n > size) throw Error("queue: cannot enqueue " + std::to_string(n) + " keys into a queue of " + std::to_string(size));
  const int64_t ptr = pointer();
  const int64_t first = std::min(n, size - ptr);  // keys that fit before the end
  keys_.narrow(0, ptr, first).copy_(keys.narrow(0, 0, first));
  if (first < n) keys_.narrow(0, 0, n - first).copy_(keys.narrow(0, first, n - first));
  pointer_.fill_((ptr + n) % size);
}

void KeyQueueImpl::commit() {
  if (staged_.defined()) enqueue(staged_);
  staged_ = torch::Tensor();
}

}  // namespace selfsup::ssl

namespace selfsup::ssl {

MemoryBankImpl::MemoryBankImpl(int64_t size, int64_t dim) {
  if (size <= 0 || dim <= 0) throw Error("memory bank: size and dim must be positive");
  features_ = register_buffer("features", torch::nn::functional::normalize(
                                              torch::randn({size, dim}), torch::nn::functional::NormalizeFuncOptions().dim(1)));
}

void MemoryBankImpl::update(const torch::Tensor& indices, const torch::Tensor& features, double momentum) {
  torch::NoGradGuard no_grad;
  const auto idx = indices.to(features_.device());
  const auto mixed = features_.index_select(0, idx) * momentum + features.detach().to(features_.dtype()) * (1 - momentum);
  features_.index_copy_(0, idx, torch::nn::functional::normalize(mixed, torch::nn::functional::NormalizeFuncOptions().dim(1)));
}

torch::Tensor MemoryBankImpl::sample(int64_t n, int64_t count, at::Generator& gen) const {
  return torch::randint(size(), {n, count}, gen, torch::TensorOptions().dtype(torch::kLong)).to(features_.device());
}

}  // namespace selfsup::ssl
