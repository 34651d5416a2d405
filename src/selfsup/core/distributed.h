// Several processes training one model (data parallelism) on PyTorch's c10d: rendezvous through a
// TCPStore, collectives through ProcessGroupGloo (CPU tensors) or ProcessGroupNCCL (CUDA builds).
// The launcher (torchrun, SLURM's srun, scripts/launch.sh) says who is who through environment
// variables; without them there is one process and every function here is a cheap no-op, so code
// calls them unconditionally.
//
// Batch layout: the trainer's global batch is dealt out strided — rank r of W holds positions
// r, r+W, r+2W, ... (data::LoaderOptions::shard_*). gather_batch() undoes that, giving every rank
// the global batch in the order a single process would have it, so a loss computed on gathered
// tensors is the single-process loss, and BatchNorm's strided split groups (models/batch_norm.h)
// coincide with the ranks' batches.
#pragma once

#include <torch/torch.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>

namespace selfsup::dist {

// Who this process is, as the launcher described it.
struct WorldInfo {
  int64_t rank = 0, size = 1;              // global
  int64_t local_rank = 0, local_size = 1;  // on this machine (picks the CUDA device)
  std::string master_addr = "127.0.0.1";
  int64_t master_port = 29500;
  std::string launcher;  // "torchrun" (RANK, WORLD_SIZE, ...), "slurm" (SLURM_PROCID, ...) or "" (one process)
};

// Reads torchrun's variables (RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR,
// MASTER_PORT), else SLURM's (SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID, SLURM_NTASKS_PER_NODE,
// master = first host of SLURM_JOB_NODELIST unless MASTER_ADDR is set). Neither, or a world of one:
// a single process. A malformed value throws selfsup::Error naming the variable.
WorldInfo world_from_environment();

// The first host name of a SLURM node list: "gpu[07-09,12],cpu3" -> "gpu07".
std::string first_slurm_host(const std::string& nodelist);

// A collective failed: another process died, the network broke, or the timeout passed. The
// message says which rank saw it and why; the CLI exits 1 (not a bad-input error).
class CommunicationError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Joins the process group of `world` (rank 0 hosts the TCPStore), for tensors on `device`.
// `timeout` bounds the rendezvous and every collective: a dead peer ends the others with a
// CommunicationError instead of a hang. A port in use, an unreachable master or a CUDA device
// without NCCL support throw selfsup::Error. No-op for a world of one.
void init(const WorldInfo& world, torch::Device device, std::chrono::seconds timeout);
// Leaves the group (also safe when never joined).
void shutdown();

bool active();          // more than one process
int64_t rank();         // 0 when not active
int64_t world_size();   // 1 when not active
bool is_main();         // rank 0: the process that prints, writes files and evaluates
std::string backend();  // "gloo", "nccl" or "" (single process)

// In-place sum over ranks (no autograd).
void all_reduce_sum_(torch::Tensor& t);
// An in-place sum over ranks running on the backend's own threads; wait() finishes it (and throws
// CommunicationError like the blocking calls). Default-constructed: nothing to wait for.
class PendingSum {
 public:
  PendingSum() = default;
  explicit PendingSum(std::function<void()> wait) : wait_(std::move(wait)) {}
  void wait() {
    if (wait_) wait_();
    wait_ = nullptr;
  }
 private:
  std::function<void()> wait_;
};
PendingSum all_reduce_sum_async_(torch::Tensor& t);
// In-place copy of rank `root`'s tensor to every rank.
void broadcast_(torch::Tensor& t, int64_t root = 0);
// Every rank's equally-shaped `t`, concatenated in rank order along dim 0 (no autograd).
torch::Tensor all_gather(const torch::Tensor& t);

// The global batch from each rank's strided part (see the top of this file), no autograd.
torch::Tensor gather_batch(const torch::Tensor& local);
// The same, differentiable: the gradient reaching `local` is the sum over ranks of the gradient
// each rank's loss sends to this rank's rows (what torch.distributed.nn.all_gather does). With the
// trainer averaging parameter gradients over ranks, a loss every rank computes on gathered
// embeddings trains exactly as that loss on one process.
torch::Tensor gather_batch_with_grad(const torch::Tensor& local);
// This rank's strided part of a global batch: rows rank, rank+W, ...
torch::Tensor local_part(const torch::Tensor& global);
// Sum over ranks, differentiable (backward sums the gradients over ranks), e.g. SyncBatchNorm's
// statistics.
torch::Tensor all_reduce_sum_with_grad(const torch::Tensor& t);

}  // namespace selfsup::dist
