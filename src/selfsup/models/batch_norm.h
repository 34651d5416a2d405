// BatchNorm with torch-identical parameter/buffer names, plus "split" mode: in training each of
// `splits` groups of the batch uses its own statistics (per-GPU BN, simulated on one device).
#pragma once

#include <torch/torch.h>

#include <cstdint>

namespace selfsup::models {

struct BatchNorm2dOptions {
  /* implicit */ BatchNorm2dOptions(int64_t num_features) : num_features_(num_features) {}
  TORCH_ARG(int64_t, num_features);
  TORCH_ARG(double, eps) = 1e-5;
  TORCH_ARG(double, momentum) = 0.1;
  // false: no weight/bias (SimSiam / MoCo v3 output BN); the state dict then has buffers only.
  TORCH_ARG(bool, affine) = true;
  // Training-mode batch groups with separate statistics; 1 = ordinary BN.
  TORCH_ARG(int64_t, splits) = 1;
  // SyncBatchNorm: with several processes (core/distributed.h), training-mode statistics of the
  // global batch; one process: ordinary BN. Excludes splits > 1.
  TORCH_ARG(bool, sync) = false;
  // Per-sample normalisation over channels and positions (GroupNorm with one group, i.e. a
  // LayerNorm over C x H x W with a per-channel affine), in training and eval alike; the running
  // statistics stay unused. CPC v2's cure for BatchNorm leaking information between the patches
  // of a batch. Overrides splits and sync.
  TORCH_ARG(bool, layer_norm) = false;
};

// Normalises N x C x ... over all dims except C, so it also serves as BatchNorm1d on N x D
// (state-dict keys are the same as torch.nn.BatchNorm1d/2d). State dict:
// weight, bias (affine only), running_mean, running_var, num_batches_tracked.
//
// With splits = s > 1 in training mode, samples k, k+s, k+2s, ... (x[k::s]) form group k, as in
// the MoCo reference SplitBatchNorm; each group is normalised with its own batch statistics and
// the running stats move towards the average of the groups' statistics. Strided rather than
// contiguous groups cost nothing (a view) and, for a batch cat([view1, view2]) whose halves are
// divisible by s, give each group both views of the same images, as each GPU has under DDP.
// N % s != 0 throws selfsup::Error. Eval mode always uses the running stats, whatever `splits`.
class BatchNorm2dImpl : public torch::nn::Module {
 public:
  explicit BatchNorm2dImpl(const BatchNorm2dOptions& options);
  BatchNorm2dImpl(int64_t num_features) : BatchNorm2dImpl(BatchNorm2dOptions(num_features)) {}

  torch::Tensor forward(const torch::Tensor& x);
  void reset_parameters();
  void reset_running_stats();

  int64_t splits() const { return options.splits(); }
  void set_splits(int64_t splits);
  void set_sync(bool sync);

  BatchNorm2dOptions options;
  torch::Tensor weight, bias;  // undefined when !affine
  torch::Tensor running_mean, running_var, num_batches_tracked;

 private:
  torch::Tensor forward_split(const torch::Tensor& x);
  torch::Tensor forward_sync(const torch::Tensor& x);
};
TORCH_MODULE(BatchNorm2d);

// Sets `splits` on every BatchNorm2d in `root` (root included). splits < 1 throws selfsup::Error.
void set_bn_splits(torch::nn::Module& root, int64_t splits);
// Makes every BatchNorm2d in `root` a SyncBatchNorm (BatchNorm2dOptions::sync).
void set_sync_bn(torch::nn::Module& root, bool sync);
// Makes every BatchNorm2d in `root` normalise per sample (BatchNorm2dOptions::layer_norm).
void set_layer_norm(torch::nn::Module& root);

}  // namespace selfsup::models
