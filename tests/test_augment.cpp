// Tests for the batched augmentation ops and the per-view pipeline: exact identities, value
// relations, ranges, determinism per generator seed, and config validation.
#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <set>
#include <string>

#include "selfsup/augment/jitter_cpu.h"
#include "selfsup/augment/ops.h"
#include "selfsup/augment/pipeline.h"
#include "selfsup/core/error.h"

namespace aug = selfsup::augment;
namespace F = torch::nn::functional;

namespace {

at::Generator make_gen(uint64_t seed) { return at::make_generator<at::CPUGeneratorImpl>(seed); }

torch::Tensor random_images(int64_t n, int64_t c, int64_t h, int64_t w, uint64_t seed = 0) {
  auto gen = make_gen(seed);
  return torch::rand({n, c, h, w}, gen, torch::kFloat32);
}

torch::Tensor random_u8(int64_t n, int64_t c, int64_t h, int64_t w, uint64_t seed = 0) {
  return (random_images(n, c, h, w, seed) * 255).to(torch::kUInt8);
}

bool close(const torch::Tensor& a, const torch::Tensor& b, double atol = 1e-5) {
  return a.sizes() == b.sizes() && torch::allclose(a, b, 1e-5, atol);
}

aug::ViewConfig moco_v2_view() {
  aug::ViewConfig v;
  v.crop.size = 24;
  v.blur.p = 0.5;
  v.solarize.p = 0.2;
  return v;
}

}  // namespace

TEST(AugmentOps, FlipTwiceIsIdentity) {
  auto x = random_images(2, 3, 5, 7);
  EXPECT_TRUE(torch::equal(aug::horizontal_flip(aug::horizontal_flip(x)), x));
  EXPECT_FLOAT_EQ(aug::horizontal_flip(x)[1][2][3][0].item<float>(), x[1][2][3][6].item<float>());
}

TEST(AugmentOps, FullCropEqualsBilinearResize) {
  auto x = random_images(3, 3, 16, 16);
  auto gen = make_gen(1);
  for (int64_t out : {8, 11, 16, 24}) {
    auto y = aug::random_resized_crop(x, out, out, 1, 1, 1, 1, 0.0, gen);
    auto ref = F::interpolate(x, F::InterpolateFuncOptions()
                                     .size(std::vector<int64_t>{out, out})
                                     .mode(torch::kBilinear)
                                     .align_corners(false));
    EXPECT_TRUE(close(y, ref)) << "out " << out;
  }
  EXPECT_TRUE(close(aug::random_resized_crop(x, 16, 16, 1, 1, 1, 1, 0.0, gen), x));
}

TEST(AugmentOps, FullCropWithFlipEqualsHorizontalFlip) {
  auto x = random_images(4, 1, 9, 9);
  auto gen = make_gen(2);
  auto y = aug::random_resized_crop(x, 9, 9, 1, 1, 1, 1, 1.0, gen);
  EXPECT_TRUE(close(y, aug::horizontal_flip(x)));
}

TEST(AugmentOps, CropsDifferPerSample) {
  auto x = random_images(1, 3, 16, 16).expand({8, 3, 16, 16}).contiguous();
  auto gen = make_gen(3);
  auto y = aug::random_resized_crop(x, 12, 12, 0.2, 1.0, 0.75, 4.0 / 3, 0.5, gen);
  ASSERT_EQ(y.sizes(), (std::vector<int64_t>{8, 3, 12, 12}));
  for (int64_t i = 1; i < 8; ++i) EXPECT_FALSE(close(y[0], y[i])) << "sample " << i;
}

TEST(AugmentOps, CropOnNonSquareImageShrinksToFit) {
  // Scale 1, ratio 1 cannot fit a 8 x 16 image: the box shrinks to the largest square (8 x 8) at
  // a random column offset in [0, 8]. Channel 0 is a column ramp, channel 1 a row ramp, so the
  // bilinear samples reveal the box exactly.
  auto cols = torch::arange(16, torch::kFloat32).view({1, 16}).expand({8, 16}) / 16.0;
  auto rows = torch::arange(8, torch::kFloat32).view({8, 1}).expand({8, 16}) / 16.0;
  auto x = torch::stack({cols, rows, cols}).unsqueeze(0).expand({6, 3, 8, 16}).contiguous();
  auto gen = make_gen(4);
  auto y = aug::random_resized_crop(x, 8, 8, 1, 1, 1, 1, 0, gen);  // 6 x 3 x 8 x 8
  auto step = torch::arange(8, torch::kFloat32) / 16.0;
  for (int64_t i = 0; i < 6; ++i) {
    auto offset = y[i][0][0][0].item<float>() * 16.0f;
    EXPECT_GE(offset, 0.0f);
    EXPECT_LE(offset, 8.0f);
    EXPECT_TRUE(close(y[i][0] - y[i][0][0][0], step.view({1, 8}).expand({8, 8})));
    EXPECT_TRUE(close(y[i][1], step.view({8, 1}).expand({8, 8})));  // all rows, no shift
  }
}

TEST(AugmentOps, JitterWithZeroStrengthIsIdentity) {
  auto x = random_images(4, 3, 6, 6);
  auto gen = make_gen(5);
  EXPECT_TRUE(torch::equal(aug::color_jitter(x, 0, 0, 0, 0, 1.0, gen), x));
  EXPECT_TRUE(torch::equal(aug::color_jitter(x, 0.4, 0.4, 0.4, 0.1, 0.0, gen), x));
}

TEST(AugmentOps, BrightnessScalesEachSampleByOneFactor) {
  auto x = random_images(6, 3, 5, 5) * 0.5;  // factor <= 1.8 keeps values below 1
  auto gen = make_gen(6);
  auto y = aug::color_jitter(x, 0.8, 0, 0, 0, 1.0, gen);
  std::set<float> factors;
  for (int64_t i = 0; i < 6; ++i) {
    auto ratio = y[i] / x[i];
    auto f = ratio.mean().item<float>();
    EXPECT_TRUE(torch::allclose(ratio, torch::full_like(ratio, f), 1e-4, 1e-4));
    EXPECT_GE(f, 0.2f - 1e-5f);
    EXPECT_LE(f, 1.8f + 1e-5f);
    factors.insert(f);
  }
  EXPECT_EQ(factors.size(), 6u);
  auto f = torch::tensor({2.0f});
  EXPECT_TRUE(torch::equal(aug::adjust_brightness(torch::full({1, 1, 2, 2}, 0.7f), f),
                           torch::ones({1, 1, 2, 2})));  // clamped
}

TEST(AugmentOps, ContrastAndSaturationBlend) {
  auto x = random_images(2, 3, 4, 4);
  auto half = torch::full({2}, 0.5f);
  auto gray = aug::to_grayscale(x);
  auto mean = gray.mean({1, 2, 3}, true);
  EXPECT_TRUE(close(aug::adjust_contrast(x, half), 0.5 * x + 0.5 * mean));
  EXPECT_TRUE(close(aug::adjust_saturation(x, half), 0.5 * x + 0.5 * gray));
  EXPECT_TRUE(close(aug::adjust_saturation(x, torch::ones({2})), x));  // factor 1 keeps
  auto y = aug::adjust_saturation(x, torch::zeros({2}));                // factor 0 = gray
  EXPECT_TRUE(close(y, gray.expand_as(x)));
  auto one = random_images(2, 1, 4, 4);
  EXPECT_TRUE(torch::equal(aug::adjust_saturation(one, half), one));  // no-op for 1 channel
}

TEST(AugmentOps, HsvRoundTripAndZeroHueShift) {
  auto x = random_images(3, 3, 8, 8);
  x[0][0].fill_(0.3);  // some gray pixels (max == min)
  x[0][1].fill_(0.3);
  x[0][2].fill_(0.3);
  auto hsv = aug::rgb_to_hsv(x);
  EXPECT_GE(hsv.min().item<float>(), 0.0f);
  EXPECT_LE(hsv.max().item<float>(), 1.0f);
  EXPECT_TRUE(close(aug::hsv_to_rgb(hsv), x));
  EXPECT_TRUE(close(aug::adjust_hue(x, torch::zeros({3})), x));
  EXPECT_TRUE(close(aug::adjust_hue(x, torch::ones({3})), x));  // a full turn
  // Pure red shifted by a third of the circle becomes pure green.
  auto red = torch::tensor({1.0f, 0.0f, 0.0f}).view({1, 3, 1, 1});
  auto green = torch::tensor({0.0f, 1.0f, 0.0f}).view({1, 3, 1, 1});
  EXPECT_TRUE(close(aug::adjust_hue(red, torch::tensor({1.0f / 3})), green));
  EXPECT_TRUE(close(aug::rgb_to_hsv(red), torch::tensor({0.0f, 1.0f, 1.0f}).view({1, 3, 1, 1})));
}

TEST(AugmentOps, GrayscaleUsesLumaWeights) {
  auto x = random_images(4, 3, 5, 5);
  auto gen = make_gen(7);
  auto y = aug::random_grayscale(x, 1.0, gen);
  auto luma = 0.299 * x.select(1, 0) + 0.587 * x.select(1, 1) + 0.114 * x.select(1, 2);
  for (int64_t c = 0; c < 3; ++c) EXPECT_TRUE(close(y.select(1, c), luma));
  EXPECT_TRUE(torch::equal(aug::random_grayscale(x, 0.0, gen), x));
  auto one = random_images(2, 1, 5, 5);
  EXPECT_TRUE(torch::equal(aug::random_grayscale(one, 1.0, gen), one));
}

TEST(AugmentOps, GaussianBlur) {
  auto gen = make_gen(8);
  auto noise = random_images(4, 3, 20, 20);
  EXPECT_TRUE(torch::equal(aug::gaussian_blur(noise, 0.0, 0.1, 2.0, 0, gen), noise));
  auto constant = torch::full({2, 3, 12, 12}, 0.42f);
  EXPECT_TRUE(close(aug::gaussian_blur(constant, 1.0, 0.5, 2.0, 5, gen), constant));
  auto blurred = aug::gaussian_blur(noise, 1.0, 1.0, 2.0, 0, gen);
  ASSERT_EQ(blurred.sizes(), noise.sizes());
  for (int64_t i = 0; i < 4; ++i) {
    EXPECT_LT(blurred[i].var().item<float>(), 0.5f * noise[i].var().item<float>());
    EXPECT_NEAR(blurred[i].mean().item<float>(), noise[i].mean().item<float>(), 0.02);
  }
  EXPECT_EQ(aug::auto_kernel_size(28, 28), 3);
  EXPECT_EQ(aug::auto_kernel_size(96, 96), 9);
  EXPECT_EQ(aug::auto_kernel_size(224, 224), 23);
  EXPECT_THROW(aug::gaussian_blur(noise, 1.0, 1.0, 2.0, 4, gen), selfsup::Error);
  EXPECT_THROW(aug::gaussian_blur(noise, 1.0, 1.0, 2.0, 41, gen), selfsup::Error);
}

TEST(AugmentOps, BlurOnlyTouchesSelectedSamples) {
  auto x = random_images(64, 1, 10, 10);
  auto gen = make_gen(9);
  auto y = aug::gaussian_blur(x, 0.5, 1.0, 2.0, 3, gen);
  int64_t changed = 0;
  for (int64_t i = 0; i < 64; ++i) changed += torch::equal(y[i], x[i]) ? 0 : 1;
  EXPECT_GT(changed, 16);
  EXPECT_LT(changed, 48);
}

TEST(AugmentOps, SolarizeValues) {
  auto x = torch::tensor({0.1f, 0.5f, 0.6f, 1.0f}).view({1, 1, 2, 2});
  auto gen = make_gen(10);
  auto y = aug::solarize(x, 1.0, 0.5, gen);
  EXPECT_TRUE(close(y, torch::tensor({0.1f, 0.5f, 0.4f, 0.0f}).view({1, 1, 2, 2})));
  EXPECT_TRUE(torch::equal(aug::solarize(x, 0.0, 0.5, gen), x));
}

TEST(AugmentOps, NormalizeValues) {
  auto x = torch::full({1, 3, 2, 2}, 0.5f);
  auto y = aug::normalize(x, {0.5, 0.25, 0.0}, {1.0, 0.5, 2.0});
  EXPECT_TRUE(close(y.select(1, 0), torch::zeros({1, 2, 2})));
  EXPECT_TRUE(close(y.select(1, 1), torch::full({1, 2, 2}, 0.5f)));
  EXPECT_TRUE(close(y.select(1, 2), torch::full({1, 2, 2}, 0.25f)));
  EXPECT_TRUE(close(aug::normalize(x, {0.5}, {0.5}), torch::zeros_like(x)));
  EXPECT_THROW(aug::normalize(x, {0.1, 0.2}, {1.0}), selfsup::Error);
  EXPECT_THROW(aug::normalize(x, {0.1}, {0.0}), selfsup::Error);
}

TEST(AugmentPipeline, OutputsStayInUnitRangeBeforeNormalisation) {
  auto view = moco_v2_view();
  view.jitter = {0.8, 0.8, 0.8, 0.5, 1.0};
  view.blur.p = 1.0;
  view.mean = {0.0};
  view.std = {1.0};
  for (int64_t c : {1, 3}) {
    auto gen = make_gen(11);
    auto y = aug::apply_view(random_u8(32, c, 28, 28), view, gen, torch::kCPU);
    ASSERT_EQ(y.sizes(), (std::vector<int64_t>{32, c, 24, 24}));
    EXPECT_EQ(y.scalar_type(), torch::kFloat32);
    EXPECT_GE(y.min().item<float>(), 0.0f);
    EXPECT_LE(y.max().item<float>(), 1.0f);
  }
}

TEST(AugmentPipeline, SameSeedSameViewDifferentSeedDifferentView) {
  auto images = random_u8(16, 3, 20, 20);
  auto view = moco_v2_view();
  auto g1 = make_gen(12), g2 = make_gen(12), g3 = make_gen(13);
  auto a = aug::apply_view(images, view, g1, torch::kCPU);
  auto b = aug::apply_view(images, view, g2, torch::kCPU);
  auto c = aug::apply_view(images, view, g3, torch::kCPU);
  EXPECT_TRUE(torch::equal(a, b));
  EXPECT_FALSE(close(a, c));
  EXPECT_FALSE(close(a, aug::apply_view(images, view, g1, torch::kCPU)));  // stream advances
}

TEST(AugmentPipeline, RepeatedViewsForMultiCrop) {
  auto images = random_u8(4, 1, 28, 28);
  aug::ViewConfig global = moco_v2_view(), local = moco_v2_view();
  global.crop.size = 20;
  global.repeat = 2;
  local.crop.size = 12;
  local.crop.scale = {0.05, 0.4};
  local.repeat = 3;
  const std::vector<aug::ViewConfig> views{global, local};
  EXPECT_EQ(aug::count_views(views), 5);
  auto g1 = make_gen(3), g2 = make_gen(3);
  const auto out = aug::apply_views(images, views, g1, torch::kCPU);
  ASSERT_EQ(out.size(), 5u);
  for (size_t i = 0; i < 5; ++i) EXPECT_EQ(out[i].size(2), i < 2 ? 20 : 12) << i;
  EXPECT_FALSE(close(out[0], out[1]));  // each repeat draws its own crop
  EXPECT_TRUE(torch::equal(out[3], aug::apply_views(images, views, g2, torch::kCPU)[3]));  // deterministic
  local.repeat = 0;
  EXPECT_THROW(aug::validate(local, "augment.views.1"), selfsup::Error);
}

TEST(AugmentPipeline, EmptyBatch) {
  auto view = moco_v2_view();
  auto gen = make_gen(14);
  auto y = aug::apply_view(torch::zeros({0, 3, 28, 28}, torch::kUInt8), view, gen, torch::kCPU);
  EXPECT_EQ(y.sizes(), (std::vector<int64_t>{0, 3, 24, 24}));
}

TEST(AugmentPipeline, PrepareEval) {
  auto images = random_u8(2, 3, 8, 8);
  aug::ViewConfig view;
  auto x = aug::prepare_eval(images, view, torch::kCPU);
  EXPECT_TRUE(close(x, (images.to(torch::kFloat32) / 255.0 - 0.5) / 0.5));
  view.crop.size = 4;
  EXPECT_EQ(aug::prepare_eval(images, view, torch::kCPU).sizes(),
            (std::vector<int64_t>{2, 3, 4, 4}));
  EXPECT_THROW(aug::prepare_eval(images.to(torch::kFloat32), view, torch::kCPU), selfsup::Error);
}

TEST(AugmentPipeline, ValidateNamesTheKey) {
  aug::ViewConfig view;
  EXPECT_NO_THROW(aug::validate(view, "augment.views.0"));
  view.crop.scale = {0.5, 0.2};
  try {
    aug::validate(view, "augment.views.0");
    FAIL() << "expected selfsup::Error";
  } catch (const selfsup::Error& e) {
    EXPECT_EQ(std::string(e.what()),
              "augment.views.0.crop.scale: expected two numbers 0 < min <= max <= 1");
  }
  auto rejects = [](void (*edit)(aug::ViewConfig&)) {
    aug::ViewConfig v;
    edit(v);
    EXPECT_THROW(aug::validate(v, "v"), selfsup::Error);
  };
  rejects([](aug::ViewConfig& v) { v.jitter.hue = 0.7; });
  rejects([](aug::ViewConfig& v) { v.blur.kernel_size = 4; });
  rejects([](aug::ViewConfig& v) { v.std = {0.5, 0.0, 0.5}; });
  rejects([](aug::ViewConfig& v) { v.flip = 1.5; });
  rejects([](aug::ViewConfig& v) { v.crop.ratio = {1.0}; });
}

// Lists every key visit() reports, to check each field has a doc string (no YAML needed).
namespace {
struct KeyLister : selfsup::config::Visitor {
  std::vector<std::string> keys;
  std::string prefix;
  void add(const char* key, const char* doc) {
    keys.push_back(prefix + key);
    EXPECT_GT(std::string(doc).size(), 10u) << key;
  }
  void operator()(const char* k, bool&, const char* d) override { add(k, d); }
  void operator()(const char* k, int64_t&, const char* d) override { add(k, d); }
  void operator()(const char* k, double&, const char* d) override { add(k, d); }
  void operator()(const char* k, std::string&, const char* d) override { add(k, d); }
  void operator()(const char* k, std::vector<double>&, const char* d) override { add(k, d); }
  void operator()(const char* k, std::vector<std::string>&, const char* d) override { add(k, d); }
  void section(const char* k, selfsup::config::SectionRef& s, const char* d) override {
    add(k, d);
    auto saved = prefix;
    prefix += std::string(k) + ".";
    s.visit(*this);
    prefix = saved;
  }
  void section_list(const char* k, selfsup::config::SectionListRef&, const char* d) override {
    add(k, d);
  }
};
}  // namespace

TEST(AugmentPipeline, VisitListsEveryField) {
  aug::ViewConfig view;
  KeyLister lister;
  view.visit(lister);
  EXPECT_EQ(lister.keys.size(), 22u);
  std::set<std::string> keys(lister.keys.begin(), lister.keys.end());
  for (const char* k : {"crop.scale", "jitter.hue", "blur.kernel_size", "solarize.threshold",
                        "mean", "std", "flip", "grayscale"})
    EXPECT_EQ(keys.count(k), 1u) << k;
}

// The fused CPU kernel of color_jitter computes what the chain of tensor ops does (the path on
// other devices), for colour and gray batches, with flat (gray) pixels and values at 0 and 1.
TEST(ColorJitterCpu, MatchesTheTensorOps) {
  torch::manual_seed(3);
  for (const int64_t c : {3, 1}) {
    auto x = torch::rand({6, c, 9, 11});
    x.select(1, 0).slice(1, 0, 2).fill_(1.0);  // saturated rows
    if (c == 3) x.slice(2, 3, 5).copy_(x.slice(2, 3, 5).select(1, 1).unsqueeze(1).expand({6, 3, 2, 11}));  // gray pixels
    const auto selected = torch::tensor({true, false, true, true, false, true});
    const auto fb = torch::rand({6}) * 0.8 + 0.6, fc = torch::rand({6}) * 0.8 + 0.6, fs = torch::rand({6}) * 0.8 + 0.6;
    const auto fh = torch::rand({6}) * 0.2 - 0.1;
    const auto fused = aug::color_jitter_cpu(x, selected, fb, fc, fs, fh);
    auto y = aug::adjust_hue(aug::adjust_saturation(aug::adjust_contrast(aug::adjust_brightness(x, fb), fc), fs), fh);
    const auto reference = torch::where(selected.view({-1, 1, 1, 1}), y, x);
    EXPECT_LT((fused - reference).abs().max().item<double>(), 1e-5) << c << " channels";
    EXPECT_TRUE(torch::equal(fused[1], x[1])) << "unselected images pass through";
    // One step at a time (the others skipped) agrees too.
    const torch::Tensor none;
    EXPECT_LT((aug::color_jitter_cpu(x, selected, none, fc, none, none) -
               torch::where(selected.view({-1, 1, 1, 1}), aug::adjust_contrast(x, fc), x)).abs().max().item<double>(), 1e-5);
  }
}
