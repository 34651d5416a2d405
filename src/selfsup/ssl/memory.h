// Memories of past embeddings: MoCo's FIFO key queue and InstDisc's per-image memory bank.
//
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
  // This step's keys, enqueued by commit() after the optimiser step: the loss graph still reads
  // the queue's previous contents until backward is done. A later stage() replaces them.
  void stage(const torch::Tensor& keys) { staged_ = keys; }
  void commit();
  const torch::Tensor& keys() const { return keys_; }  // size x dim
  int64_t pointer() const { return pointer_.item<int64_t>(); }

 private:
  torch::Tensor keys_, pointer_;
  torch::Tensor staged_;  // not a buffer: never checkpointed
};
TORCH_MODULE(KeyQueue);

// InstDisc's memory bank: one L2-normalised feature per training image, indexed by the image's
// position in the dataset. A buffer, so it is checkpointed with the model.
class MemoryBankImpl : public torch::nn::Module {
 public:
  // size rows of dimension dim, initialised to random unit vectors from the global generator.
  MemoryBankImpl(int64_t size, int64_t dim);

  // v_i <- normalise(m * v_i + (1 - m) * f_i) for each row i = indices[b], f_i = features[b]
  // (m = 0: replace). features: N x dim, no gradient is kept.
  void update(const torch::Tensor& indices, const torch::Tensor& features, double momentum);
  // N x count indices drawn uniformly from [0, size) (the noise distribution of NCE).
  torch::Tensor sample(int64_t n, int64_t count, at::Generator& gen) const;
  const torch::Tensor& features() const { return features_; }  // size x dim
  int64_t size() const { return features_.size(0); }

 private:
  torch::Tensor features_;
};
TORCH_MODULE(MemoryBank);

}  // namespace selfsup::ssl
