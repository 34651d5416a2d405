// Tests for selfsup::models: ResNet/ConvNet shapes and torchvision-compatible names and counts,
// SplitBatchNorm semantics, MLP heads, state-dict files (and, if Python torch exists, interop).
#include "selfsup/core/error.h"
#include "selfsup/io/safetensors.h"
#include "selfsup/models/batch_norm.h"
#include "selfsup/models/convnet.h"
#include "selfsup/models/heads.h"
#include "selfsup/models/pretrained.h"
#include "selfsup/models/registry.h"
#include "selfsup/models/resnet.h"
#include "selfsup/models/state_dict.h"
#include "test_util.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <unistd.h>

namespace fs = std::filesystem;
using namespace selfsup::models;

using selfsup::test_util::contains;
using selfsup::test_util::error_message;
using selfsup::test_util::TempDir;

namespace {

int64_t count_params(const torch::nn::Module& m) {
  int64_t n = 0;
  for (const auto& p : m.parameters()) n += p.numel();
  return n;
}

// A fresh directory per test, removed at the end.
// Random BN affine params and running stats, so a wrong mapping of BN state cannot go unnoticed.
void randomize_bn(torch::nn::Module& m) {
  torch::NoGradGuard no_grad;
  m.apply([](torch::nn::Module& sub) {
    if (auto* bn = dynamic_cast<BatchNorm2dImpl*>(&sub)) {
      if (bn->weight.defined()) bn->weight.uniform_(0.5, 1.5);
      if (bn->bias.defined()) bn->bias.uniform_(-0.2, 0.2);
      bn->running_mean.uniform_(-0.1, 0.1);
      bn->running_var.uniform_(0.5, 2.0);
      bn->num_batches_tracked.fill_(3);
    }
  });
}

}  // namespace

// ---------------------------------------------------------------- ResNet / ConvNet shapes

TEST(ResNet, OutputShapes) {
  torch::NoGradGuard no_grad;
  for (int64_t depth : {10, 18, 34})
    for (std::string stem : {"imagenet", "small"})
      for (int64_t channels : {1, 3})
        for (double width : {0.25, 1.0}) {
          ResNet net(ResNetOptions().depth(depth).stem(stem).in_channels(channels).width(width));
          const int64_t dim = static_cast<int64_t>(512 * width);
          EXPECT_EQ(net.output_dim(), dim);
          auto y = net.forward(torch::randn({2, channels, 32, 32}));
          EXPECT_EQ(y.sizes(), torch::IntArrayRef({2, dim}))
              << depth << " " << stem << " " << channels << " " << width;
        }
  struct Case { std::string stem; int64_t channels; double width; };
  for (const Case& c : {Case{"imagenet", 3, 1.0}, Case{"small", 1, 0.25}, Case{"small", 3, 0.5}}) {
    ResNet net(ResNetOptions().depth(50).stem(c.stem).in_channels(c.channels).width(c.width));
    const int64_t dim = static_cast<int64_t>(2048 * c.width);
    EXPECT_EQ(net.output_dim(), dim);
    EXPECT_EQ(net.forward(torch::randn({2, c.channels, 32, 32})).sizes(),
              torch::IntArrayRef({2, dim}));
  }
}

TEST(ResNet, WidthRoundsAndStaysPositive) {
  ResNet tiny(ResNetOptions().width(0.001));
  EXPECT_EQ(tiny.output_dim(), 1);
  EXPECT_EQ(ResNet(ResNetOptions().width(0.3)).output_dim(), 154);  // round(512 * 0.3 = 153.6)
}

TEST(ResNet, ParameterCountsMatchTorchvision) {
  ResNet r18(ResNetOptions().depth(18).stem("imagenet").num_classes(1000));
  EXPECT_EQ(count_params(r18), 11689512);
  EXPECT_EQ(r18.output_dim(), 1000);
  EXPECT_EQ(r18.feature_dim(), 512);
  ResNet r50(ResNetOptions().depth(50).stem("imagenet").num_classes(1000));
  EXPECT_EQ(count_params(r50), 25557032);
}

TEST(ResNet, StateDictNamesMatchTorchvision) {
  ResNet r18(ResNetOptions().depth(18).stem("imagenet").num_classes(1000));
  auto sd = state_dict(r18);
  EXPECT_EQ(sd.size(), 122u);  // torchvision resnet18().state_dict(), num_batches_tracked included
  for (const char* key :
       {"conv1.weight", "bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var",
        "bn1.num_batches_tracked", "layer1.0.conv1.weight", "layer1.0.bn1.weight",
        "layer1.1.conv2.weight", "layer2.0.downsample.0.weight", "layer2.0.downsample.1.weight",
        "layer2.0.downsample.1.num_batches_tracked", "layer4.1.bn2.running_var", "fc.weight",
        "fc.bias"})
    EXPECT_EQ(sd.count(key), 1u) << key;
  EXPECT_EQ(sd.count("layer1.0.downsample.0.weight"), 0u);  // layer1 keeps 64 channels, stride 1
  EXPECT_EQ(sd.at("bn1.num_batches_tracked").dtype(),
            torch::kLong);
  EXPECT_EQ(sd.at("layer2.0.downsample.0.weight").sizes(), torch::IntArrayRef({128, 64, 1, 1}));

  EXPECT_EQ(state_dict(ResNet(ResNetOptions().depth(18))).size(), 120u);  // no fc
  ResNet r50(ResNetOptions().depth(50).stem("imagenet").num_classes(1000));
  auto sd50 = state_dict(r50);
  EXPECT_EQ(sd50.size(), 320u);
  EXPECT_EQ(sd50.at("layer1.0.downsample.0.weight").sizes(), torch::IntArrayRef({256, 64, 1, 1}));
  EXPECT_EQ(sd50.at("layer3.5.conv3.weight").sizes(), torch::IntArrayRef({1024, 256, 1, 1}));
  EXPECT_EQ(state_dict(ResNet(ResNetOptions().depth(34).num_classes(1000))).size(), 218u);
}

TEST(ResNet, InitLikeTorchvision) {
  ResNet plain(ResNetOptions().depth(18));
  auto sd = state_dict(plain);
  EXPECT_TRUE(torch::equal(sd.at("layer1.0.bn2.weight"), torch::ones({64})));
  EXPECT_TRUE(torch::equal(sd.at("layer1.0.bn2.bias"), torch::zeros({64})));
  // kaiming_normal fan_out: std = sqrt(2 / (out_channels * k * k)) = sqrt(2 / 2304) for 256x256x3x3.
  EXPECT_NEAR(sd.at("layer3.1.conv1.weight").std().item<double>(), std::sqrt(2.0 / 2304), 1e-3);

  auto zero18 = state_dict(ResNet(ResNetOptions().depth(18).zero_init_residual(true)));
  EXPECT_EQ(zero18.at("layer1.0.bn2.weight").abs().sum().item<double>(), 0.0);
  EXPECT_EQ(zero18.at("layer1.0.bn1.weight").sum().item<double>(), 64.0);
  auto zero50 = state_dict(ResNet(ResNetOptions().depth(50).width(0.25).zero_init_residual(true)));
  EXPECT_EQ(zero50.at("layer2.3.bn3.weight").abs().sum().item<double>(), 0.0);
  EXPECT_GT(zero50.at("layer2.3.bn2.weight").sum().item<double>(), 0.0);
}

TEST(ResNet, BadOptionsThrow) {
  EXPECT_THROW(ResNet(ResNetOptions().depth(101)), selfsup::Error);
  EXPECT_THROW(ResNet(ResNetOptions().stem("cifar")), selfsup::Error);
  EXPECT_THROW(ResNet(ResNetOptions().width(0)), selfsup::Error);
}

TEST(ConvNet, ShapesAndNames) {
  ConvNet net(ConvNetOptions().in_channels(1).width(0.5));
  EXPECT_EQ(net.output_dim(), 32);
  EXPECT_EQ(net.forward(torch::randn({4, 1, 28, 28})).sizes(), torch::IntArrayRef({4, 32}));
  auto sd = state_dict(net);
  EXPECT_EQ(sd.size(), 3u * 6u);  // conv weight + 5 BN entries, three times
  EXPECT_EQ(sd.at("conv2.weight").sizes(), torch::IntArrayRef({16, 8, 3, 3}));
}

TEST(MakeBackbone, SelectsByName) {
  BackboneConfig config;
  EXPECT_EQ(make_backbone(config, 3)->output_dim(), 512);
  config.name = "resnet50";
  config.width = 0.25;
  EXPECT_EQ(make_backbone(config, 1)->output_dim(), 512);
  config.name = "convnet";
  config.width = 1.0;
  auto convnet = make_backbone(config, 1);
  EXPECT_NE(dynamic_cast<ConvNet*>(convnet.get()), nullptr);
  EXPECT_EQ(convnet->forward(torch::randn({2, 1, 16, 16})).sizes(), torch::IntArrayRef({2, 64}));
  config.in_channels = 3;  // overrides the dataset's 1 channel
  EXPECT_EQ(make_backbone(config, 1)->forward(torch::randn({2, 3, 8, 8})).size(1), 64);
}

// ResNet-10 (one basic block per stage) at width 0.5, channels 32-64-128-256, small stem, RGB:
// stem 3*32*9 + BN 64 = 928; stage 1: 2 convs 32*32*9 + 2 BN = 18,560; stage 2: 32*64*9 + 64*64*9
// + 2 BN + 1x1 downsample 32*64 + BN = 57,728; stage 3 (64->128) 230,144; stage 4 (128->256) 919,040.
TEST(ResNet, TenLayersCountsItsParameters) {
  BackboneConfig config;
  config.name = "resnet10";
  config.width = 0.5;
  EXPECT_EQ(count_params(*make_backbone(config, 3)), 928 + 18560 + 57728 + 230144 + 919040);
}

TEST(MakeBackbone, ErrorsNameTheKey) {
  BackboneConfig config;
  config.name = "vgg";
  EXPECT_EQ(error_message([&] { make_backbone(config, 3); }),
            "model.backbone.name: unknown backbone 'vgg' (expected resnet10, resnet18, resnet34, resnet50, "
            "vit or convnet)");
  config = BackboneConfig();
  config.stem = "tiny";
  EXPECT_NE(error_message([&] { make_backbone(config, 3); }).find("model.backbone.stem"),
            std::string::npos);
  config = BackboneConfig();
  EXPECT_NE(error_message([&] { make_backbone(config, 0); }).find("model.backbone.in_channels"),
            std::string::npos);
}

// ---------------------------------------------------------------- BatchNorm2d / split BN

TEST(BatchNorm, SplitsOneEqualsTorchBatchNorm) {
  torch::manual_seed(0);
  BatchNorm2d bn(4);
  randomize_bn(*bn);
  auto weight = bn->weight.detach().clone(), bias = bn->bias.detach().clone();
  auto mean = bn->running_mean.clone(), var = bn->running_var.clone();
  auto x = torch::randn({6, 4, 5, 5}) * 3 + 1;
  auto y = bn(x);
  auto expected = torch::batch_norm(x, weight, bias, mean, var, true, 0.1, 1e-5, false);
  EXPECT_TRUE(torch::allclose(y, expected, 1e-5, 1e-5));
  EXPECT_TRUE(torch::allclose(bn->running_mean, mean));
  EXPECT_TRUE(torch::allclose(bn->running_var, var));
  EXPECT_EQ(bn->num_batches_tracked.item<int64_t>(), 4);
}

TEST(BatchNorm, SplitsNormaliseEachGroupSeparately) {
  torch::manual_seed(0);
  BatchNorm2d bn(BatchNorm2dOptions(3).splits(2));
  randomize_bn(*bn);
  auto weight = bn->weight.detach().clone(), bias = bn->bias.detach().clone();
  auto mean0 = bn->running_mean.clone(), var0 = bn->running_var.clone();
  auto mean1 = mean0.clone(), var1 = var0.clone();
  // Group k = samples k, k+2, k+4, ...; give the groups very different statistics, so shared
  // statistics (or contiguous halves) would give a different answer.
  auto even = torch::randn({4, 3, 3, 3}), odd = torch::randn({4, 3, 3, 3}) * 5 + 7;
  auto x = torch::stack({even, odd}, 1).reshape({8, 3, 3, 3});
  ASSERT_TRUE(torch::equal(x.index({torch::indexing::Slice(1, torch::indexing::None, 2)}), odd));
  auto y = bn(x);
  auto y_even = torch::batch_norm(even, weight, bias, mean0, var0, true, 0.1, 1e-5, false);
  auto y_odd = torch::batch_norm(odd, weight, bias, mean1, var1, true, 0.1, 1e-5, false);
  EXPECT_TRUE(torch::allclose(y, torch::stack({y_even, y_odd}, 1).reshape({8, 3, 3, 3}), 1e-5, 1e-5));
  EXPECT_TRUE(torch::allclose(bn->running_mean, (mean0 + mean1) / 2, 1e-6, 1e-6));
  EXPECT_TRUE(torch::allclose(bn->running_var, (var0 + var1) / 2, 1e-6, 1e-6));
  EXPECT_EQ(bn->num_batches_tracked.item<int64_t>(), 4);  // one step per forward, not per split

  // Gradients reach the shared affine parameters from both groups: d/dbias of sum(y * g) is the
  // per-channel sum of g over the whole batch.
  auto g = torch::randn_like(y);
  (y * g).sum().backward();
  EXPECT_TRUE(torch::allclose(bn->bias.grad(), g.sum({0, 2, 3}), 1e-5, 1e-5));
}

TEST(BatchNorm, SplitsWithoutAffineAndOnTwoDimensionalInput) {
  BatchNorm2d bn(BatchNorm2dOptions(2).affine(false).splits(4));
  auto x = torch::randn({16, 2}) + torch::arange(16).remainder(4).unsqueeze(1) * 10;
  auto y = bn(x).view({4, 4, 2});  // [i][k] = sample 4i + k, i.e. group k
  EXPECT_LT(y.mean(0).abs().max().item<double>(), 1e-5);
}

TEST(BatchNorm, EvalIgnoresSplits) {
  BatchNorm2d bn(BatchNorm2dOptions(3).splits(4));
  randomize_bn(*bn);
  bn->eval();
  auto x = torch::randn({6, 3, 2, 2});  // 6 % 4 != 0 is fine in eval
  auto expected = torch::batch_norm(x, bn->weight, bn->bias, bn->running_mean, bn->running_var,
                                    false, 0.1, 1e-5, false);
  EXPECT_TRUE(torch::allclose(bn(x), expected));
  EXPECT_EQ(bn->num_batches_tracked.item<int64_t>(), 3);
}

TEST(BatchNorm, IndivisibleBatchThrows) {
  BatchNorm2d bn(BatchNorm2dOptions(3).splits(4));
  EXPECT_NE(error_message([&] { bn(torch::randn({6, 3, 2, 2})); }).find("not divisible"),
            std::string::npos);
  EXPECT_THROW(bn->set_splits(0), selfsup::Error);
}

TEST(BatchNorm, AffineFalseAndTwoDimensionalInput) {
  BatchNorm2d bn(BatchNorm2dOptions(5).affine(false));
  auto sd = state_dict(*bn);
  EXPECT_EQ(sd.size(), 3u);
  EXPECT_EQ(sd.count("weight"), 0u);
  auto y = bn(torch::randn({64, 5}) * 4 + 2);
  EXPECT_LT(y.mean(0).abs().max().item<double>(), 1e-5);
}

TEST(BatchNorm, LayerNormNormalisesEachSampleAlone) {
  BatchNorm2d bn(BatchNorm2dOptions(3).layer_norm(true));
  const auto x = torch::randn({4, 3, 5, 5}) * 3 + 2;
  const auto y = bn->forward(x);
  // Weight 1, bias 0: each sample has mean 0 and (biased) variance 1 over C x H x W.
  const auto flat = y.view({4, -1});
  EXPECT_TRUE(torch::allclose(flat.mean(1), torch::zeros({4}), 1e-5, 1e-5));
  EXPECT_TRUE(torch::allclose(flat.var(1, /*unbiased=*/false), torch::ones({4}), 1e-3, 1e-3));
  // No statistics across the batch: sample 0 alone gives the same output; eval mode too.
  EXPECT_TRUE(torch::allclose(bn->forward(x.slice(0, 0, 1)), y.slice(0, 0, 1), 1e-5, 1e-5));
  bn->eval();
  EXPECT_TRUE(torch::allclose(bn->forward(x), y, 1e-5, 1e-5));
  EXPECT_EQ(bn->num_batches_tracked.item<int64_t>(), 0);
}

TEST(MakeBackbone, LayerNormMakesSamplesIndependent) {
  BackboneConfig config;
  config.width = 0.125;
  config.norm = "layer";
  auto net = make_backbone(config, 1);
  net->train();
  const auto x = torch::randn({3, 1, 12, 12});
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(torch::allclose(net->forward(x).slice(0, 1, 2), net->forward(x.slice(0, 1, 2)), 1e-4, 1e-5));
  config.norm = "batch";  // the default couples the samples of a training batch
  auto bn_net = make_backbone(config, 1);
  bn_net->train();
  EXPECT_FALSE(torch::allclose(bn_net->forward(x).slice(0, 1, 2), bn_net->forward(x.slice(0, 1, 2)), 1e-4, 1e-5));
  config.norm = "group";
  EXPECT_TRUE(contains(error_message([&] { make_backbone(config, 1); }), "model.norm"));
  config.norm = "layer";
  config.name = "vit";
  EXPECT_TRUE(contains(error_message([&] { make_backbone(config, 1); }), "model.norm"));
}

TEST(BatchNorm, SetBnSplitsReachesEveryLayer) {
  ResNet net(ResNetOptions().width(0.25));
  MlpHead head(MlpHeadOptions(128, 32, 16).last_bn(true));
  net.register_module("head", head);  // a root holding both backbone and head
  set_bn_splits(net, 2);
  int n = 0;
  net.apply([&](torch::nn::Module& m) {
    if (auto* bn = dynamic_cast<BatchNorm2dImpl*>(&m)) {
      EXPECT_EQ(bn->splits(), 2);
      ++n;
    }
  });
  EXPECT_EQ(n, 20 + 2);  // resnet18: bn1 + 8 blocks x 2 + 3 downsample BNs; head: 2
  EXPECT_EQ(net.forward(torch::randn({4, 3, 16, 16})).sizes(), torch::IntArrayRef({4, 128}));
  EXPECT_THROW(net.forward(torch::randn({3, 3, 16, 16})), selfsup::Error);
  EXPECT_THROW(set_bn_splits(net, 0), selfsup::Error);
}

// ---------------------------------------------------------------- MlpHead

TEST(MlpHead, ShapesAndNames) {
  MlpHead one(MlpHeadOptions(8, 0, 4).num_layers(1));
  EXPECT_EQ(one(torch::randn({3, 8})).sizes(), torch::IntArrayRef({3, 4}));
  EXPECT_EQ(state_dict(*one).size(), 2u);  // layers.0.weight, layers.0.bias

  MlpHead three(MlpHeadOptions(8, 16, 4).num_layers(3).last_bn(true));
  EXPECT_EQ(three(torch::randn({5, 8})).sizes(), torch::IntArrayRef({5, 4}));
  auto sd = state_dict(*three);
  // 0 Linear, 1 BN, 2 ReLU, 3 Linear, 4 BN, 5 ReLU, 6 Linear, 7 BN(affine=false)
  for (const char* key : {"layers.0.weight", "layers.1.weight", "layers.1.running_var",
                          "layers.3.weight", "layers.4.bias", "layers.6.weight",
                          "layers.7.running_mean"})
    EXPECT_EQ(sd.count(key), 1u) << key;
  for (const char* key : {"layers.0.bias", "layers.6.bias", "layers.7.weight"})
    EXPECT_EQ(sd.count(key), 0u) << key;
  EXPECT_EQ(sd.size(), 1u + 5u + 1u + 5u + 1u + 3u);

  MlpHead no_bn(MlpHeadOptions(8, 16, 4).norm("none"));  // SimCLR-style, biases kept
  auto sd2 = state_dict(*no_bn);
  EXPECT_EQ(sd2.size(), 4u);
  EXPECT_EQ(sd2.at("layers.2.bias").sizes(), torch::IntArrayRef({4}));
  EXPECT_THROW(MlpHead(MlpHeadOptions(8, 16, 4).num_layers(0)), selfsup::Error);
}

TEST(MlpHead, NormalisationChoices) {
  torch::manual_seed(0);
  const auto x = torch::randn({6, 8}) * 3 + 2;
  // LayerNorm: per-sample statistics, Linear biases kept; names like torch.nn.LayerNorm's.
  MlpHead layer(MlpHeadOptions(8, 16, 4).norm("layer"));
  auto sd = state_dict(*layer);
  for (const char* key : {"layers.0.bias", "layers.1.weight", "layers.1.bias", "layers.3.weight"})
    EXPECT_EQ(sd.count(key), 1u) << key;
  EXPECT_EQ(sd.count("layers.1.running_mean"), 0u);
  // Batch statistics never enter: one sample's output does not depend on the rest of the batch.
  for (const char* norm : {"layer", "group_ws", "none"}) {
    MlpHead head(MlpHeadOptions(8, 64, 4).norm(norm));
    // (float rounding differs between batch sizes in the BLAS kernels: ~1e-6; batch coupling: ~1e-1)
    EXPECT_TRUE(torch::allclose(head(x).narrow(0, 0, 1), head(x.narrow(0, 0, 1)), 1e-4, 1e-5)) << norm;
  }
  MlpHead batch(MlpHeadOptions(8, 64, 4).norm("batch"));
  EXPECT_FALSE(torch::allclose(batch(x).narrow(0, 0, 2), batch(x.narrow(0, 0, 2)), 1e-3, 1e-4));
  EXPECT_THROW(MlpHead(MlpHeadOptions(8, 16, 4).norm("instance")), selfsup::Error);
}

TEST(WsLinear, UsesStandardisedWeightRows) {
  torch::manual_seed(0);
  WsLinear ws(5, 3, true);
  const auto x = torch::randn({4, 5});
  const auto w = ws->weight;
  const auto standardised = (w - w.mean(1, true)) / torch::sqrt(w.var(1, false, true) + 1e-5);
  EXPECT_TRUE(torch::allclose(ws(x), torch::addmm(ws->bias, x, standardised.t()), 1e-5, 1e-6));
  // Scaling the raw weights changes nothing (up to the eps in the variance): the forward sees
  // standardised rows.
  {
    torch::NoGradGuard g;
    ws->weight.mul_(7);
  }
  EXPECT_TRUE(torch::allclose(ws(x), torch::addmm(ws->bias, x, standardised.t()), 1e-3, 1e-3));
}

TEST(MlpHead, LastBnStandardisesOutputs) {
  MlpHead head(MlpHeadOptions(10, 32, 6).last_bn(true));
  auto y = head(torch::randn({128, 10}) * 3 + 1);
  EXPECT_LT(y.mean(0).abs().max().item<double>(), 1e-4);
  EXPECT_LT((y.var(0, /*unbiased=*/false) - 1).abs().max().item<double>(), 1e-3);
}

// ---------------------------------------------------------------- state dicts

TEST(StateDict, PtRoundTripGivesIdenticalOutputs) {
  TempDir dir;
  torch::manual_seed(1);
  ResNet a(ResNetOptions().width(0.25).in_channels(1).num_classes(7));
  randomize_bn(a);
  a.eval();
  save_state_dict_pt(dir / "a.pt", state_dict(a));
  EXPECT_FALSE(fs::exists(dir / "a.pt.tmp"));

  torch::manual_seed(2);
  ResNet b(ResNetOptions().width(0.25).in_channels(1).num_classes(7));
  b.eval();
  auto x = torch::randn({2, 1, 20, 20});
  EXPECT_FALSE(torch::equal(a.forward(x), b.forward(x)));
  auto loaded = load_state_dict_pt(dir / "a.pt");
  EXPECT_EQ(loaded.size(), state_dict(a).size());
  EXPECT_EQ(loaded.at("bn1.num_batches_tracked").dtype(), torch::kLong);
  load_state_dict(b, loaded, /*strict=*/true, dir / "a.pt");
  EXPECT_TRUE(torch::equal(a.forward(x), b.forward(x)));
  EXPECT_EQ(b.named_buffers()["bn1.num_batches_tracked"].item<int64_t>(), 3);
  EXPECT_TRUE(b.named_parameters()["conv1.weight"].requires_grad());
}

TEST(StateDict, MismatchesNameOriginAndKey) {
  ResNet net(ResNetOptions().width(0.25));
  auto sd = state_dict(net);
  sd["layer1.0.conv1.weight"] = torch::zeros({16, 16, 5, 5});
  const auto message = error_message([&] { load_state_dict(net, sd, false, "ckpt.pt"); });
  EXPECT_NE(message.find("ckpt.pt"), std::string::npos) << message;
  EXPECT_NE(message.find("'layer1.0.conv1.weight'"), std::string::npos) << message;
  EXPECT_NE(message.find("[16, 16, 5, 5]"), std::string::npos) << message;
  EXPECT_NE(message.find("[16, 16, 3, 3]"), std::string::npos) << message;

  sd = state_dict(ResNet(ResNetOptions().width(0.25)));
  sd.erase("bn1.bias");
  EXPECT_NE(error_message([&] { load_state_dict(net, sd, true, "x"); }).find("missing keys in state dict: bn1.bias"),
            std::string::npos);
  sd["extra.weight"] = torch::zeros({1});
  load_state_dict(net, sd, /*strict=*/false, "x");  // tolerated, the rest is loaded
  EXPECT_TRUE(torch::equal(state_dict(net).at("conv1.weight"), sd.at("conv1.weight")));
  sd["bn1.bias"] = torch::zeros({16});
  EXPECT_NE(error_message([&] { load_state_dict(net, sd, true, "x"); }).find("unexpected keys in state dict: extra.weight"),
            std::string::npos);
}

TEST(StateDict, UnreadableFileThrows) {
  TempDir dir;
  std::ofstream(dir / "junk.pt") << "not a zip";
  EXPECT_EQ(selfsup::test_util::error_message([&] { load_state_dict_pt(dir / "junk.pt"); }),
            dir / "junk.pt" + ": not a readable torch state dict file (not a zip archive: no end-of-directory record)");
  EXPECT_THROW(load_state_dict_pt(dir / "absent.pt"), selfsup::Error);
}

// LibTorch checks no CRC: one changed byte of a tensor loaded as a different weight.
TEST(StateDict, DamagedBytesFailTheZipCheck) {
  TempDir dir;
  const auto weight = torch::arange(8, torch::kFloat) + 1000;  // bytes easy to find
  save_state_dict_pt(dir / "w.pt", {{"w", weight}});
  std::ifstream in(dir / "w.pt", std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  in.close();
  const auto at = bytes.find(std::string(static_cast<const char*>(weight.data_ptr()), 16));
  ASSERT_NE(at, std::string::npos);
  bytes[at + 1] ^= 0x01;
  std::ofstream(dir / "w.pt", std::ios::binary | std::ios::trunc) << bytes;
  const auto msg = selfsup::test_util::error_message([&] { load_state_dict_pt(dir / "w.pt"); });
  EXPECT_EQ(msg.rfind(dir / "w.pt" + ": not a readable torch state dict file (zip entry '", 0), 0u) << msg;
  EXPECT_NE(msg.find("' fails its CRC-32 check)"), std::string::npos) << msg;
}

// A backbone starts from another's weights given in either file format; the classifier (fc.*) is
// skipped and reported, a wrong shape or a missing tensor names the file and the key.
TEST(PretrainedBackbone, LoadsPtAndSafetensorsAndSkipsTheClassifier) {
  TempDir dir;
  BackboneConfig config;
  config.width = 0.25;
  torch::manual_seed(1);
  auto source = make_backbone(config, 3);
  randomize_bn(*source);
  auto dict = state_dict(*source);
  dict["fc.weight"] = torch::randn({10, source->output_dim()});
  dict["fc.bias"] = torch::randn({10});
  save_state_dict_pt(dir / "w.pt", dict);
  selfsup::io::write_safetensors(dir / "w.safetensors", dict, {});
  const auto x = torch::randn({2, 3, 16, 16});
  source->eval();
  const auto expected = source->forward(x);
  for (const std::string file : {"w.pt", "w.safetensors"}) {
    torch::manual_seed(2);
    auto target = make_backbone(config, 3);
    const auto skipped = load_pretrained_backbone(*target, dir / file);
    EXPECT_EQ(skipped, (std::vector<std::string>{"fc.bias", "fc.weight"})) << file;
    target->eval();
    EXPECT_TRUE(torch::allclose(target->forward(x), expected)) << file;
  }

  dict["layer1.0.conv1.weight"] = torch::zeros({3, 3});
  save_state_dict_pt(dir / "bad_shape.pt", dict);
  auto target = make_backbone(config, 3);
  const auto shape_error = error_message([&] { load_pretrained_backbone(*target, dir / "bad_shape.pt"); });
  EXPECT_NE(shape_error.find("bad_shape.pt"), std::string::npos) << shape_error;
  EXPECT_NE(shape_error.find("layer1.0.conv1.weight"), std::string::npos) << shape_error;

  dict.erase("layer1.0.conv1.weight");
  save_state_dict_pt(dir / "missing.pt", dict);
  const auto missing_error = error_message([&] { load_pretrained_backbone(*target, dir / "missing.pt"); });
  EXPECT_NE(missing_error.find("layer1.0.conv1.weight"), std::string::npos) << missing_error;
}

// ---------------------------------------------------------------- Python interop (optional)

// C++ -> Python: our resnet18 weights load into torchvision's resnet18 with strict=True and give
// the same outputs (eval and training-mode BN). Python -> C++: a torchvision state dict
// saved as a plain dict loads here and reproduces Python's outputs; the OrderedDict that
// model.state_dict() returns is unreadable by LibTorch's unpickler and must give a helpful Error.
TEST(PythonInterop, Resnet18MatchesTorchvision) {
  if (std::system("/usr/bin/python3 -c 'import torch, torchvision' >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "python3 with torch + torchvision not available";
  TempDir dir;
  torch::manual_seed(3);
  ResNet net(ResNetOptions().depth(18).stem("imagenet").num_classes(10));
  randomize_bn(net);
  save_state_dict_pt(dir / "cpp.pt", state_dict(net));
  auto x = torch::randn({4, 3, 64, 64});
  StateDict io;
  io["x"] = x;
  {
    torch::NoGradGuard no_grad;
    net.eval();
    io["y_eval"] = net.forward(x);
    net.train();
    io["y_train"] = net.forward(x);
    io["running_var"] = state_dict(net).at("layer4.1.bn2.running_var").clone();
  }
  save_state_dict_pt(dir / "io.pt", io);

  std::ofstream(dir / "check.py") << R"(
import sys, torch, torchvision
d = sys.argv[1]
sd, io = torch.load(d + "/cpp.pt"), torch.load(d + "/io.pt")
m = torchvision.models.resnet18(num_classes=10)
m.load_state_dict(sd, strict=True)
with torch.no_grad():
    m.eval(); ok = torch.allclose(m(io["x"]), io["y_eval"], atol=1e-4)
    m.train(); ok &= torch.allclose(m(io["x"]), io["y_train"], atol=1e-4)
    ok &= torch.allclose(m.layer4[1].bn2.running_var, io["running_var"], atol=1e-5)
torch.manual_seed(0)
p = torchvision.models.resnet18(num_classes=10).eval()
for mod in p.modules():
    if isinstance(mod, torch.nn.BatchNorm2d):
        mod.running_mean.uniform_(-0.1, 0.1); mod.running_var.uniform_(0.5, 2.0)
torch.save(dict(p.state_dict()), d + "/py.pt")
torch.save(p.state_dict(), d + "/py_ordered.pt")
with torch.no_grad():
    # two entries: Python pickles a one-entry dict with SETITEM, which LibTorch cannot read
    torch.save({"x": io["x"], "y": p(io["x"])}, d + "/py_out.pt")
sys.exit(0 if ok else 1)
)";
  ASSERT_EQ(std::system(("/usr/bin/python3 " + (dir / "check.py") + " " + dir.path.string()).c_str()), 0)
      << "torchvision disagrees with the C++ resnet18";

  ResNet from_python(ResNetOptions().depth(18).stem("imagenet").num_classes(10));
  load_state_dict(from_python, load_state_dict_pt(dir / "py.pt"), /*strict=*/true, "py.pt");
  from_python.eval();
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(torch::allclose(from_python.forward(x), load_state_dict_pt(dir / "py_out.pt").at("y"),
                              1e-4, 1e-4));

  // The same torchvision file starts a classifier-less backbone: its features through the file's
  // fc layer give torchvision's logits.
  BackboneConfig tv;
  tv.stem = "imagenet";
  auto backbone = make_backbone(tv, 3);
  const auto skipped = load_pretrained_backbone(*backbone, dir / "py.pt");
  EXPECT_EQ(skipped.size(), 2u);
  backbone->eval();
  const auto py = load_state_dict_pt(dir / "py.pt");
  const auto logits = torch::addmm(py.at("fc.bias"), backbone->forward(x), py.at("fc.weight").t());
  EXPECT_TRUE(torch::allclose(logits, load_state_dict_pt(dir / "py_out.pt").at("y"), 1e-4, 1e-4));

  try {  // should a LibTorch version read OrderedDicts, the content must still be right
    EXPECT_EQ(load_state_dict_pt(dir / "py_ordered.pt").size(), 122u);
  } catch (const selfsup::Error& e) {
    EXPECT_NE(std::string(e.what()).find("torch.save(dict(model.state_dict()), path)"),
              std::string::npos) << e.what();
  }
}
