// Vision Transformer: timm's parameter names and shapes, position-embedding layouts and resampling,
// frozen patch projection, attention maps, agreement with a plain-PyTorch ViT written from timm's
// definition, and a short MoCo v3 training run with a ViT.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>

#include "selfsup/core/error.h"
#include "selfsup/models/registry.h"
#include "selfsup/models/state_dict.h"
#include "selfsup/models/vit.h"
#include "selfsup/train/optimizer.h"
#include "selfsup/train/recipe.h"
#include "selfsup/train/trainer.h"
#include "test_util.h"

using namespace selfsup;
using namespace selfsup::models;
namespace fs = std::filesystem;

namespace {

// 28x28 gray images, 7x7 patches: a 4x4 grid.
VitOptions small_vit() { return VitOptions().image_size(28).patch_size(7).in_channels(1).dim(32).depth(2).heads(2); }

}  // namespace

TEST(Vit, ParameterNamesAndShapesFollowTimm) {
  Vit vit(small_vit().num_classes(10));
  std::map<std::string, std::vector<int64_t>> expected{
      {"cls_token", {1, 1, 32}},  {"pos_embed", {1, 17, 32}},         {"patch_embed.proj.weight", {32, 1, 7, 7}},
      {"patch_embed.proj.bias", {32}}, {"norm.weight", {32}},         {"norm.bias", {32}},
      {"head.weight", {10, 32}},  {"head.bias", {10}}};
  for (const char* b : {"blocks.0.", "blocks.1."}) {
    const std::string p(b);
    for (const char* ln : {"norm1", "norm2"}) {
      expected[p + ln + ".weight"] = {32};
      expected[p + ln + ".bias"] = {32};
    }
    expected[p + "attn.qkv.weight"] = {96, 32};
    expected[p + "attn.qkv.bias"] = {96};
    expected[p + "attn.proj.weight"] = {32, 32};
    expected[p + "attn.proj.bias"] = {32};
    expected[p + "mlp.fc1.weight"] = {128, 32};
    expected[p + "mlp.fc1.bias"] = {128};
    expected[p + "mlp.fc2.weight"] = {32, 128};
    expected[p + "mlp.fc2.bias"] = {32};
  }
  const auto sd = state_dict(vit);
  EXPECT_EQ(sd.size(), expected.size());
  for (const auto& [name, shape] : expected) {
    ASSERT_EQ(sd.count(name), 1u) << name;
    EXPECT_EQ(sd.at(name).sizes().vec(), shape) << name;
  }
  EXPECT_EQ(vit.forward(torch::randn({3, 1, 28, 28})).sizes(), (std::vector<int64_t>{3, 10}));
  EXPECT_EQ(Vit(small_vit()).forward(torch::randn({3, 1, 28, 28})).sizes(), (std::vector<int64_t>{3, 32}));
}

TEST(Vit, SincosEmbeddingsHandValues) {
  const auto pe = sincos_position_embeddings(2, 8);  // 1 x 4 x 8, frequencies 1 and 1/100
  ASSERT_EQ(pe.sizes(), (std::vector<int64_t>{1, 4, 8}));
  // patch 3 = row 1, column 1; patch 2 = row 1, column 0.
  const std::vector<float> p3{std::sin(1.0f), std::sin(0.01f), std::cos(1.0f), std::cos(0.01f),
                              std::sin(1.0f), std::sin(0.01f), std::cos(1.0f), std::cos(0.01f)};
  const std::vector<float> p2{std::sin(1.0f), std::sin(0.01f), std::cos(1.0f), std::cos(0.01f), 0, 0, 1, 1};
  EXPECT_TRUE(torch::allclose(pe[0][3], torch::tensor(p3), 1e-6, 1e-6));
  EXPECT_TRUE(torch::allclose(pe[0][2], torch::tensor(p2), 1e-6, 1e-6));
  EXPECT_TRUE(torch::allclose(pe[0][0], torch::tensor(std::vector<float>{0, 0, 1, 1, 0, 0, 1, 1})));
}

TEST(Vit, PositionEmbeddingsResampleForOtherSizes) {
  Vit vit(small_vit());
  EXPECT_TRUE(torch::equal(vit.position_embeddings(4, 4), vit.pos_embed));
  const auto small = vit.position_embeddings(2, 3);
  EXPECT_EQ(small.sizes(), (std::vector<int64_t>{1, 7, 32}));
  EXPECT_TRUE(torch::equal(small[0][0], vit.pos_embed[0][0]));  // class token kept
  // A constant grid stays constant under bicubic resampling.
  {
    torch::NoGradGuard no_grad;
    vit.pos_embed.slice(1, 1).fill_(0.25);
  }
  EXPECT_TRUE(torch::allclose(vit.position_embeddings(3, 3).slice(1, 1), torch::full({1, 9, 32}, 0.25), 1e-5, 1e-5));
  // Local crops of 14x14 run through the same network.
  EXPECT_EQ(vit.forward(torch::randn({2, 1, 14, 14})).sizes(), (std::vector<int64_t>{2, 32}));
  EXPECT_THROW(vit.forward(torch::randn({2, 1, 15, 15})), Error);
}

TEST(Vit, FrozenPatchProjectionAndFixedSincos) {
  Vit vit(small_vit().pos_embed("sincos").freeze_patch_embed(true));
  std::set<std::string> trainable;
  for (const auto& p : train::trainable_parameters(vit)) trainable.insert(p.name);
  EXPECT_EQ(trainable.count("patch_embed.proj.weight"), 0u);
  EXPECT_EQ(trainable.count("patch_embed.proj.bias"), 0u);
  EXPECT_EQ(trainable.count("pos_embed"), 0u);
  EXPECT_EQ(trainable.count("cls_token"), 1u);
  EXPECT_TRUE(torch::equal(vit.pos_embed.slice(1, 1), sincos_position_embeddings(4, 32)));
  // A backward pass leaves the frozen projection without gradient.
  vit.forward(torch::randn({2, 1, 28, 28})).sum().backward();
  EXPECT_FALSE(vit.proj->weight.grad().defined());
  EXPECT_TRUE(vit.cls_token.grad().defined());
}

TEST(Vit, LastAttentionIsADistributionOverPatches) {
  Vit vit(small_vit());
  const auto a = vit.last_attention(torch::randn({3, 1, 28, 28}));
  ASSERT_EQ(a.sizes(), (std::vector<int64_t>{3, 2, 4, 4}));
  EXPECT_GE(a.min().item<float>(), 0.0f);
  const auto total = a.sum({2, 3});  // the rest is the class token's attention to itself
  EXPECT_TRUE((total <= 1.0 + 1e-5).all().item<bool>());
  EXPECT_TRUE((total > 0.5).all().item<bool>());  // 16 of 17 tokens are patches
}

TEST(Vit, ErrorsNameTheKey) {
  auto message = [](const VitOptions& o) {
    try {
      Vit v(o);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(message(small_vit().image_size(30)).find("model.backbone.vit.image_size"), std::string::npos);
  EXPECT_NE(message(small_vit().heads(3)).find("model.backbone.vit.dim"), std::string::npos);
  EXPECT_NE(message(small_vit().pos_embed("rope")).find("model.backbone.vit.pos_embed"), std::string::npos);
  BackboneConfig config;
  config.name = "vit";
  config.vit.image_size = 28;
  config.vit.patch_size = 7;
  EXPECT_EQ(make_backbone(config, 1)->output_dim(), 192);
}

// C++ -> Python: a ViT written from timm's VisionTransformer definition in plain PyTorch, reading
// our state dict by name, gives our outputs (also for a 14x14 input, where both resample the
// position grid bicubically). Python -> C++: weights made in Python load here strictly and give
// Python's outputs.
TEST(PythonInterop, VitMatchesPlainPytorchDefinition) {
  if (std::system("/usr/bin/python3 -c 'import torch' >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "python3 with torch not available";
  const auto dir = test_util::tmp_dir("interop");
  torch::manual_seed(5);
  Vit vit(small_vit().num_classes(10));
  {
    torch::NoGradGuard no_grad;
    for (auto& p : vit.parameters()) p.add_(torch::randn_like(p) * 0.05);  // non-trivial norms/biases
  }
  vit.eval();
  save_state_dict_pt(dir + "/vit.pt", state_dict(vit));
  StateDict io;
  io["x"] = torch::randn({4, 1, 28, 28});
  io["x_small"] = torch::randn({2, 1, 14, 14});
  {
    torch::NoGradGuard no_grad;
    io["y"] = vit.forward(io["x"]);
    io["y_small"] = vit.forward(io["x_small"]);
  }
  save_state_dict_pt(dir + "/io.pt", io);
  std::ofstream(dir + "/check.py") << R"(
import sys, torch, torch.nn.functional as F
d = sys.argv[1]
sd, io = torch.load(d + "/vit.pt"), torch.load(d + "/io.pt")
D, H, P, DEPTH = 32, 2, 7, 2

def vit(sd, x):
    t = F.conv2d(x, sd["patch_embed.proj.weight"], sd["patch_embed.proj.bias"], stride=P)
    gh, gw = t.shape[2:]
    t = t.flatten(2).transpose(1, 2)
    pos = sd["pos_embed"]
    if gh * gw != pos.shape[1] - 1:  # timm resample_abs_pos_embed / DINO interpolate_pos_encoding
        g = int((pos.shape[1] - 1) ** 0.5)
        grid = pos[:, 1:].reshape(1, g, g, D).permute(0, 3, 1, 2)
        grid = F.interpolate(grid, size=(gh, gw), mode="bicubic", align_corners=False)
        pos = torch.cat([pos[:, :1], grid.permute(0, 2, 3, 1).reshape(1, gh * gw, D)], 1)
    t = torch.cat([sd["cls_token"].expand(x.shape[0], -1, -1), t], 1) + pos
    for i in range(DEPTH):
        p = "blocks.%d." % i
        h = F.layer_norm(t, (D,), sd[p + "norm1.weight"], sd[p + "norm1.bias"], 1e-6)
        B, T, _ = h.shape
        qkv = F.linear(h, sd[p + "attn.qkv.weight"], sd[p + "attn.qkv.bias"]).reshape(B, T, 3, H, D // H).permute(2, 0, 3, 1, 4)
        a = ((qkv[0] * (D // H) ** -0.5) @ qkv[1].transpose(-2, -1)).softmax(-1)
        t = t + F.linear((a @ qkv[2]).transpose(1, 2).reshape(B, T, D), sd[p + "attn.proj.weight"], sd[p + "attn.proj.bias"])
        h = F.layer_norm(t, (D,), sd[p + "norm2.weight"], sd[p + "norm2.bias"], 1e-6)
        h = F.linear(F.gelu(F.linear(h, sd[p + "mlp.fc1.weight"], sd[p + "mlp.fc1.bias"])), sd[p + "mlp.fc2.weight"], sd[p + "mlp.fc2.bias"])
        t = t + h
    t = F.layer_norm(t, (D,), sd["norm.weight"], sd["norm.bias"], 1e-6)
    return F.linear(t[:, 0], sd["head.weight"], sd["head.bias"])

with torch.no_grad():
    ok = torch.allclose(vit(sd, io["x"]), io["y"], atol=1e-4)
    ok &= torch.allclose(vit(sd, io["x_small"]), io["y_small"], atol=1e-4)
    torch.manual_seed(1)
    py = {k: v + 0.05 * torch.randn_like(v) for k, v in sd.items()}
    torch.save(py, d + "/py.pt")
    torch.save({"x": io["x"], "y": vit(py, io["x"])}, d + "/py_out.pt")
sys.exit(0 if ok else 1)
)";
  ASSERT_EQ(std::system(("/usr/bin/python3 " + dir + "/check.py " + dir).c_str()), 0)
      << "the plain-PyTorch ViT disagrees with the C++ ViT";
  Vit from_python(small_vit().num_classes(10));
  load_state_dict(from_python, load_state_dict_pt(dir + "/py.pt"), /*strict=*/true, "py.pt");
  from_python.eval();
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(torch::allclose(from_python.forward(io["x"]), load_state_dict_pt(dir + "/py_out.pt").at("y"), 1e-4, 1e-4));
  fs::remove_all(dir);
}

// MoCo v3 with a small ViT and the frozen patch projection: the loss falls, the embeddings stay
// spread, kNN beats the random network, and every step's per-group gradient norms are written.
TEST(MocoV3, VitLearnsAndLogsGradientNorms) {
  const auto dir = test_util::tmp_dir("mocov3");
  const std::string tiny = std::string(SELFSUP_SOURCE_DIR) + "/recipes/tiny_test.yaml";
  const auto recipe = load_recipe(
      tiny, {"run_dir=" + dir, "name=run", "method.name=moco_v3", "model.name=vit", "model.vit.image_size=28",
             "model.vit.patch_size=7", "model.vit.dim=48", "model.vit.depth=2", "model.vit.heads=3",
             "model.vit.pos_embed=sincos", "model.vit.freeze_patch_embed=true", "method.projector.norm=batch",
             "method.projector.last_bn=true", "method.predictor.norm=batch", "method.predictor.hidden_dim=64",
             "method.predictor.out_dim=32", "train.optimizer.name=adamw", "train.optimizer.lr=0.001",
             "train.optimizer.weight_decay=0.05", "train.grad_norms=true", "data.subset=2000",
             "data.test_subset=2000", "train.epochs=6", "train.batch_size=100", "eval.linear.epochs=1",
             "eval.baselines=true"});
  const auto metrics = train::run_training(recipe, false);
  std::ifstream csv(dir + "/run/metrics.csv"), norms(dir + "/run/grad_norms.csv");
  std::string header, line, last;
  std::getline(csv, header);
  std::vector<double> losses;
  while (std::getline(csv, line)) losses.push_back(std::stod(line.substr(line.find(',', line.find(',') + 1) + 1)));
  std::getline(norms, header);
  int64_t rows = 0;
  while (std::getline(norms, line)) ++rows, last = line;
  fs::remove_all(dir);
  ASSERT_EQ(losses.size(), 6u);
  EXPECT_LT(losses.back(), losses[1]);
  EXPECT_EQ(rows, 6 * 20);  // one row per step
  EXPECT_EQ(header.rfind("step,encoder.cls_token,encoder.blocks,encoder.norm,projector.layers", 0), 0u) << header;
  EXPECT_EQ(header.find("patch_embed"), std::string::npos);  // frozen: not trained, not logged
  const double trained = metrics["eval"]["knn_top1"], random = metrics["baselines"]["random_init"]["knn_top1"];
  std::cout << "moco_v3 vit: loss " << losses[1] << " -> " << losses.back() << ", kNN " << trained
            << " vs random init " << random << std::endl;
  EXPECT_GT(trained, random + 0.01);
}
