// Data parallelism's gradient exchange, as PyTorch's DistributedDataParallel does it: parameters
// are grouped into buckets (in reverse registration order, roughly the order backward produces
// their gradients); an autograd hook copies each gradient into its bucket as soon as it exists,
// and a full bucket starts its all_reduce while backward goes on. finish() waits for the sums and
// writes the average back into every parameter's .grad, so the optimiser step is the same on every
// process. Without other processes it does nothing.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "selfsup/core/distributed.h"

namespace selfsup::train {

class GradientAverager {
 public:
  // `params`: what the optimiser updates. `bucket_bytes`: fp32 gradient bytes per all_reduce
  // (default: SELFSUP_BUCKET_MB from the environment, else 2 MiB; a size above the model's means one
  // all_reduce after backward, i.e. no overlap).
  explicit GradientAverager(std::vector<torch::Tensor> params, int64_t bucket_bytes = default_bucket_bytes());
  static int64_t default_bucket_bytes();
  ~GradientAverager();
  GradientAverager(const GradientAverager&) = delete;
  GradientAverager& operator=(const GradientAverager&) = delete;

  // Around the step's backward pass. Hooks act only in between, so any other backward pass (an
  // evaluation's fine-tuning) leaves the other processes alone.
  void begin();
  void finish();

  int64_t bytes_per_step() const;  // all_reduced per step (fp32 gradients)
  int64_t buckets() const { return static_cast<int64_t>(buckets_.size()); }
  // Seconds finish() spent waiting for sums still in flight after backward (the exchange that
  // backward did not hide), summed since construction.
  double wait_seconds() const { return wait_seconds_; }

 private:
  struct Slot {
    int64_t bucket = 0, offset = 0;
    bool got = false;
  };
  struct Bucket {
    std::vector<int64_t> params;
    torch::Tensor flat;
    int64_t pending = 0;
    dist::PendingSum sum;
    bool launched = false;
  };
  void on_gradient(int64_t param, const torch::Tensor& grad);
  void launch(Bucket& b);

  std::vector<torch::Tensor> params_;
  std::vector<Slot> slots_;
  std::vector<Bucket> buckets_;
  // Set by begin(), cleared by finish() and the destructor. The hooks stay on the parameters after
  // the averager is gone, so they hold the flag weakly and touch the averager only while armed.
  std::shared_ptr<bool> armed_;
  double wait_seconds_ = 0;
};

}  // namespace selfsup::train
