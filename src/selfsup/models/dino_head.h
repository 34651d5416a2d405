// DINO's projection head (Caron et al. 2021): an MLP with GELUs down to a bottleneck, L2
// normalisation, then a weight-normalised Linear without bias onto K "prototype" logits. Names as
// the official DINOHead: mlp.0 / mlp.2 / ... (mlp.1 etc. are GELUs or BNs), last_layer.weight_g,
// last_layer.weight_v.
#pragma once

#include "selfsup/models/batch_norm.h"

#include <torch/torch.h>

#include <cstdint>

namespace selfsup::models {

struct DinoHeadOptions {
  DinoHeadOptions(int64_t in_dim, int64_t out_dim) : in_dim_(in_dim), out_dim_(out_dim) {}
  TORCH_ARG(int64_t, in_dim);
  TORCH_ARG(int64_t, out_dim);          // K prototypes
  TORCH_ARG(int64_t, hidden_dim) = 2048;
  TORCH_ARG(int64_t, bottleneck_dim) = 256;
  TORCH_ARG(int64_t, layers) = 3;        // Linear layers of the MLP (the last one maps to the bottleneck)
  TORCH_ARG(bool, batch_norm) = false;   // BN after each hidden Linear (DINO's use_bn_in_head)
  TORCH_ARG(bool, norm_last_layer) = true;  // fix the prototypes' norms at 1 (weight_g not trained)
};

// torch.nn.utils.weight_norm(Linear(in, out, bias=False)): weight = g * v / ||v|| per output row.
class WeightNormLinearImpl : public torch::nn::Module {
 public:
  WeightNormLinearImpl(int64_t in, int64_t out);
  // `frozen`: use v without gradient (DINO keeps the last layer fixed during the first epoch).
  torch::Tensor forward(const torch::Tensor& x, bool frozen = false);
  torch::Tensor weight_g, weight_v;
};
TORCH_MODULE(WeightNormLinear);

class DinoHeadImpl : public torch::nn::Module {
 public:
  explicit DinoHeadImpl(const DinoHeadOptions& options);
  // N x in_dim -> N x out_dim logits: prototypes(bottleneck(x)).
  torch::Tensor forward(const torch::Tensor& x, bool freeze_last_layer = false);
  // The MLP's output, L2-normalised: N x bottleneck_dim.
  torch::Tensor bottleneck(const torch::Tensor& x);
  // Logits against the K weight-normalised prototypes.
  torch::Tensor prototypes(const torch::Tensor& z, bool freeze_last_layer = false);

  const DinoHeadOptions options;
  torch::nn::Sequential mlp{nullptr};
  WeightNormLinear last_layer{nullptr};
};
TORCH_MODULE(DinoHead);

}  // namespace selfsup::models
