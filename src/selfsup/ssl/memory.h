// A FIFO queue of L2-normalised keys (MoCo's dictionary). Registered as buffers so it travels with
// the model's state (checkpoints, device moves).
#pragma once

#include <torch/torch.h>

namespace selfsup::ssl {

class KeyQueueImpl : public torch::nn::Module {
 public:
  // size keys of dimension dim, initialised to random unit vectors from the global generator.
  KeyQueueImpl(int64_t size, int64_t dim);

  // Replaces the oldest keys with `keys` (N x dim, N <= size), wrapping around the end.
  void enqueue(const torch::Tensor& keys);
  const torch::Tensor& keys() const { return keys_; }  // size x dim
  int64_t pointer() const { return pointer_.item<int64_t>(); }

 private:
  torch::Tensor keys_, pointer_;
};
TORCH_MODULE(KeyQueue);

}  // namespace selfsup::ssl
