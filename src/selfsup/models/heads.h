// MLP projection / prediction heads (SimCLR, MoCo v2/v3, BYOL, SimSiam...): Linear -> [norm] -> ReLU
// repeated, then a last Linear, optionally followed by a non-affine BN. The hidden normalisation is
// a choice (BatchNorm, LayerNorm, GroupNorm with weight-standardised Linears, none) so the BYOL
// normalisation experiments can be run.
#pragma once

#include "selfsup/models/batch_norm.h"

#include <torch/torch.h>

#include <cstdint>
#include <string>

namespace selfsup::models {

struct MlpHeadOptions {
  MlpHeadOptions(int64_t in_dim, int64_t hidden_dim, int64_t out_dim)
      : in_dim_(in_dim), hidden_dim_(hidden_dim), out_dim_(out_dim) {}
  TORCH_ARG(int64_t, in_dim);
  TORCH_ARG(int64_t, hidden_dim);  // unused when num_layers == 1
  TORCH_ARG(int64_t, out_dim);
  TORCH_ARG(int64_t, num_layers) = 2;  // Linear layers; 1 = a single Linear
  // After each hidden Linear: "batch", "layer", "group_ws" (GroupNorm, and every Linear of the
  // head weight-standardised) or "none".
  TORCH_ARG(std::string, norm) = "batch";
  TORCH_ARG(bool, last_bn) = false;    // BN(affine=false) after the last Linear (SimSiam, MoCo v3)
  // Bias of the Linears *not* followed by a BatchNorm. A Linear followed by BN never has one: the
  // BN's mean subtraction would cancel it.
  TORCH_ARG(bool, bias) = true;
};

// Everything lives in one Sequential "layers", numbered like a Python nn.Sequential built in the
// same order (ReLUs take an index but hold no state). E.g. num_layers=2, norm "batch", last_bn:
//   layers.0 Linear(in, hidden, bias=False)   layers.0.weight
//   layers.1 BN(hidden)                       layers.1.{weight,bias,running_mean,running_var,num_batches_tracked}
//   layers.2 ReLU
//   layers.3 Linear(hidden, out, bias=False)  layers.3.weight
//   layers.4 BN(out, affine=False)            layers.4.{running_mean,running_var,num_batches_tracked}
// The BNs are selfsup BatchNorm2d (works on N x D), so set_bn_splits reaches them too.
class MlpHeadImpl : public torch::nn::Module {
 public:
  explicit MlpHeadImpl(const MlpHeadOptions& options);
  // N x in_dim -> N x out_dim.
  torch::Tensor forward(const torch::Tensor& x);

  const MlpHeadOptions options;
  torch::nn::Sequential layers;
};
TORCH_MODULE(MlpHead);

// A Linear whose weight rows are standardised (zero mean, unit variance over the fan-in) at every
// forward (Qiao et al. 2019, used with GroupNorm by "BYOL works even without batch statistics").
// Same parameter names as torch.nn.Linear.
class WsLinearImpl : public torch::nn::Module {
 public:
  WsLinearImpl(int64_t in, int64_t out, bool bias);
  torch::Tensor forward(const torch::Tensor& x);
  torch::Tensor weight, bias;
};
TORCH_MODULE(WsLinear);

// Checks a head normalisation name; throws selfsup::Error naming `key` otherwise.
void check_head_norm(const std::string& norm, const std::string& key);

}  // namespace selfsup::models
