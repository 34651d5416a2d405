// Tensor helpers every layer may use: named tensor maps, unit rows, the collapse signal, top-1.
#pragma once

#include <torch/torch.h>

#include <map>
#include <string>

namespace selfsup {

// Named tensors: a state dict, the contents of a safetensors file.
using TensorMap = std::map<std::string, torch::Tensor>;

// Rows scaled to unit length.
torch::Tensor l2_normalize(const torch::Tensor& x);

// Spread of L2-normalised embeddings (N x D): mean per-dimension std times sqrt(D). About 1 for
// embeddings spread over the sphere, 0 when every sample maps to the same point (collapse).
double embedding_spread(const torch::Tensor& z);

// FNV-1a (64 bit) over every tensor's name, dtype, shape and bytes, in name order: a content hash
// that changes when any byte of any tensor does.
uint64_t content_hash(const TensorMap& tensors);

// Share of rows whose highest logit is at the target index (logits N x C, targets N).
double top1_accuracy(const torch::Tensor& logits, const torch::Tensor& targets);

}  // namespace selfsup
