// BatchNorm2d / SplitBatchNorm: the split groups become extra channels of one batch_norm call.
#include "selfsup/models/batch_norm.h"

#include "selfsup/core/distributed.h"
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
  if (splits > 1 && options.sync()) throw Error("BatchNorm2d: split groups and SyncBatchNorm exclude each other");
  options.splits(splits);
}

void BatchNorm2dImpl::set_sync(bool sync) {
  if (sync && options.splits() > 1) throw Error("BatchNorm2d: split groups and SyncBatchNorm exclude each other");
  options.sync(sync);
}

torch::Tensor BatchNorm2dImpl::forward(const torch::Tensor& x) {
  if (x.dim() < 2 || x.size(1) != options.num_features())
    throw Error("BatchNorm2d: expected N x " + std::to_string(options.num_features()) +
                " x ... input, got " + c10::str(x.sizes()));
  if (options.layer_norm()) return torch::group_norm(x, 1, weight, bias, options.eps(), cudnn_enabled());
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
  if (options.sync() && dist::active()) return forward_sync(x);
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

// SyncBatchNorm as torch.nn.SyncBatchNorm computes it: each process's count, mean and biased
// variance (accurate two-pass statistics), gathered with their gradient and combined
// (Chan et al.'s parallel variance), so backward reaches every process's inputs.
torch::Tensor BatchNorm2dImpl::forward_sync(const torch::Tensor& x) {
  const int64_t c = options.num_features();
  std::vector<int64_t> dims{0}, shape(x.dim(), 1);
  for (int64_t d = 2; d < x.dim(); ++d) dims.push_back(d);
  shape[1] = c;
  const auto [var, mean] = torch::var_mean(x, dims, /*unbiased=*/false);
  const auto count = torch::full({1}, static_cast<double>(x.numel() / c), mean.options());
  const auto all = dist::gather_batch_with_grad(torch::cat({count, mean, var}).unsqueeze(0));  // W x (1 + 2C)
  const auto counts = all.narrow(1, 0, 1), means = all.narrow(1, 1, c), vars = all.narrow(1, 1 + c, c);
  const auto total = counts.sum();
  const auto global_mean = (counts * means).sum(0) / total;
  const auto global_var = (counts * (vars + (means - global_mean).pow(2))).sum(0) / total;
  {
    torch::NoGradGuard no_grad;
    const double m = options.momentum(), n = total.item<double>();
    running_mean.mul_(1 - m).add_(global_mean.detach(), m);
    running_var.mul_(1 - m).add_(global_var.detach() * (n / std::max(n - 1, 1.0)), m);
  }
  auto y = (x - global_mean.view(shape)) * torch::rsqrt(global_var.view(shape) + options.eps());
  if (options.affine()) y = y * weight.view(shape) + bias.view(shape);
  return y;
}

void set_sync_bn(torch::nn::Module& root, bool sync) {
  root.apply([sync](torch::nn::Module& m) {
    if (auto* bn = dynamic_cast<BatchNorm2dImpl*>(&m)) bn->set_sync(sync);
  });
}

void set_layer_norm(torch::nn::Module& root) {
  root.apply([](torch::nn::Module& m) {
    if (auto* bn = dynamic_cast<BatchNorm2dImpl*>(&m)) bn->options.layer_norm(true);
  });
}

void set_bn_splits(torch::nn::Module& root, int64_t splits) {
  check_splits(splits);
  root.apply([splits](torch::nn::Module& m) {
    if (auto* bn = dynamic_cast<BatchNorm2dImpl*>(&m)) bn->set_splits(splits);
  });
}

}  // namespace selfsup::models
