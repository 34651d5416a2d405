// Multi-process training (core/distributed.h, train/data_parallel.h): the launcher environment,
// batch sharding, and — with real processes on loopback, Gloo, CPU — that two processes with half
// the batch each train exactly as one process with the whole batch, and that a dead process stops
// the others.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "run_cli.h"
#include "selfsup/core/distributed.h"
#include "selfsup/data/loader.h"
#include "selfsup/models/batch_norm.h"
#include "selfsup/train/checkpoint.h"
#include "test_util.h"

namespace fs = std::filesystem;
using selfsup::test_util::error_message;

namespace {

// Sets environment variables for one test and restores the previous values.
class ScopedEnv {
 public:
  explicit ScopedEnv(std::vector<std::pair<std::string, std::string>> vars) {
    for (const auto& [k, v] : vars) {
      const char* old = std::getenv(k.c_str());
      saved_.emplace_back(k, old ? std::optional<std::string>(old) : std::nullopt);
      setenv(k.c_str(), v.c_str(), 1);
    }
  }
  ~ScopedEnv() {
    for (const auto& [k, v] : saved_) v ? setenv(k.c_str(), v->c_str(), 1) : unsetenv(k.c_str());
  }

 private:
  std::vector<std::pair<std::string, std::optional<std::string>>> saved_;
};

}  // namespace

TEST(Distributed, EnvironmentOfTorchrunAndSlurm) {
  for (const char* k : {"RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT", "SLURM_PROCID",
                        "SLURM_NTASKS", "SLURM_LOCALID", "SLURM_JOB_NODELIST", "SLURM_NTASKS_PER_NODE"})
    ASSERT_EQ(std::getenv(k), nullptr) << k << " is set in the test environment";
  EXPECT_EQ(selfsup::dist::world_from_environment().size, 1);
  {
    ScopedEnv env({{"RANK", "3"}, {"WORLD_SIZE", "4"}, {"LOCAL_RANK", "1"}, {"LOCAL_WORLD_SIZE", "2"},
                   {"MASTER_ADDR", "node7"}, {"MASTER_PORT", "29400"}});
    const auto w = selfsup::dist::world_from_environment();
    EXPECT_EQ(w.launcher, "torchrun");
    EXPECT_EQ(w.rank, 3);
    EXPECT_EQ(w.size, 4);
    EXPECT_EQ(w.local_rank, 1);
    EXPECT_EQ(w.local_size, 2);
    EXPECT_EQ(w.master_addr, "node7");
    EXPECT_EQ(w.master_port, 29400);
  }
  {
    ScopedEnv env({{"SLURM_PROCID", "5"}, {"SLURM_NTASKS", "8"}, {"SLURM_LOCALID", "1"}, {"SLURM_NTASKS_PER_NODE", "4(x2)"},
                   {"SLURM_JOB_NODELIST", "gpu[07-08],cpu1"}});
    const auto w = selfsup::dist::world_from_environment();
    EXPECT_EQ(w.launcher, "slurm");
    EXPECT_EQ(w.rank, 5);
    EXPECT_EQ(w.size, 8);
    EXPECT_EQ(w.local_rank, 1);
    EXPECT_EQ(w.local_size, 4);
    EXPECT_EQ(w.master_addr, "gpu07");
    EXPECT_EQ(w.master_port, 29500);
  }
  EXPECT_EQ(selfsup::dist::first_slurm_host("node3"), "node3");
  EXPECT_EQ(selfsup::dist::first_slurm_host("a,b[1-2]"), "a");
  EXPECT_EQ(selfsup::dist::first_slurm_host("b[12,14]"), "b12");
  {
    ScopedEnv env({{"RANK", "2"}, {"WORLD_SIZE", "2"}});
    EXPECT_NE(error_message([] { selfsup::dist::world_from_environment(); }).find("not below the world size 2"), std::string::npos);
  }
  {
    ScopedEnv env({{"RANK", "0"}, {"WORLD_SIZE", "two"}});
    EXPECT_NE(error_message([] { selfsup::dist::world_from_environment(); }).find("WORLD_SIZE=two: expected an integer"),
              std::string::npos);
  }
}

// One process: the collectives are the identity, so code calls them unconditionally.
TEST(Distributed, SingleProcessCollectivesAreIdentity) {
  ASSERT_FALSE(selfsup::dist::active());
  const auto x = torch::randn({6, 3}, torch::requires_grad());
  EXPECT_TRUE(selfsup::dist::gather_batch_with_grad(x).is_same(x));
  EXPECT_TRUE(selfsup::dist::local_part(x).is_same(x));
  auto y = x.detach().clone();
  selfsup::dist::all_reduce_sum_(y);
  EXPECT_TRUE(torch::equal(y, x.detach()));
}

// The ranks' strided parts of a global batch partition it: together exactly the one-process batch.
TEST(Distributed, LoaderShardsPartitionTheGlobalBatch) {
  selfsup::data::ImageDataset d;
  d.images = torch::arange(40, torch::kUInt8).view({40, 1, 1, 1});
  d.labels = torch::arange(40, torch::kLong);
  d.source = "test";
  selfsup::data::LoaderOptions o;
  o.batch_size = 8;
  o.workers = 0;
  o.seed = 3;
  selfsup::data::Loader whole(d, o);
  whole.start_epoch(1);
  std::vector<torch::Tensor> parts;
  for (int64_t r = 0; r < 2; ++r) {
    auto so = o;
    so.shard_rank = r;
    so.shard_count = 2;
    selfsup::data::Loader shard(d, so);
    EXPECT_EQ(shard.batches_per_epoch(), whole.batches_per_epoch());
    shard.start_epoch(1);
    parts.push_back(shard.next()->indices);
  }
  const auto global = whole.next()->indices;
  EXPECT_TRUE(torch::equal(parts[0], global.slice(0, 0, 8, 2)));
  EXPECT_TRUE(torch::equal(parts[1], global.slice(0, 1, 8, 2)));
  auto bad = o;
  bad.shard_count = 3;
  EXPECT_NE(error_message([&] { selfsup::data::Loader l(d, bad); }).find("cannot be shared by 3 processes"), std::string::npos);
}

// Without other processes SyncBatchNorm is BatchNorm.
TEST(Distributed, SyncBatchNormIsBatchNormInOneProcess) {
  torch::manual_seed(0);
  selfsup::models::BatchNorm2d plain(4), sync(4);
  selfsup::models::set_sync_bn(*sync, true);
  const auto x = torch::randn({8, 4, 3, 3});
  EXPECT_TRUE(torch::allclose(plain->forward(x), sync->forward(x)));
  selfsup::models::set_sync_bn(*sync, false);
  sync->set_splits(2);
  EXPECT_NE(error_message([&] { selfsup::models::set_sync_bn(*sync, true); }).find("exclude each other"), std::string::npos);
}

namespace {

// A free TCP port on loopback for a test's rendezvous. It lies below the kernel's ephemeral range
// (32768 and up by default): a port the kernel hands out (bind to port 0, Gloo's connections, any
// client socket of a test running beside this one) could be taken again between this check and
// launch.sh binding it, and that run would then fail with "port already in use". Each test process
// starts at its own offset so that tests run in parallel do not try the same ports.
int free_port() {
  static int next = 20000 + static_cast<int>(getpid() % 600) * 20;
  for (;; next = next + 1 < 32768 ? next + 1 : 20000) {
    const int s = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(next));
    const bool free = bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    close(s);
    if (free) return next++;
  }
}

// `selfsup train` in `processes` processes through scripts/launch.sh (bounded by `timeout`).
CliResult train_in(int processes, const std::string& args, int timeout_seconds = 240) {
  const std::string train = std::string(SELFSUP_BINARY) + " train " + args;
  if (processes == 1) return run_command("timeout " + std::to_string(timeout_seconds) + " " + train + " 2>&1");
  return run_command("timeout " + std::to_string(timeout_seconds) + " " + std::string(SELFSUP_SOURCE_DIR) +
                     "/scripts/launch.sh -n " + std::to_string(processes) + " --port " + std::to_string(free_port()) +
                     " -- " + train + " 2>&1");
}

std::vector<std::vector<double>> read_csv_numbers(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::vector<double>> rows;
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::vector<double> row;
    std::stringstream s(line);
    for (std::string cell; std::getline(s, cell, ',');) row.push_back(cell.empty() ? 0.0 : std::stod(cell));
    rows.push_back(row);
  }
  return rows;
}

std::map<std::string, torch::Tensor> checkpoint_weights(const std::string& path) {
  torch::serialize::InputArchive archive, model;
  archive.load_from(path);
  archive.read("model", model);
  std::map<std::string, torch::Tensor> out;
  for (const auto& key : model.keys()) {
    torch::Tensor t;
    model.read(key, t, /*is_buffer=*/true);
    out[key] = t;
  }
  return out;
}

// Deterministic views (whole image; the second flipped): the augmentations are the one thing that
// legitimately differs between one process and several (each process draws its own), so the
// equivalence is checked without them.
std::string fixed_views(int64_t views = 2, int64_t local_crops = 0, int64_t size = 28) {
  auto view = [&](int64_t side, int64_t flip) {
    return "{crop: {size: " + std::to_string(side) + ", scale: [1, 1], ratio: [1, 1]}, flip: " + std::to_string(flip) +
           ", jitter: {p: 0}, grayscale: 0, blur: {p: 0}, mean: [0.286], std: [0.353]}";
  };
  std::string list = view(size, 0);
  if (views > 1) list += ", " + view(size, 1);
  if (local_crops > 0) list += ", " + view(12, 0).insert(view(12, 0).size() - 1, ", repeat: " + std::to_string(local_crops));
  return "'augment.views=[" + list + "]'";
}

}  // namespace

// A method's recipe and the overrides that make its one-process and two-process runs comparable.
struct MethodCase {
  std::string name, recipe, overrides;
};

void PrintTo(const MethodCase& c, std::ostream* os) { *os << c.name; }

class DistributedEndToEnd : public ::testing::TestWithParam<MethodCase> {};

// Two processes x 16 images == one process x 32 images: per-epoch loss, every step's gradient
// norms (after the all-reduce) and the final weights. Mathematically equal because (a) the loader
// deals each process the strided half of the one-process batch, (b) the losses that couple a batch
// see the gathered global batch, and (c) BatchNorm sees the same groups: MoCo's bn_splits = 2 (one
// group per process, the same groups as the one-process split simulation, and the cross-process
// key shuffle draws the one-process permutation); SyncBatchNorm elsewhere. What remains is
// floating-point summation order (convolutions on 16 instead of 32 images, sums split in two). At
// a high learning rate those 1e-7 differences grow by ~10x per step on these 16-image batches (one
// process with 2 threads instead of 1 drifts as far), so the steps here are small: the gradients of
// all four steps are compared at nearly the same weights.
TEST_P(DistributedEndToEnd, TwoProcessesTrainAsOne) {
  const auto& c = GetParam();
  const std::string dir = selfsup::test_util::tmp_dir("runs");
  std::string overrides = c.overrides;
  if (const auto at = overrides.find("{pairs}"); at != std::string::npos) {
    selfsup::test_util::write_caption_pairs(dir + "/pairs");
    overrides.replace(at, 7, dir + "/pairs");
  }
  const std::string common = std::string(SELFSUP_SOURCE_DIR) + "/recipes/" + c.recipe + " run_dir=" + dir +
                             " train.epochs=2 threads=1 precision=fp32 eval.at_end=false train.grad_norms=true "
                             "train.checkpoint_every=1 data.workers=1 train.optimizer.lr=0.001 " + overrides;
  const auto one = train_in(1, common + " name=one");
  ASSERT_EQ(one.code, 0) << one.output;
  const auto two = train_in(2, common + " name=two");
  ASSERT_EQ(two.code, 0) << two.output;
  EXPECT_NE(two.output.find("processes: 2 (torchrun, gloo), global batch"), std::string::npos) << two.output;

  const auto m1 = read_csv_numbers(dir + "/one/metrics.csv"), m2 = read_csv_numbers(dir + "/two/metrics.csv");
  ASSERT_EQ(m1.size(), 2u);
  ASSERT_EQ(m2.size(), 2u);
  for (size_t e = 0; e < m1.size(); ++e) EXPECT_NEAR(m1[e][2], m2[e][2], 1e-4 * std::abs(m1[e][2]) + 1e-6) << "epoch " << e + 1 << " loss";
  const auto g1 = read_csv_numbers(dir + "/one/grad_norms.csv"), g2 = read_csv_numbers(dir + "/two/grad_norms.csv");
  ASSERT_GE(g1.size(), 2u);
  ASSERT_EQ(g2.size(), g1.size());
  for (size_t s = 0; s < g1.size(); ++s)
    for (size_t k = 1; k < g1[s].size(); ++k)
      EXPECT_NEAR(g1[s][k], g2[s][k], 1e-3 * std::abs(g1[s][k]) + 1e-6) << "step " << s + 1 << " gradient-norm column " << k;
  const auto w1 = checkpoint_weights(dir + "/one/checkpoint.pt"), w2 = checkpoint_weights(dir + "/two/checkpoint.pt");
  ASSERT_EQ(w1.size(), w2.size());
  for (const auto& [name, t] : w1) {
    if (!t.is_floating_point() || t.numel() == 0) continue;
    const double diff = (t - w2.at(name)).abs().max().item<double>();
    EXPECT_LT(diff, 1e-4 * (1 + t.abs().max().item<double>())) << name;
  }
}

// Fashion-MNIST, 64 images, a tiny ConvNet: 2 steps of 32 images per epoch.
const std::string kSmallSsl = "data.subset=64 train.batch_size=32 model.name=convnet model.width=0.5 train.knn_every=0 ";

INSTANTIATE_TEST_SUITE_P(
    Methods, DistributedEndToEnd,
    ::testing::Values(
        MethodCase{"moco_v2", "moco_v2_fmnist.yaml", kSmallSsl + "method.moco.queue_size=64 method.moco.bn_splits=2 " + fixed_views()},
        MethodCase{"moco_v3", "moco_v3_fmnist.yaml", kSmallSsl + "model.sync_bn=true " + fixed_views()},
        MethodCase{"simclr", "simclr_fmnist.yaml", kSmallSsl + "model.sync_bn=true " + fixed_views()},
        MethodCase{"byol", "byol_fmnist.yaml", kSmallSsl + "model.sync_bn=true " + fixed_views()},
        // A 16-d projector: the recipe's 1024-d cross-correlation of 32 samples is so ill-conditioned
        // that float rounding alone moves the second step's gradients by 0.1%.
        MethodCase{"barlow_twins", "barlow_twins_fmnist.yaml",
                   kSmallSsl + "model.sync_bn=true method.projector.hidden_dim=64 method.projector.out_dim=16 " + fixed_views()},
        MethodCase{"dino", "dino_fmnist.yaml", kSmallSsl + "model.sync_bn=true " + fixed_views(2, 2)},
        MethodCase{"swav", "swav_fmnist.yaml", kSmallSsl + "model.sync_bn=true method.swav.queue_size=0 " + fixed_views(2, 2)},
        MethodCase{"instdisc", "instdisc_fmnist.yaml", kSmallSsl + "model.sync_bn=true method.instdisc.negatives=16 " + fixed_views(1)},
        // The per-patch jitter is augmentation drawn inside the step, per process: off, like the views'.
        MethodCase{"cpc", "cpc_fmnist.yaml", kSmallSsl + "model.sync_bn=true method.cpc.patch_jitter=0 " + fixed_views(1, 0, 24)},
        // CLIP: 6 caption pairs, one step of 6 per epoch; the crop made deterministic.
        MethodCase{"clip", "clip_tiny_test.yaml",
                   "data.root={pairs} model.sync_bn=true augment.views.0.crop.scale=[1,1] augment.views.0.crop.ratio=[1,1]"},
        MethodCase{"diffusion", "diffusion_tiny_test.yaml", "data.subset=64 train.batch_size=32"}),
    [](const ::testing::TestParamInfo<MethodCase>& info) { return info.param.name; });

namespace {

// One `selfsup train` process of a world of `world`, started directly (not through launch.sh) so
// a test can kill it or give it its own arguments; output to `log`.
struct Rank {
  pid_t pid = -1;
  std::string log;
};

Rank start_rank(int rank, int world, int port, const std::string& args, const std::string& log) {
  const std::string cmd = "RANK=" + std::to_string(rank) + " WORLD_SIZE=" + std::to_string(world) + " LOCAL_RANK=" +
                          std::to_string(rank) + " LOCAL_WORLD_SIZE=" + std::to_string(world) +
                          " MASTER_ADDR=127.0.0.1 MASTER_PORT=" + std::to_string(port) + " exec " + SELFSUP_BINARY +
                          " train " + args + " > " + log + " 2>&1";
  Rank r;
  r.log = log;
  const char* argv[] = {"sh", "-c", cmd.c_str(), nullptr};
  EXPECT_EQ(posix_spawn(&r.pid, "/bin/sh", nullptr, nullptr, const_cast<char* const*>(argv), environ), 0);
  return r;
}

// The exit status, or -1 after a signal; -2 (and the process killed) when it runs past `seconds`.
int wait_exit(const Rank& r, double seconds) {
  if (r.pid <= 0) return -3;  // never signal pid -1 (every process of the user)
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  int status = 0;
  while (waitpid(r.pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > end) {
      kill(r.pid, SIGKILL);
      waitpid(r.pid, &status, 0);
      return -2;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int64_t count_lines(const std::string& path) {
  std::ifstream in(path);
  return std::count(std::istreambuf_iterator<char>(in), {}, '\n');
}

std::string tiny_moco(const std::string& dir, const std::string& name, int timeout_seconds = 20) {
  return std::string(SELFSUP_SOURCE_DIR) + "/recipes/tiny_test.yaml run_dir=" + dir + " name=" + name +
         " data.subset=256 threads=1 eval.at_end=false data.workers=1 --dist-timeout " + std::to_string(timeout_seconds);
}

}  // namespace

// A process killed mid-run stops the other within the timeout (not a hang), rank 0's last
// checkpoint survives, and --resume with two processes ends bit-exactly where an uninterrupted
// two-process run ends.
TEST(DistributedFailuresEndToEnd, KilledProcessStopsTheOtherAndResumeIsExact) {
  const std::string dir = selfsup::test_util::tmp_dir("runs");
  const std::string epochs = " train.epochs=12";
  auto straight = train_in(2, tiny_moco(dir, "straight") + epochs);
  ASSERT_EQ(straight.code, 0) << straight.output;

  const int port = free_port();
  const auto rank0 = start_rank(0, 2, port, tiny_moco(dir, "killed") + epochs, dir + "/rank0.log");
  const auto rank1 = start_rank(1, 2, port, tiny_moco(dir, "killed") + epochs, dir + "/rank1.log");
  // Kill rank 1 once rank 0 has checkpointed epoch 2 (metrics.csv: header + 2 rows).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (count_lines(dir + "/killed/metrics.csv") < 3 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_GT(rank1.pid, 0);
  kill(rank1.pid, SIGKILL);
  EXPECT_EQ(wait_exit(rank1, 10), -1);
  const auto start = std::chrono::steady_clock::now();
  const int code = wait_exit(rank0, 30);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const auto log0 = selfsup::test_util::read_text_file(rank0.log);
  ASSERT_EQ(code, 1) << log0;
  EXPECT_LT(seconds, 25);
  EXPECT_NE(log0.find("error: rank 0 of 2: "), std::string::npos) << log0;
  const auto done = selfsup::train::read_checkpoint_info(dir + "/killed/checkpoint.pt").epochs_done;
  EXPECT_GE(done, 1);  // epoch 2 logged; its checkpoint may or may not have been written
  EXPECT_LT(done, 12) << "rank 1 was killed after the run ended: make the run longer";

  const auto resumed = train_in(2, tiny_moco(dir, "killed") + epochs + " --resume");
  ASSERT_EQ(resumed.code, 0) << resumed.output;
  const auto a = checkpoint_weights(dir + "/straight/checkpoint.pt"), b = checkpoint_weights(dir + "/killed/checkpoint.pt");
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [name, t] : a) EXPECT_TRUE(torch::equal(t, b.at(name))) << name;
}

// The global batch, not the process count, defines the run: two processes can continue what one
// began and the other way round.
TEST(DistributedResumeEndToEnd, WithAnotherProcessCount) {
  const std::string dir = selfsup::test_util::tmp_dir("runs");
  const std::string run = tiny_moco(dir, "r") + " train.epochs=3";
  auto r = train_in(1, run + " train.stop_after_epochs=1");
  ASSERT_EQ(r.code, 0) << r.output;
  r = train_in(2, run + " train.stop_after_epochs=1 --resume");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(selfsup::train::read_checkpoint_info(dir + "/r/checkpoint.pt").epochs_done, 2);
  r = train_in(1, run + " --resume");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(selfsup::train::read_checkpoint_info(dir + "/r/checkpoint.pt").epochs_done, 3);
  EXPECT_EQ(count_lines(dir + "/r/metrics.csv"), 4);
}

// A loss that stops being finite stops every process at the same step, as in one process.
TEST(DistributedFailuresEndToEnd, NanStopsEveryProcess) {
  const std::string dir = selfsup::test_util::tmp_dir("runs");
  const auto r = train_in(2, tiny_moco(dir, "nan") + " train.optimizer.lr=1e30 train.epochs=3");
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("error: rank 0 of 2: loss became"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("error: rank 1 of 2: loss became"), std::string::npos) << r.output;
}

// Bad set-ups are input errors (exit 2, one line): processes started with different recipes, a
// rendezvous port already taken, a master nobody serves.
TEST(DistributedFailuresEndToEnd, MismatchedRecipesBusyPortAndAbsentMasterExitTwo) {
  const std::string dir = selfsup::test_util::tmp_dir("runs");
  int port = free_port();
  const auto rank0 = start_rank(0, 2, port, tiny_moco(dir, "a") + " train.epochs=2", dir + "/a0.log");
  const auto rank1 = start_rank(1, 2, port, tiny_moco(dir, "a") + " train.epochs=3", dir + "/a1.log");
  EXPECT_EQ(wait_exit(rank0, 60), 2) << selfsup::test_util::read_text_file(rank0.log);
  EXPECT_EQ(wait_exit(rank1, 60), 2) << selfsup::test_util::read_text_file(rank1.log);
  EXPECT_NE(selfsup::test_util::read_text_file(rank0.log).find("resolved a different recipe"), std::string::npos) << selfsup::test_util::read_text_file(rank0.log);

  // A listening socket holds the port rank 0 would serve the rendezvous on.
  const int holder = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(holder, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(listen(holder, 1), 0);
  socklen_t len = sizeof a;
  getsockname(holder, reinterpret_cast<sockaddr*>(&a), &len);
  port = ntohs(a.sin_port);
  const auto busy = start_rank(0, 2, port, tiny_moco(dir, "b"), dir + "/b0.log");
  EXPECT_EQ(wait_exit(busy, 60), 2) << selfsup::test_util::read_text_file(busy.log);
  EXPECT_NE(selfsup::test_util::read_text_file(busy.log).find("MASTER_PORT " + std::to_string(port) + ": rank 0 cannot serve"), std::string::npos)
      << selfsup::test_util::read_text_file(busy.log);
  close(holder);

  const auto lonely = start_rank(1, 2, free_port(), tiny_moco(dir, "c", 3), dir + "/c1.log");
  EXPECT_EQ(wait_exit(lonely, 60), 2) << selfsup::test_util::read_text_file(lonely.log);
  EXPECT_NE(selfsup::test_util::read_text_file(lonely.log).find("cannot reach rank 0's rendezvous within 3 s"), std::string::npos) << selfsup::test_util::read_text_file(lonely.log);
}

// Rank 0 evaluates alone after training, fine-tuning included: with SyncBatchNorm in the model the
// fine-tune's training-mode BatchNorm must not wait for the processes that have finished.
TEST(DistributedResumeEndToEnd, RankZeroEvaluatesAloneWithSyncBatchNorm) {
  const std::string dir = selfsup::test_util::tmp_dir("runs");
  const auto r = train_in(2, std::string(SELFSUP_SOURCE_DIR) + "/recipes/simclr_fmnist.yaml run_dir=" + dir +
                                 " name=eval threads=1 train.epochs=1 " + kSmallSsl +
                                 "model.sync_bn=true data.test_subset=64 eval.baselines=false eval.linear.epochs=1 "
                                 "eval.finetune.at_end=true eval.finetune.epochs=1 eval.finetune.batch_size=16 --dist-timeout 60",
                          180);
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("fine-tune"), std::string::npos) << r.output;
  EXPECT_NE(selfsup::test_util::read_text_file(dir + "/eval/metrics.json").find("finetune_top1"), std::string::npos);
}
