// BatchNorm2d / SplitBatchNorm: one fused batch_norm call per group, running stats averaged back.
#include "selfsup/models/batch_norm.h"

#include "selfsup/core/error.h"

#include <string>
#include <vector>

namespace selfsup::models {

namespace {

void check_splits(int64_t splits) {
  if (splits < 1) throw Error("BatchNorm2d: splits must be >= 1, got " + std::to_string(splits));
}

bool cudnn_enabled() { return at::globalContext().userEnabledCuDNN(); }

}  // namespace

BatchNorm2dImpl::BatchNorm2dImpl(const BatchNorm2dOptions& options_) : options(options_) {
  check_splits(options.splits());
  const int64_t c = options.num_features();
  if (options.affine()) {
    weight = register_parameter("weight", torch::empty({c}));
    bias = register_parameter("bias", torch::empty({c}));
  }
  running_mean = register_buffer("running_mean", torch::zeros({c}));
  running_var = register_buffer("running_var", torch::ones({c}));
  num_batches_tracked = register_buffer("num_batches_tracked", torch::zeros({}, torch::kLong));
  reset_parameters();
}

void BatchNorm2dImpl::reset_running_stats() {
  torch::NoGradGuard no_grad;
  running_mean.zero_();
  running_var.fill_(1);
  num_batches_tracked.zero_();
}

void BatchNorm2dImpl::reset_parameters() {
  reset_running_stats();
  if (!options.affine()) return;
  torch::NoGradGuard no_grad;
  weight.fill_(1);
  bias.zero_();
}

void BatchNorm2dImpl::set_splits(int64_t splits) {
  check_splits(splits);
  options.splits(splits);
}

torch::Tensor BatchNorm2dImpl::forward(const torch::Tensor& x) {
  if (x.dim() < 2 || x.size(1) != options.num_features())
    throw Error("BatchNorm2d: expected N x " + std::to_string(options.num_features()) +
                " x ... input, got " + c10::str(x.sizes()));
  if (!is_training())
    return torch::batch_norm(x, weight, bias, running_mean, running_var, false,
                             options.momentum(), options.eps(), cudnn_enabled());
  {
    torch::NoGradGuard no_grad;
    num_batches_tracked.add_(1);
  }
  if (options.splits() == 1)
    return torch::batch_norm(x, weight, bias, running_mean, running_var, true,
                             options.momentum(), options.eps(), cudnn_enabled());
  return forward_split(x);
}

// Slicing dim 0 keeps each group contiguous, so each batch_norm call is as fast as plain BN; the
// only extra cost is the cat. Every group updates its own copy of the running stats (C floats);
// averaging the copies equals one update with the mean of the groups' statistics.
torch::Tensor BatchNorm2dImpl::forward_split(const torch::Tensor& x) {
  const int64_t s = options.splits(), n = x.size(0);
  if (n % s != 0)
    throw Error("BatchNorm2d: batch size " + std::to_string(n) + " is not divisible by splits " +
                std::to_string(s));
  const int64_t group = n / s;
  std::vector<torch::Tensor> outputs, means, vars;
  for (int64_t k = 0; k < s; ++k) {
    means.push_back(running_mean.clone());
    vars.push_back(running_var.clone());
    outputs.push_back(torch::batch_norm(x.narrow(0, k * group, group), weight, bias, means.back(),
                                        vars.back(), true, options.momentum(), options.eps(),
                                        cudnn_enabled()));
  }
  {
    torch::NoGradGuard no_grad;  // scoped: the cat below must stay differentiable
    running_mean.copy_(torch::stack(means).mean(0));
    running_var.copy_(torch::stack(vars).mean(0));
  }
  return torch::cat(outputs, 0);
}

void set_bn_splits(torch::nn::Module& root, int64_t splits) {
  check_splits(splits);
  root.apply([splits](torch::nn::Module& m) {
    if (auto* bn = dynamic_cast<BatchNorm2dImpl*>(&m)) bn->set_splits(splits);
  });
}

}  // namespace selfsup::models
