// Data parallelism over the processes of core/distributed.h: joining the group for a run, the
// start-up and consistency checks, and the gradient exchange.
//
// The gradient exchange works as PyTorch's DistributedDataParallel does it: parameters
// are grouped into buckets (in reverse registration order, roughly the order backward produces
// their gradients); an autograd hook copies each gradient into its bucket as soon as it exists,
// and a full bucket starts its all_reduce while backward goes on. finish() waits for the sums and
// writes the average back into every parameter's .grad, so the optimiser step is the same on every
// process. Without other processes it does nothing.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "selfsup/core/distributed.h"

namespace selfsup::train {

// Joins the launcher's process group for a run's lifetime (nothing for a world of one); the other
// processes print nothing to stdout, rank 0 speaks for all of them.
class ProcessGroupSession {
 public:
  ProcessGroupSession(const dist::WorldInfo& world, torch::Device device, int64_t timeout_seconds);
  ~ProcessGroupSession();
  ProcessGroupSession(const ProcessGroupSession&) = delete;
  ProcessGroupSession& operator=(const ProcessGroupSession&) = delete;

 private:
  std::streambuf* quiet_ = nullptr;
};

// Processes started with different recipes (or overrides) would train different things and fail
// deep inside a collective: throws selfsup::Error when the hash of `recipe_yaml` differs anywhere.
void check_same_recipe(const std::string& recipe_yaml);
// Every process takes rank 0's parameters and buffers (as DDP does at start), whatever it built.
void broadcast_state(torch::nn::Module& model);
// BatchNorm running statistics are per process (without SyncBN): their mean over the processes,
// which is what one process keeps for BN split groups (models/batch_norm.h). Call it on every
// process at the same point, before rank 0 saves or evaluates.
void average_bn_statistics(torch::nn::Module& model);
// Every process must hold the same weights, momentum networks, queues and statistics: compares a
// hash of the whole state, so a divergence is caught where it starts instead of silently training
// W different models. Throws dist::CommunicationError naming the step.
void check_processes_agree(const torch::nn::Module& model, int64_t step);

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
