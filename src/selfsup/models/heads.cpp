// MlpHead: builds the Sequential described in heads.h.
#include "selfsup/models/heads.h"

#include "selfsup/core/error.h"

#include <string>

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
}

nn::Linear linear(int64_t in, int64_t out, bool bias) {
  return nn::Linear(nn::LinearOptions(in, out).bias(bias));
}

}  // namespace

MlpHeadImpl::MlpHeadImpl(const MlpHeadOptions& options_) : options(options_) {
  check(options);
  int64_t dim = options.in_dim();
  for (int64_t i = 0; i + 1 < options.num_layers(); ++i) {
    layers->push_back(linear(dim, options.hidden_dim(), options.bias() && !options.batch_norm()));
    if (options.batch_norm()) layers->push_back(BatchNorm2d(options.hidden_dim()));
    layers->push_back(nn::ReLU());
    dim = options.hidden_dim();
  }
  layers->push_back(linear(dim, options.out_dim(), options.bias() && !options.last_bn()));
  if (options.last_bn())
    layers->push_back(BatchNorm2d(BatchNorm2dOptions(options.out_dim()).affine(false)));
  register_module("layers", layers);
}

torch::Tensor MlpHeadImpl::forward(const torch::Tensor& x) { return layers->forward(x); }

}  // namespace selfsup::models
