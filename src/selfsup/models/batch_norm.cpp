// BatchNorm2d / SplitBatchNorm: the split groups become extra channels of one batch_norm call.
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
  if (x.size(0) % options.splits() != 0)
    throw Error("BatchNorm2d: batch size " + std::to_string(x.size(0)) +
                " is not divisible by splits " + std::to_string(options.splits()));
  {
    torch::NoGradGuard no_grad;
    num_batches_tracked.add_(1);
  }
  if (options.splits() == 1)
    return torch::batch_norm(x, weight, bias, running_mean, running_var, true,
                             options.momentum(), options.eps(), cudnn_enabled());
  return forward_split(x);
}

// The MoCo reference SplitBatchNorm trick: viewing N x C x ... as (N/s) x (s*C) x ... puts sample
// n's channel c at channel (n % s) * C + c, so one fused batch_norm call with weight/bias/stats
// repeated s times normalises each group x[k::s] on its own; no copies, one kernel.
torch::Tensor BatchNorm2dImpl::forward_split(const torch::Tensor& x) {
  const int64_t s = options.splits(), n = x.size(0), c = options.num_features();
  std::vector<int64_t> grouped(x.sizes().begin(), x.sizes().end());
  grouped[0] = n / s;
  grouped[1] = c * s;
  auto mean = running_mean.repeat({s}), var = running_var.repeat({s});
  auto y = torch::batch_norm(x.reshape(grouped), options.affine() ? weight.repeat({s}) : weight,
                             options.affine() ? bias.repeat({s}) : bias, mean, var, true,
                             options.momentum(), options.eps(), cudnn_enabled());
  {
    torch::NoGradGuard no_grad;
    running_mean.copy_(mean.view({s, c}).mean(0));
    running_var.copy_(var.view({s, c}).mean(0));
  }
  return y.view(x.sizes());
}

void set_bn_splits(torch::nn::Module& root, int64_t splits) {
  check_splits(splits);
  root.apply([splits](torch::nn::Module& m) {
    if (auto* bn = dynamic_cast<BatchNorm2dImpl*>(&m)) bn->set_splits(splits);
  });
}

}  // namespace selfsup::models
