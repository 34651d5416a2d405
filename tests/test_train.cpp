// Trainer pieces: optimiser arithmetic, schedules, checkpoints, and exact resume.
#include <ATen/autocast_mode.h>
#include <gtest/gtest.h>
#include <zlib.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "selfsup/core/error.h"
#include "selfsup/core/fs.h"
#include "selfsup/models/state_dict.h"
#include "selfsup/ssl/registry.h"
#include "selfsup/train/checkpoint.h"
#include "selfsup/train/grad_norms.h"
#include "selfsup/train/optimizer.h"
#include "selfsup/train/precision.h"
#include "selfsup/train/recipe.h"
#include "selfsup/train/schedule.h"
#include "selfsup/train/step_bench.h"
#include "selfsup/train/trainer.h"
#include "test_util.h"

using namespace selfsup;
using namespace selfsup::train;
namespace fs = std::filesystem;

namespace {

// One weight matrix (decayed, adapted) and one bias (neither), with fixed gradients.
struct Params {
  torch::Tensor w = torch::tensor({{3.0, 4.0}}).set_requires_grad(true);  // ||w|| = 5
  torch::Tensor b = torch::tensor({1.0}).set_requires_grad(true);
  std::vector<NamedParameter> named() { return {{"w", w}, {"b", b}}; }
  void set_grads() {
    w.mutable_grad() = torch::tensor({{0.6, 0.8}});  // ||g|| = 1
    b.mutable_grad() = torch::tensor({0.5});
  }
};

}  // namespace

TEST(Optimizer, SgdMomentumAndDecayOnlyOnWeights) {
  Params p;
  OptimizerConfig c;
  c.name = "sgd";
  c.lr = 0.1;
  c.momentum = 0.9;
  c.weight_decay = 0.01;
  Optimizer opt(p.named(), c);
  p.set_grads();
  opt.step();
  // w: d = g + 0.01 w = (0.63, 0.84); w -= 0.1 d.  b: d = g (no decay).
  EXPECT_NEAR(p.w[0][0].item<double>(), 3.0 - 0.1 * 0.63, 1e-6);
  EXPECT_NEAR(p.b[0].item<double>(), 1.0 - 0.1 * 0.5, 1e-6);
  p.set_grads();
  opt.step();
  // second step: buf = 0.9 * buf + d_new, with d_new from the updated w.
  const double w1 = 3.0 - 0.063, d2 = 0.6 + 0.01 * w1, buf = 0.9 * 0.63 + d2;
  EXPECT_NEAR(p.w[0][0].item<double>(), w1 - 0.1 * buf, 1e-6);
}

TEST(Optimizer, AdamWFirstStepMovesByLr) {
  Params p;
  OptimizerConfig c;
  c.name = "adamw";
  c.lr = 0.01;
  c.weight_decay = 0.1;
  Optimizer opt(p.named(), c);
  p.set_grads();
  opt.step();
  // Bias-corrected first Adam step is lr * sign(g); decoupled decay scales w by (1 - lr*wd) first.
  EXPECT_NEAR(p.w[0][1].item<double>(), 4.0 * (1 - 0.001) - 0.01, 1e-6);
  EXPECT_NEAR(p.b[0].item<double>(), 1.0 - 0.01, 1e-6);
}

TEST(Optimizer, LarsTrustRatioOnWeightsOnly) {
  Params p;
  OptimizerConfig c;
  c.name = "lars";
  c.lr = 1.0;
  c.momentum = 0;
  c.weight_decay = 0;
  c.lars_eta = 0.02;
  c.lars_clip = true;
  Optimizer opt(p.named(), c);
  p.set_grads();
  opt.step();
  // trust = eta * ||w|| / ||g|| = 0.02 * 5 / 1 = 0.1 (< 1, so the clip does not bind).
  EXPECT_NEAR(p.w[0][0].item<double>(), 3.0 - 0.1 * 0.6, 1e-6);
  EXPECT_NEAR(p.b[0].item<double>(), 1.0 - 0.5, 1e-6);  // bias: plain SGD
}

TEST(Optimizer, FixedLrIgnoresTheSchedule) {
  auto a = torch::ones({2, 2}, torch::requires_grad());
  auto b = torch::ones({2, 2}, torch::requires_grad());
  train::OptimizerConfig c;
  c.lr = 0.5;
  c.momentum = 0;
  c.weight_decay = 0;
  train::Optimizer opt({{"scheduled", a}, {"fixed", b, 1.0, true}}, c);
  a.mutable_grad() = torch::ones({2, 2});
  b.mutable_grad() = torch::ones({2, 2});
  opt.set_lr(0.1);  // e.g. late in a cosine schedule
  opt.step();
  EXPECT_NEAR(a[0][0].item<double>(), 1 - 0.1, 1e-6);
  EXPECT_NEAR(b[0][0].item<double>(), 1 - 0.5, 1e-6);
}

TEST(Optimizer, StateRoundTrip) {
  Params p;
  OptimizerConfig c;
  Optimizer a(p.named(), c);
  p.set_grads();
  a.step();
  torch::serialize::OutputArchive out;
  a.save(out);
  const auto path = test_util::tmp_dir("opt") + "/o.pt";
  out.save_to(path);
  Params q;
  q.w.data().copy_(p.w.data());
  q.b.data().copy_(p.b.data());
  Optimizer b(q.named(), c);
  torch::serialize::InputArchive in;
  in.load_from(path);
  b.load(in);
  p.set_grads();
  q.set_grads();
  a.step();
  b.step();
  EXPECT_TRUE(torch::equal(p.w, q.w)) << p.w << q.w;
  EXPECT_TRUE(torch::equal(p.b, q.b)) << p.b << q.b;
}

TEST(GradNorms, GroupsByFirstTwoNamePartsAndWritesCsv) {
  EXPECT_EQ(grad_norm_group("encoder.blocks.3.attn.qkv.weight"), "encoder.blocks");
  EXPECT_EQ(grad_norm_group("encoder.cls_token"), "encoder.cls_token");
  EXPECT_EQ(grad_norm_group("queue"), "queue");
  auto a = torch::zeros({2}).set_requires_grad(true), b = torch::zeros({1}).set_requires_grad(true),
       c = torch::zeros({1}).set_requires_grad(true);
  a.mutable_grad() = torch::tensor({3.0f, 0.0f});
  b.mutable_grad() = torch::tensor({4.0f});  // same group as a: sqrt(9 + 16) = 5
  const auto dir = test_util::tmp_dir("grad_norms");
  {
    GradNormLog log({{"enc.conv1.weight", a}, {"enc.conv1.bias", b}, {"head.fc.weight", c}}, dir + "/g.csv");
    EXPECT_EQ(log.groups(), (std::vector<std::string>{"enc.conv1", "head.fc"}));
    const auto n = log.norms();
    EXPECT_DOUBLE_EQ(n[0], 5.0);
    EXPECT_DOUBLE_EQ(n[1], 0.0);  // no gradient yet
    log.record(7);
  }
  std::ifstream in(dir + "/g.csv");
  std::string header, row;
  std::getline(in, header);
  std::getline(in, row);
  EXPECT_EQ(header, "step,enc.conv1,head.fc");
  EXPECT_EQ(row, "7,5,0");
  fs::remove_all(dir);
}

TEST(Schedule, WarmupThenCosine) {
  ScheduleConfig s;
  s.final_lr_ratio = 0.1;
  EXPECT_DOUBLE_EQ(lr_at(s, 1.0, 0, 10, 110), 0.1);  // warm-up step 1 of 10
  EXPECT_DOUBLE_EQ(lr_at(s, 1.0, 9, 10, 110), 1.0);
  EXPECT_DOUBLE_EQ(lr_at(s, 1.0, 10, 10, 110), 1.0);
  EXPECT_NEAR(lr_at(s, 1.0, 60, 10, 110), 0.55, 1e-12);  // half way: mean of 1 and 0.1
  EXPECT_NEAR(lr_at(s, 1.0, 110, 10, 110), 0.1, 1e-12);
  s.name = "constant";
  EXPECT_DOUBLE_EQ(lr_at(s, 0.3, 50, 0, 100), 0.3);
  s.name = "step";  // milestones 0.6 and 0.8 of 100 steps, gamma 0.1
  EXPECT_DOUBLE_EQ(lr_at(s, 0.3, 59, 0, 100), 0.3);
  EXPECT_NEAR(lr_at(s, 0.3, 60, 0, 100), 0.03, 1e-12);
  EXPECT_NEAR(lr_at(s, 0.3, 99, 0, 100), 0.003, 1e-12);
  EXPECT_DOUBLE_EQ(cosine_ramp(0.99, 1.0, 0.0), 0.99);
  EXPECT_NEAR(cosine_ramp(0.99, 1.0, 0.5), 0.995, 1e-12);
  EXPECT_DOUBLE_EQ(cosine_ramp(0.99, 1.0, 1.0), 1.0);
}

TEST(Checkpoint, RoundTripAndClearErrors) {
  const auto dir = test_util::tmp_dir("ckpt");
  auto recipe = load_recipe(std::string(SELFSUP_SOURCE_DIR) + "/recipes/tiny_test.yaml");
  torch::manual_seed(1);
  auto a = ssl::make_method(recipe, 1);
  const auto path = dir + "/c.pt";
  save_checkpoint(path, *a, nullptr, {recipe_to_yaml(recipe), 3, 42});
  EXPECT_FALSE(fs::exists(path + ".tmp"));
  const auto info = read_checkpoint_info(path);
  EXPECT_EQ(info.epochs_done, 3);
  EXPECT_EQ(info.global_step, 42);
  torch::manual_seed(2);
  auto b = ssl::make_method(recipe, 1);
  load_checkpoint(path, *b, nullptr);
  for (const auto& [name, t] : models::state_dict(*a)) EXPECT_TRUE(torch::equal(t, models::state_dict(*b).at(name))) << name;

  // Another architecture: the error names the file and a tensor.
  auto wider = load_recipe(std::string(SELFSUP_SOURCE_DIR) + "/recipes/tiny_test.yaml", {"model.width=1.0"});
  auto c = ssl::make_method(wider, 1);
  try {
    load_checkpoint(path, *c, nullptr);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
  std::ofstream(dir + "/junk.pt") << "not a checkpoint";
  EXPECT_THROW(read_checkpoint_info(dir + "/junk.pt"), Error);
  EXPECT_THROW(read_checkpoint_info(dir + "/missing.pt"), Error);
}

namespace {

uint32_t le32(const std::string& b, size_t at) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = v << 8 | static_cast<uint8_t>(b[at + i]);
  return v;
}

// Recomputes the CRC-32 of every stored zip entry (in its local header and in the directory), as a
// tool that rewrote the archive would: damage then gets past the zip check to the content hashes.
void rewrite_zip_crcs(std::string& b) {
  for (size_t at = b.find("PK\x01\x02"); at != std::string::npos; at = b.find("PK\x01\x02", at + 4)) {
    if ((le32(b, at + 10) & 0xFFFF) != 0) continue;  // a deflated code file: untouched by these tests
    const size_t local = le32(b, at + 42), size = le32(b, at + 20);
    const size_t data = local + 30 + (le32(b, local + 26) & 0xFFFF) + (le32(b, local + 28) & 0xFFFF);
    const uint32_t crc = crc32(0, reinterpret_cast<const Bytef*>(b.data() + data), static_cast<uInt>(size));
    for (const size_t field : {at + 16, local + 14})
      for (int i = 0; i < 4; ++i) b[field + i] = static_cast<char>(crc >> (8 * i));
  }
}

}  // namespace

// Found by fuzz/fuzz_checkpoint.cpp: a damaged pickle inside the archive escaped as LibTorch's own
// exception (the CLI's "internal error"), another crashed LibTorch's TorchScript type parser. The
// zip's CRC-32s are checked before LibTorch reads anything; behind them, the weights and the stored
// tokenizer have content hashes.
TEST(Checkpoint, DamagedArchiveAndTokenizerAreErrors) {
  const auto dir = test_util::tmp_dir("ckpt");
  const auto path = dir + "/c.pt";
  torch::nn::Linear model(4, 3);
  save_checkpoint(path, *model, nullptr, {"", 1, 1, 0, {{"tokenizer", "[PAD]\n[UNK]\n[CLS]\n[SEP]\n"}}});
  EXPECT_EQ(read_checkpoint_info(path).extras.at("tokenizer"), "[PAD]\n[UNK]\n[CLS]\n[SEP]\n");
  const auto original = read_file(path);
  auto patched = [&](const std::string& from, const std::string& to) {
    auto bytes = original;
    const auto at = bytes.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    bytes.replace(at, from.size(), to);
    return bytes;
  };
  auto write = [&](const std::string& bytes) { std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes; };
  auto bytes = patched("OrderedDict", "OrderedDicX");  // the unpickler would meet a class it does not know
  write(bytes);
  auto msg = test_util::error_message([&] { read_checkpoint_info(path); });
  EXPECT_EQ(msg.rfind(path + ": not a readable checkpoint (zip entry '", 0), 0u) << msg;
  EXPECT_NE(msg.find("' fails its CRC-32 check)"), std::string::npos) << msg;
  rewrite_zip_crcs(bytes);
  write(bytes);
  msg = test_util::error_message([&] { read_checkpoint_info(path); });
  EXPECT_EQ(msg.rfind(path + ": corrupt checkpoint (", 0), 0u) << msg;
  // An end record whose total count says 0 made the first version of the check look at nothing.
  bytes = original;
  const auto end = bytes.rfind("PK\x05\x06");
  ASSERT_NE(end, std::string::npos);
  bytes[end + 10] = bytes[end + 11] = 0;
  write(bytes);
  EXPECT_EQ(test_util::error_message([&] { read_checkpoint_info(path); }),
            path + ": not a readable checkpoint (the end record's two entry counts disagree)");
  bytes = patched("[UNK]", "[UNX]");
  rewrite_zip_crcs(bytes);
  write(bytes);
  msg = test_util::error_message([&] { read_checkpoint_info(path); });
  EXPECT_EQ(msg, path + ": corrupt checkpoint: the stored tokenizer does not match the checksum written with it");
}

// LibTorch does not check the zip's CRCs: a byte changed inside a tensor's data is caught by the
// zip check, and with the CRCs rewritten, by the content hash written with the weights.
TEST(Checkpoint, CorruptWeightsAreAnError) {
  const auto dir = test_util::tmp_dir("ckpt");
  const auto path = dir + "/c.pt";
  torch::nn::Linear model(4, 3);
  {
    torch::NoGradGuard no_grad;
    model->weight.copy_(torch::arange(12, torch::kFloat).reshape({3, 4}) + 1000);  // bytes easy to find
  }
  save_checkpoint(path, *model, nullptr, {"", 1, 1});
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  in.close();
  const auto weight = model->weight.contiguous();
  const std::string pattern(static_cast<const char*>(weight.data_ptr()), 16);
  const auto at = bytes.find(pattern);
  ASSERT_NE(at, std::string::npos);
  torch::nn::Linear other(4, 3);
  load_checkpoint(path, *other, nullptr);  // intact: loads
  EXPECT_TRUE(torch::equal(other->weight, model->weight));
  bytes[at + 5] ^= 0x01;  // one bit of one weight
  std::ofstream(path, std::ios::binary) << bytes;
  auto msg = test_util::error_message([&] { load_checkpoint(path, *other, nullptr); });
  EXPECT_EQ(msg.rfind(path + ": not a readable checkpoint (zip entry '", 0), 0u) << msg;
  rewrite_zip_crcs(bytes);
  std::ofstream(path, std::ios::binary) << bytes;
  msg = test_util::error_message([&] { load_checkpoint(path, *other, nullptr); });
  EXPECT_EQ(msg, path + ": corrupt checkpoint: the weights do not match the checksum written with them");
}

// An interrupted-then-resumed run ends with exactly the weights of an uninterrupted one.
TEST(Trainer, ResumeReproducesUninterruptedRun) {
  const auto dir = test_util::tmp_dir("resume");
  const std::string recipe_path = std::string(SELFSUP_SOURCE_DIR) + "/recipes/tiny_test.yaml";
  const std::vector<std::string> common{"run_dir=" + dir, "data.subset=256", "train.epochs=3", "eval.at_end=false",
                                        "data.workers=2"};
  auto with = [&](std::vector<std::string> extra) {
    extra.insert(extra.begin(), common.begin(), common.end());
    return load_recipe(recipe_path, extra);
  };
  run_training(with({"name=straight"}), false);
  run_training(with({"name=sliced", "train.stop_after_epochs=1"}), false);
  EXPECT_EQ(read_checkpoint_info(dir + "/sliced/checkpoint.pt").epochs_done, 1);
  run_training(with({"name=sliced", "train.stop_after_epochs=1"}), true);
  run_training(with({"name=sliced"}), true);

  const auto recipe = with({});
  auto a = ssl::make_method(recipe, 1), b = ssl::make_method(recipe, 1);
  load_checkpoint(dir + "/straight/checkpoint.pt", *a, nullptr);
  load_checkpoint(dir + "/sliced/checkpoint.pt", *b, nullptr);
  EXPECT_EQ(read_checkpoint_info(dir + "/sliced/checkpoint.pt").global_step,
            read_checkpoint_info(dir + "/straight/checkpoint.pt").global_step);
  const auto sb = models::state_dict(*b);
  for (const auto& [name, t] : models::state_dict(*a)) EXPECT_TRUE(torch::equal(t, sb.at(name))) << name;
  // The metrics file has one row per epoch in both runs.
  std::ifstream csv(dir + "/sliced/metrics.csv");
  int lines = 0;
  for (std::string l; std::getline(csv, l);) ++lines;
  EXPECT_EQ(lines, 4);  // header + 3 epochs
}

TEST(Trainer, NanLossStopsAndKeepsLastCheckpoint) {
  const auto dir = test_util::tmp_dir("nan");
  const auto recipe = load_recipe(std::string(SELFSUP_SOURCE_DIR) + "/recipes/tiny_test.yaml",
                                  {"run_dir=" + dir, "name=nan", "data.subset=128", "train.optimizer.lr=1e30",
                                   "train.epochs=3", "eval.at_end=false"});
  try {
    run_training(recipe, false);
    FAIL() << "expected the run to stop";
  } catch (const Diverged& e) {
    EXPECT_NE(std::string(e.what()).find("loss became"), std::string::npos) << e.what();
  }
}

TEST(Precision, AutoPicksBf16OnlyWhereMeasuredFasterAndExplicitChoicesStay) {
  const std::string intel = "vendor_id\t: GenuineIntel\nflags\t\t: fpu avx2 avx512f avx512_bf16 avx512_vnni\n";
  const std::string intel_amx = "vendor_id\t: GenuineIntel\nflags\t\t: fpu avx512_bf16 amx_bf16 amx_tile\n";
  const std::string amd = "vendor_id\t: AuthenticAMD\nflags\t\t: fpu avx2 avx512f avx512_bf16\n";
  const std::string amd_old = "vendor_id\t: AuthenticAMD\nflags\t\t: fpu avx2 avx512f avx512_bf16x\n";
  EXPECT_FALSE(cpu_bf16_is_faster(intel));  // oneDNN 2.6 bf16 convolutions slower there
  EXPECT_TRUE(cpu_bf16_is_faster(intel_amx));
  EXPECT_TRUE(cpu_bf16_is_faster(amd));     // Zen 4: MoCo v2 step 2x faster
  EXPECT_FALSE(cpu_bf16_is_faster(amd_old));  // whole flags only
  EXPECT_FALSE(cpu_bf16_is_faster(""));
  EXPECT_EQ(resolve_precision("auto", torch::kCPU),
            cpu_bf16_is_faster(read_file("/proc/cpuinfo", "cpuinfo")) ? "bf16" : "fp32");
  EXPECT_EQ(resolve_precision("auto", torch::Device("cuda")), "bf16");
  EXPECT_EQ(resolve_precision("bf16", torch::kCPU), "bf16");
  EXPECT_EQ(resolve_precision("fp32", torch::Device("cuda")), "fp32");
  EXPECT_THROW(load_recipe(std::string(SELFSUP_SOURCE_DIR) + "/recipes/tiny_test.yaml", {"precision=fp16"}), Error);
}

TEST(Precision, AutocastGuardRunsMatrixProductsInBf16AndRestores) {
  const auto a = torch::randn({4, 8}), b = torch::randn({8, 3});
  {
    AutocastGuard off(false, torch::kCPU);
    EXPECT_EQ(torch::mm(a, b).scalar_type(), torch::kFloat32);
  }
  {
    AutocastGuard on(true, torch::kCPU);
    EXPECT_EQ(torch::mm(a, b).scalar_type(), torch::kBFloat16);
    EXPECT_EQ((a + a).scalar_type(), torch::kFloat32);  // element-wise work keeps its dtype
  }
  EXPECT_FALSE(at::autocast::is_cpu_enabled());
  EXPECT_EQ(torch::mm(a, b).scalar_type(), torch::kFloat32);
}

TEST(Precision, GroupAndLayerNormRunInFp32UnderBf16Autocast) {
  // LibTorch 1.13's CPU autocast alone fails here ("expected scalar type BFloat16 but found Float").
  torch::nn::Conv2d conv(torch::nn::Conv2dOptions(8, 8, 1));
  torch::nn::GroupNorm group(torch::nn::GroupNormOptions(2, 8));
  torch::nn::LayerNorm layer(torch::nn::LayerNormOptions({5}));
  const auto x = torch::randn({2, 8, 5, 5});
  AutocastGuard on(true, torch::kCPU);
  const auto h = conv(x);
  ASSERT_EQ(h.scalar_type(), torch::kBFloat16);
  EXPECT_EQ(group(h).scalar_type(), torch::kFloat32);
  EXPECT_EQ(layer(h).scalar_type(), torch::kFloat32);
  EXPECT_TRUE(torch::allclose(group(h), group(h.to(torch::kFloat32))));
}

TEST(Precision, Bf16StepComputesNearlyTheFp32LossAndUpdatesFp32Weights) {
  StepBenchOptions o;
  o.steps = 1;
  o.warmup = 0;
  const auto fp32 = bench_training_step(load_recipe(std::string(SELFSUP_SOURCE_DIR) + "/recipes/tiny_test.yaml", {"precision=fp32"}), o);
  const auto bf16 = bench_training_step(load_recipe(std::string(SELFSUP_SOURCE_DIR) + "/recipes/tiny_test.yaml", {"precision=bf16"}), o);
  EXPECT_NE(fp32.first_loss, bf16.first_loss);  // autocast really ran
  EXPECT_NEAR(bf16.first_loss, fp32.first_loss, 0.02 * std::abs(fp32.first_loss));
}
