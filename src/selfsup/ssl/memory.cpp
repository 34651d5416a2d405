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

}  // namespace selfsup::ssl
