// MlpHead: builds the Sequential described in heads.h.
#include "selfsup/models/heads.h"

#include <cmath>
#include <numeric>
#include <string>

#include "selfsup/core/error.h"

namespace selfsup::models {

namespace {

namespace nn = torch::nn;

void check(const MlpHeadOptions& o) {
  const bool hidden_ok = o.num_layers() == 1 || o.hidden_dim() >= 1;
  if (o.in_dim() < 1 || o.out_dim() < 1 || o.num_layers() < 1 || !hidden_ok)
    throw Error("MlpHead: need in_dim, out_dim, num_layers >= 1 (and hidden_dim >= 1 with more "
                "than one layer); got in_dim " + std::to_string(o.in_dim()) + ", hidden_dim " +
                std::to_string(o.hidden_dim()) + ", out_dim " + std::to_string(o.out_dim()) +
                ", num_layers " + std::to_string(o.num_layers()));
  check_head_norm(o.norm(), "MlpHead norm");
}

nn::AnyModule linear(int64_t in, int64_t out, bool bias, bool weight_standardised) {
  if (weight_standardised) return nn::AnyModule(WsLinear(in, out, bias));
  return nn::AnyModule(nn::Linear(nn::LinearOptions(in, out).bias(bias)));
}

nn::AnyModule norm_layer(const std::string& norm, int64_t dim) {
  if (norm == "batch") return nn::AnyModule(BatchNorm2d(dim));
  if (norm == "layer") return nn::AnyModule(nn::LayerNorm(nn::LayerNormOptions({dim})));
  // GroupNorm: 32 groups where the width allows (Wu & He 2018), fewer otherwise.
  return nn::AnyModule(nn::GroupNorm(nn::GroupNormOptions(std::gcd<int64_t>(32, dim), dim)));
}

}  // namespace

void check_head_norm(const std::string& norm, const std::string& key) {
  if (norm != "batch" && norm != "layer" && norm != "group_ws" && norm != "none")
    throw Error(key + ": unknown normalisation '" + norm + "' (expected batch, layer, group_ws or none)");
}

MlpHeadImpl::MlpHeadImpl(const MlpHeadOptions& options_) : options(options_) {
  check(options);
  const bool ws = options.norm() == "group_ws";
  const bool has_norm = options.norm() != "none";
  int64_t dim = options.in_dim();
  for (int64_t i = 0; i + 1 < options.num_layers(); ++i) {
    layers->push_back(linear(dim, options.hidden_dim(), options.bias() && options.norm() != "batch", ws));
    if (has_norm) layers->push_back(norm_layer(options.norm(), options.hidden_dim()));
    layers->push_back(nn::ReLU());
    dim = options.hidden_dim();
  }
  layers->push_back(linear(dim, options.out_dim(), options.bias() && !options.last_bn(), ws));
  if (options.last_bn())
    layers->push_back(BatchNorm2d(BatchNorm2dOptions(options.out_dim()).affine(false)));
  register_module("layers", layers);
}

torch::Tensor MlpHeadImpl::forward(const torch::Tensor& x) { return layers->forward(x); }

WsLinearImpl::WsLinearImpl(int64_t in, int64_t out, bool with_bias) {
  // torch.nn.Linear's initialisation (kaiming-uniform with a = sqrt(5), i.e. U(-1/sqrt(in), 1/sqrt(in))).
  const double bound = 1.0 / std::sqrt(static_cast<double>(in));
  weight = register_parameter("weight", torch::empty({out, in}).uniform_(-bound, bound));
  if (with_bias) bias = register_parameter("bias", torch::empty({out}).uniform_(-bound, bound));
}

torch::Tensor WsLinearImpl::forward(const torch::Tensor& x) {
  const auto mean = weight.mean(1, /*keepdim=*/true);
  const auto var = weight.var(1, /*unbiased=*/false, /*keepdim=*/true);
  const auto w = (weight - mean) / torch::sqrt(var + 1e-5);
  return torch::nn::functional::linear(x, w, bias.defined() ? bias : torch::Tensor());
}

}  // namespace selfsup::models
