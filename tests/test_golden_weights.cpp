// Every shipped recipe, trained for a few steps on a few images, must end with exactly the weights
// recorded in tests/golden/<recipe>.txt: refactoring may not change a number. A change of numerics
// on purpose (a new precision, a fixed bug) regenerates the files in a commit that says why:
//
//   SELFSUP_UPDATE_GOLDEN=1 build/selfsup_tests --gtest_filter='GoldenWeights*'
//
// The runs are pinned to fp32: `precision: auto` picks bf16 by CPU (train/precision.h), and a bf16
// run lands up to 1.7e-3 away from the fp32 one after 3 steps (Barlow Twins on an AMD EPYC with
// AVX512-BF16), which says nothing about a refactoring. Bit-identity holds only on the machine kind
// the files were recorded on (oneDNN and OpenBLAS pick kernels by CPU, and reductions split by
// thread count). Elsewhere the test compares the sum of |w| within 1e-3 instead, and says so.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "run_cli.h"
#include "selfsup/core/runtime.h"
#include "test_util.h"

namespace fs = std::filesystem;

namespace {

const fs::path kSource = SELFSUP_SOURCE_DIR;

// Few steps, no evaluation: the weights after 3 optimiser steps of 32 images exercise every part of
// a method (queues, momentum encoders, memory banks) in seconds.
const char* kCommon =
    "train.epochs=1 train.batch_size=32 data.subset=96 data.test_subset=64 train.checkpoint_every=1 "
    "train.knn_every=0 eval.at_end=false data.workers=1 precision=fp32 name=golden";

// Settings the common ones make invalid (queues must be multiples of the batch) or slow.
const std::map<std::string, std::string> kExtra{
    {"clip_emoji", "clip.eval_every=0"},
    {"clip_tiny_test", "clip.eval_every=0 train.batch_size=6 train.epochs=3"},
    {"diffusion_cfg_fmnist", "diffusion.sample_every=0"},
    {"instdisc_fmnist", "method.instdisc.negatives=64"},
    {"moco_v1_fmnist", "method.moco.queue_size=64"},
    {"moco_v2_fmnist", "method.moco.queue_size=64"},
    {"tiny_test", "method.moco.queue_size=64"},
    {"swav_fmnist", "method.swav.queue_size=64"},
};

std::vector<std::string> shipped_recipes() {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(kSource / "recipes"))
    if (entry.path().extension() == ".yaml") names.push_back(entry.path().stem().string());
  std::sort(names.begin(), names.end());
  return names;
}

// The CPU's name and the vector extensions LibTorch's kernels (oneDNN, OpenBLAS) choose by: cloud
// machines often share a generic name across generations.
std::string cpu() {
  std::ifstream in("/proc/cpuinfo");
  std::string model = "unknown", isa;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("model name", 0) == 0 && model == "unknown") model = line.substr(line.find(':') + 2);
    if (line.rfind("flags", 0) == 0 && isa.empty()) {
      std::istringstream flags(line.substr(line.find(':') + 1));
      for (std::string f; flags >> f;)
        if (f.rfind("avx", 0) == 0 || f.rfind("amx", 0) == 0 || f == "fma") isa += " " + f;
    }
  }
  return model + " [" + (isa.empty() ? std::string() : isa.substr(1)) + "]";
}

// The machine facts bit-identity depends on (the OpenBLAS kernels: the selfsup program picks the
// CPU's best at start-up, core/runtime.h, as this test program does).
std::string machine() {
  const auto kernels = selfsup::openblas_kernels();
  return cpu() + ", " + std::to_string(std::thread::hardware_concurrency()) + " threads, LibTorch " + TORCH_VERSION +
         (kernels.empty() ? "" : ", OpenBLAS " + kernels);
}

struct Fingerprint {
  std::string hash;  // FNV-1a 64 over every tensor's name and bytes, in name order
  double abs_sum = 0;
};

Fingerprint fingerprint(const std::string& checkpoint) {
  torch::serialize::InputArchive archive, weights;
  archive.load_from(checkpoint);
  archive.read("model", weights);
  auto keys = weights.keys();
  std::sort(keys.begin(), keys.end());
  uint64_t h = 1469598103934665603ULL;
  auto mix = [&](const void* data, size_t n) {
    const auto* p = static_cast<const unsigned char*>(data);
    for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ULL;
  };
  Fingerprint f;
  for (const auto& key : keys) {
    torch::Tensor t;
    weights.read(key, t, /*is_buffer=*/true);
    t = t.contiguous();
    mix(key.data(), key.size());
    mix(t.data_ptr(), t.numel() * t.element_size());
    if (t.is_floating_point()) f.abs_sum += t.abs().sum().item<double>();
  }
  std::ostringstream hex;
  hex << std::hex << h;
  f.hash = hex.str();
  return f;
}

class GoldenWeights : public ::testing::TestWithParam<std::string> {};

TEST_P(GoldenWeights, TinyRunMatchesRecordedWeights) {
  const std::string name = GetParam();
  selfsup::test_util::TempDir dir;
  std::string args = "train " + (kSource / "recipes" / (name + ".yaml")).string() + " " + kCommon +
                     " run_dir=" + dir.path.string();
  if (name == "clip_tiny_test") {
    selfsup::test_util::write_caption_pairs(dir / "pairs");
    args += " data.root=" + (dir / "pairs") + " data.subset=0";
  }
  if (kExtra.count(name)) args += " " + kExtra.at(name);
  const auto run = run_cli(args);
  ASSERT_EQ(run.code, 0) << run.output;
  const auto got = fingerprint(dir / "golden/checkpoint.pt");

  const auto golden = kSource / "tests" / "golden" / (name + ".txt");
  if (std::getenv("SELFSUP_UPDATE_GOLDEN")) {
    std::ofstream out(golden);
    out.precision(17);
    out << got.hash << "\n" << got.abs_sum << "\n" << machine() << "\n";
    GTEST_SKIP() << "recorded " << golden;
  }
  std::ifstream in(golden);
  ASSERT_TRUE(in) << golden << " missing: record it with SELFSUP_UPDATE_GOLDEN=1 (see this file's header)";
  std::string hash, recorded_on;
  double abs_sum = 0;
  in >> hash >> abs_sum;
  in.ignore();
  std::getline(in, recorded_on);
  if (recorded_on == machine()) {
    EXPECT_EQ(got.hash, hash) << name << ": final weights differ from the recorded ones (sum |w| " << got.abs_sum
                              << " vs " << abs_sum << ")";
  } else {
    std::cout << "[ note ] recorded on " << recorded_on << "; this is " << machine()
              << ": comparing sum |w| within 1e-3 instead of bits" << std::endl;
    EXPECT_NEAR(got.abs_sum, abs_sum, 1e-3 * std::abs(abs_sum)) << name;
  }
}

INSTANTIATE_TEST_SUITE_P(Recipes, GoldenWeights, ::testing::ValuesIn(shipped_recipes()),
                         [](const auto& info) { return info.param; });

}  // namespace
