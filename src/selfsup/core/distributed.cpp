#include "selfsup/core/distributed.h"

#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#ifdef SELFSUP_WITH_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <cstdlib>
#include <memory>
#include <vector>

#include "selfsup/core/error.h"

namespace selfsup::dist {
namespace {

struct Group {
  WorldInfo world;
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroup> pg;
  std::string backend;
};
std::unique_ptr<Group>& group() {
  static std::unique_ptr<Group> g;
  return g;
}

const char* env(const char* name) {
  const char* v = std::getenv(name);
  return v && *v ? v : nullptr;
}

int64_t env_int(const char* name, int64_t fallback, int64_t min_value) {
  const char* v = env(name);
  if (!v) return fallback;
  char* end = nullptr;
  const long long value = std::strtoll(v, &end, 10);
  if (*end != '\0' || value < min_value)
    throw Error(std::string("environment variable ") + name + "=" + v + ": expected an integer >= " + std::to_string(min_value));
  return value;
}

// Runs a collective and turns c10d's failures into one line naming this rank.
template <typename F>
void communicate(const char* what, F&& f) {
  try {
    f();
  } catch (const std::exception& e) {  // c10::Error, or Gloo's own IoException
    std::string why = e.what();
    why = why.substr(0, why.find('\n'));
    const bool lost = why.find("closed") != std::string::npos || why.find("imed out") != std::string::npos ||
                      why.find("reset by peer") != std::string::npos || why.find("Broken pipe") != std::string::npos;
    throw CommunicationError("rank " + std::to_string(rank()) + " of " + std::to_string(world_size()) + ": " + what +
                             " failed" + (lost ? " (another process stopped, or the timeout passed)" : "") + ": " + why);
  }
}

void wait(const c10::intrusive_ptr<c10d::Work>& work) { work->wait(); }

class GatherBatchWithGrad : public torch::autograd::Function<GatherBatchWithGrad> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext*, const torch::Tensor& local) {
    return gather_batch(local.detach());
  }
  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext*, torch::autograd::tensor_list grads) {
    auto g = grads[0].contiguous().clone();
    all_reduce_sum_(g);
    return {local_part(g).contiguous()};
  }
};

class AllReduceSumWithGrad : public torch::autograd::Function<AllReduceSumWithGrad> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext*, const torch::Tensor& t) {
    auto out = t.detach().contiguous().clone();
    all_reduce_sum_(out);
    return out;
  }
  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext*, torch::autograd::tensor_list grads) {
    auto g = grads[0].contiguous().clone();
    all_reduce_sum_(g);
    return {g};
  }
};

bool is_loopback(const std::string& host) { return host == "localhost" || host.rfind("127.", 0) == 0; }

}  // namespace

std::string first_slurm_host(const std::string& nodelist) {
  // "a[1-3,5],b" -> prefix "a", first range "1-3" -> "a1"; a plain first entry is returned as is.
  const auto comma = nodelist.find(',');
  const auto bracket = nodelist.find('[');
  if (bracket == std::string::npos || (comma != std::string::npos && comma < bracket)) return nodelist.substr(0, comma);
  const auto end = nodelist.find_first_of(",-]", bracket + 1);
  if (end == std::string::npos) throw Error("SLURM_JOB_NODELIST=" + nodelist + ": expected host[range,...] entries");
  return nodelist.substr(0, bracket) + nodelist.substr(bracket + 1, end - bracket - 1);
}

WorldInfo world_from_environment() {
  WorldInfo w;
  if (env("WORLD_SIZE") || env("RANK")) {
    w.launcher = "torchrun";
    w.size = env_int("WORLD_SIZE", 1, 1);
    w.rank = env_int("RANK", 0, 0);
    w.local_rank = env_int("LOCAL_RANK", w.rank, 0);
    w.local_size = env_int("LOCAL_WORLD_SIZE", w.size, 1);
  } else if (env("SLURM_PROCID") && env("SLURM_NTASKS")) {
    w.launcher = "slurm";
    w.size = env_int("SLURM_NTASKS", 1, 1);
    w.rank = env_int("SLURM_PROCID", 0, 0);
    w.local_rank = env_int("SLURM_LOCALID", 0, 0);
    // "4" or "4(x2)" per node; only the leading count matters here.
    w.local_size = env("SLURM_NTASKS_PER_NODE") ? std::max(1L, std::atol(env("SLURM_NTASKS_PER_NODE"))) : 1;
    if (const char* nodes = env("SLURM_JOB_NODELIST")) w.master_addr = first_slurm_host(nodes);
  } else {
    return w;
  }
  if (const char* addr = env("MASTER_ADDR")) w.master_addr = addr;
  w.master_port = env_int("MASTER_PORT", 29500, 1);
  if (w.master_port > 65535) throw Error("environment variable MASTER_PORT=" + std::to_string(w.master_port) + ": expected a port <= 65535");
  if (w.rank >= w.size)
    throw Error("environment: rank " + std::to_string(w.rank) + " is not below the world size " + std::to_string(w.size));
  if (w.local_rank >= w.local_size)
    throw Error("environment: local rank " + std::to_string(w.local_rank) + " is not below the local world size " +
                std::to_string(w.local_size));
  return w;
}

void init(const WorldInfo& world, torch::Device device, std::chrono::seconds timeout) {
  if (world.size <= 1 || group()) return;
  auto g = std::make_unique<Group>();
  g->world = world;
  const std::string where = world.master_addr + ":" + std::to_string(world.master_port);
  try {
    c10d::TCPStoreOptions o;
    o.port = static_cast<uint16_t>(world.master_port);
    o.isServer = world.rank == 0;
    o.numWorkers = static_cast<size_t>(world.size);
    o.waitWorkers = true;
    o.timeout = timeout;
    g->store = c10::make_intrusive<c10d::TCPStore>(world.master_addr, o);
  } catch (const std::exception& e) {
    std::string why = e.what();
    why = why.substr(0, why.find('\n'));
    if (world.rank == 0)
      throw Error("MASTER_PORT " + std::to_string(world.master_port) + ": rank 0 cannot serve the rendezvous at " + where +
                  " (port in use? choose another MASTER_PORT), or not all " + std::to_string(world.size) +
                  " processes joined within " + std::to_string(timeout.count()) + " s: " + why);
    throw Error("MASTER_ADDR " + where + ": rank " + std::to_string(world.rank) + " cannot reach rank 0's rendezvous within " +
                std::to_string(timeout.count()) + " s: " + why);
  }
  if (device.is_cuda()) {
#ifdef SELFSUP_WITH_NCCL
    auto o = c10d::ProcessGroupNCCL::Options::create();
    o->timeout = timeout;
    g->pg = c10::make_intrusive<c10d::ProcessGroupNCCL>(g->store, world.rank, world.size, o);
    g->backend = "nccl";
#else
    throw Error("device " + device.str() + ": multi-process training on CUDA needs NCCL, which this LibTorch build lacks "
                "(build against the official CUDA LibTorch, or train on cpu with Gloo)");
#endif
  } else {
    auto o = c10d::ProcessGroupGloo::Options::create(timeout);
    if (const char* ifname = env("GLOO_SOCKET_IFNAME"))
      o->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
    else if (is_loopback(world.master_addr))
      o->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
    else
      o->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
    o->threads = 2;
    try {
      g->pg = c10::make_intrusive<c10d::ProcessGroupGloo>(g->store, world.rank, world.size, o);
    } catch (const std::exception& e) {
      std::string why = e.what();
      throw Error("rank " + std::to_string(world.rank) + ": cannot connect to the other processes through " + where + ": " +
                  why.substr(0, why.find('\n')));
    }
    g->backend = "gloo";
  }
  group() = std::move(g);
}

void shutdown() { group().reset(); }

bool active() { return group() != nullptr; }
int64_t rank() { return group() ? group()->world.rank : 0; }
int64_t world_size() { return group() ? group()->world.size : 1; }
bool is_main() { return rank() == 0; }
std::string backend() { return group() ? group()->backend : ""; }

// Gloo (LibTorch 1.13) has no bfloat16 collectives ("Invalid scalar type"), and bf16 autocast
// (precision auto on CPUs with AMX) makes activations such as MoCo's keys bf16: they travel as fp32.
bool gloo_bf16(const torch::Tensor& t) { return t.scalar_type() == torch::kBFloat16 && backend() == "gloo"; }

void all_reduce_sum_(torch::Tensor& t) {
  if (!active()) return;
  if (gloo_bf16(t)) {
    auto f = t.to(torch::kFloat32);
    all_reduce_sum_(f);
    t.copy_(f);
    return;
  }
  communicate("all_reduce", [&] {
    std::vector<torch::Tensor> ts{t};
    wait(group()->pg->allreduce(ts));
  });
}

PendingSum all_reduce_sum_async_(torch::Tensor& t) {
  if (!active()) return {};
  if (gloo_bf16(t)) {
    all_reduce_sum_(t);
    return {};
  }
  c10::intrusive_ptr<c10d::Work> work;
  communicate("all_reduce", [&] {
    std::vector<torch::Tensor> ts{t};
    work = group()->pg->allreduce(ts);
  });
  return PendingSum([work] { communicate("all_reduce", [&] { wait(work); }); });
}

void broadcast_(torch::Tensor& t, int64_t root) {
  if (!active()) return;
  if (gloo_bf16(t)) {
    auto f = t.to(torch::kFloat32);
    broadcast_(f, root);
    t.copy_(f);
    return;
  }
  communicate("broadcast", [&] {
    std::vector<torch::Tensor> ts{t};
    c10d::BroadcastOptions o;
    o.rootRank = root;
    wait(group()->pg->broadcast(ts, o));
  });
}

torch::Tensor all_gather(const torch::Tensor& t) {
  if (!active()) return t;
  if (gloo_bf16(t)) return all_gather(t.to(torch::kFloat32)).to(torch::kBFloat16);
  const auto local = t.contiguous();
  std::vector<std::vector<torch::Tensor>> out(1);
  for (int64_t r = 0; r < world_size(); ++r) out[0].push_back(torch::empty_like(local));
  communicate("all_gather", [&] {
    std::vector<torch::Tensor> in{local};
    wait(group()->pg->allgather(out, in));
  });
  return torch::cat(out[0]);
}

torch::Tensor gather_batch(const torch::Tensor& local) {
  if (!active()) return local;
  auto by_rank = local.sizes().vec();  // W x n x ...
  by_rank.insert(by_rank.begin(), world_size());
  auto global = local.sizes().vec();  // (n * W) x ...
  global[0] *= world_size();
  // Rank-major (rank, row) -> batch order (row, rank): position row * W + rank.
  return all_gather(local).view(by_rank).transpose(0, 1).reshape(global);
}

torch::Tensor gather_batch_with_grad(const torch::Tensor& local) {
  if (!active()) return local;
  return GatherBatchWithGrad::apply(local);
}

torch::Tensor local_part(const torch::Tensor& global) {
  if (!active()) return global;
  return global.slice(0, rank(), global.size(0), world_size());
}

torch::Tensor all_reduce_sum_with_grad(const torch::Tensor& t) {
  if (!active()) return t;
  return AllReduceSumWithGrad::apply(t);
}

}  // namespace selfsup::dist
