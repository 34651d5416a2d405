// Guided diffusion: schedule identities, q(x_t | x_0) statistics, the prediction conversions, the
// guidance formula, the classifier gradient, samplers that recover a known data distribution
// exactly, the U-Net's shapes and batch independence, the sample metrics against hand values,
// and a tiny end-to-end run of train -> sample -> eval samples through the CLI.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "run_cli.h"
#include "selfsup/core/error.h"
#include "selfsup/core/fs.h"
#include "selfsup/diffusion/model.h"
#include "selfsup/diffusion/sampler.h"
#include "selfsup/diffusion/schedule.h"
#include "selfsup/eval/sample_metrics.h"
#include "selfsup/io/plot.h"
#include "selfsup/models/unet.h"
#include "selfsup/train/recipe.h"

using namespace selfsup;
using namespace selfsup::diffusion;
namespace fs = std::filesystem;

namespace {

// The exact denoiser of a data distribution with equal mass on a few points of a 1x1x1 image:
// E[x0 | x_t] from the posterior over the points, returned as the chosen prediction type.
struct PointMixture {
  NoiseSchedule schedule;
  std::vector<double> points;
  std::string prediction = "eps";

  torch::Tensor log_likelihoods(const torch::Tensor& x, const torch::Tensor& t) const {  // B x K
    const auto a = schedule.abar(t, x.device()).view({-1, 1});
    const auto mu = torch::tensor(points, torch::kFloat).view({1, -1});
    return -(x.view({-1, 1}) - a.sqrt() * mu).pow(2) / (2 * (1 - a));
  }
  torch::Tensor output(const torch::Tensor& x, const torch::Tensor& t) const {
    const auto a = schedule.abar(t, x.device());
    const auto weights = torch::softmax(log_likelihoods(x, t), 1);
    const auto x0 = (weights * torch::tensor(points, torch::kFloat).view({1, -1})).sum(1).view_as(x);
    const auto eps = (x - a.sqrt() * x0) / (1 - a).sqrt();
    return training_target(prediction, x0, eps, a);
  }
};

}  // namespace

TEST(NoiseSchedule, LinearMatchesDdpmAndIsMonotone) {
  const auto s = NoiseSchedule::make("linear", 1000);
  EXPECT_NEAR(s.betas[0].item<double>(), 1e-4, 1e-12);
  EXPECT_NEAR(s.betas[999].item<double>(), 0.02, 1e-12);
  const auto abar = s.alphas_cumprod;
  EXPECT_TRUE((abar.slice(0, 1) < abar.slice(0, 0, 999)).all().item<bool>());
  EXPECT_NEAR(abar[0].item<double>(), 1 - 1e-4, 1e-12);
  EXPECT_LT(abar[999].item<double>(), 1e-4);  // ~4e-5: the last step is nearly pure noise
  // Fewer steps: betas scaled by 1000 / T, so the chain still ends near pure noise.
  const auto short_schedule = NoiseSchedule::make("linear", 100);
  EXPECT_NEAR(short_schedule.betas[0].item<double>(), 1e-3, 1e-12);
  EXPECT_LT(short_schedule.alphas_cumprod[99].item<double>(), 1e-3);
}

TEST(NoiseSchedule, CosineIsMonotoneAndCapped) {
  const auto s = NoiseSchedule::make("cosine", 1000);
  const auto abar = s.alphas_cumprod;
  EXPECT_TRUE((abar.slice(0, 1) < abar.slice(0, 0, 999)).all().item<bool>());
  EXPECT_LE(s.betas.max().item<double>(), 0.999);
  EXPECT_GT(abar[0].item<double>(), 0.9999);
  // ᾱ(T/2) = cos²((0.5 + s) / (1 + s) · π/2) / cos²(s / (1 + s) · π/2), s = 0.008.
  const double f0 = std::pow(std::cos(0.008 / 1.008 * M_PI / 2), 2);
  EXPECT_NEAR(abar[499].item<double>(), std::pow(std::cos((0.5 + 0.008) / 1.008 * M_PI / 2), 2) / f0, 1e-9);
  EXPECT_THROW(NoiseSchedule::make("quadratic", 10), Error);
  EXPECT_THROW(NoiseSchedule::make("linear", 1), Error);
}

TEST(NoiseSchedule, QSampleHasTheForwardProcessStatistics) {
  const auto s = NoiseSchedule::make("linear", 1000);
  torch::manual_seed(0);
  const int64_t n = 200000;
  const auto x0 = torch::full({n, 1, 1, 1}, 0.5);
  const auto t = torch::full({n}, 300, torch::kLong);
  const auto xt = s.q_sample(x0, t, torch::randn({n, 1, 1, 1}));
  const double a = s.alphas_cumprod[300].item<double>();
  EXPECT_NEAR(xt.mean().item<double>(), std::sqrt(a) * 0.5, 0.005);
  EXPECT_NEAR(xt.std().item<double>(), std::sqrt(1 - a), 0.005);
}

TEST(NoiseSchedule, PredictionConversionsRoundTrip) {
  torch::manual_seed(1);
  const auto x0 = torch::rand({4, 1, 3, 3}) * 2 - 1, noise = torch::randn({4, 1, 3, 3});
  const auto abar = torch::tensor({0.9f, 0.5f, 0.1f, 0.01f}).view({4, 1, 1, 1});
  const auto xt = abar.sqrt() * x0 + (1 - abar).sqrt() * noise;
  for (const std::string p : {"eps", "x0", "v"}) {
    const auto [eps, x0_hat] = to_eps_x0(p, training_target(p, x0, noise, abar), xt, abar);
    EXPECT_TRUE(torch::allclose(eps, noise, 1e-4, 1e-4)) << p;
    EXPECT_TRUE(torch::allclose(x0_hat, x0, 1e-4, 1e-4)) << p;
  }
  EXPECT_THROW(training_target("score", x0, noise, abar), Error);
}

TEST(Guidance, ScaleZeroIsUnconditionalOneIsConditionalAndOneSkipsTheUnconditionalPass) {
  const int64_t null_class = 10;
  int calls = 0;
  int64_t last_batch = 0;
  // Conditional prediction 3, unconditional 1, for every pixel.
  const DenoiseFn net = [&](const torch::Tensor& x, const torch::Tensor&, const torch::Tensor& y) {
    ++calls;
    last_batch = x.size(0);
    return torch::where(y == null_class, torch::ones({x.size(0)}), torch::full({x.size(0)}, 3.0)).view({-1, 1, 1, 1}).expand_as(x);
  };
  const auto x = torch::zeros({2, 1, 2, 2});
  const auto t = torch::zeros({2}, torch::kLong);
  const auto y = torch::tensor({4, 7});
  auto check = [&](double s, double expected, int64_t batch) {
    calls = 0;
    const auto out = guided_output(net, x, t, y, null_class, s);
    EXPECT_EQ(calls, 1) << "s = " << s;
    EXPECT_EQ(last_batch, batch) << "s = " << s;
    EXPECT_TRUE(torch::allclose(out, torch::full_like(x, expected))) << "s = " << s;
  };
  check(0, 1, 2);      // unconditional only
  check(1, 3, 2);      // conditional only: no unconditional pass
  check(2, 5, 4);      // 1 + 2 (3 - 1), both halves in one batched forward
  check(3, 7, 4);
}

TEST(Guidance, ClassifierGradientIsTheLogSoftmaxGradient) {
  torch::manual_seed(2);
  const auto w = torch::randn({3, 4});
  const ClassifierFn linear = [&](const torch::Tensor& x, const torch::Tensor&) { return x.flatten(1).mm(w.t()); };
  const auto x = torch::randn({2, 1, 2, 2});
  const auto t = torch::zeros({2}, torch::kLong);
  const auto y = torch::tensor({0, 2});
  const auto g = classifier_gradient(linear, x, t, y, 2.0);
  // d/dx log softmax(Wx)_y = W_y - sum_k p_k W_k.
  const auto p = torch::softmax(x.flatten(1).mm(w.t()), 1);
  const auto expected = (w.index_select(0, y) - p.mm(w)).view_as(x) * 2.0;
  EXPECT_TRUE(torch::allclose(g, expected, 1e-5, 1e-5));
  // A small step along it raises log p(y | x).
  const auto before = torch::log_softmax(linear(x, t), 1).gather(1, y.view({-1, 1}));
  const auto after = torch::log_softmax(linear(x + 0.01 * g, t), 1).gather(1, y.view({-1, 1}));
  EXPECT_TRUE((after > before).all().item<bool>());
}

TEST(Sampler, TimestepsAreEvenlySpacedAndValidated) {
  const auto ts = sampling_timesteps(1000, 50);
  ASSERT_EQ(ts.size(), 50u);
  EXPECT_EQ(ts.front(), 0);
  EXPECT_EQ(ts.back(), 999);
  for (size_t i = 1; i < ts.size(); ++i) EXPECT_GT(ts[i], ts[i - 1]);
  EXPECT_EQ(sampling_timesteps(10, 10), (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
  EXPECT_THROW(sampling_timesteps(10, 11), Error);
  EXPECT_THROW(sampling_timesteps(10, 0), Error);
}

TEST(Sampler, RecoversASinglePointExactlyWithEveryPredictionAndSampler) {
  // With the exact denoiser of a one-point distribution every sampler must land on the point.
  for (const std::string prediction : {"eps", "x0", "v"}) {
    PointMixture data{NoiseSchedule::make("linear", 1000), {0.3}, prediction};
    const DenoiseFn net = [&](const torch::Tensor& x, const torch::Tensor& t, const torch::Tensor&) { return data.output(x, t); };
    for (const std::string sampler : {"ddim", "ddpm"}) {
      SampleOptions o;
      o.sampler = sampler;
      o.steps = sampler == "ddim" ? 20 : 1000;
      o.progress = false;
      const auto x = sample(net, data.schedule, prediction, 0, torch::zeros({8}, torch::kLong), {1, 1, 1}, o, torch::kCPU);
      EXPECT_TRUE(torch::allclose(x, torch::full_like(x, 0.3), 1e-3, 1e-3)) << prediction << " " << sampler << ": " << x.view(-1);
    }
  }
}

TEST(Sampler, DeterministicForASeed) {
  torch::manual_seed(3);
  models::UNetConfig c;
  c.channels = 8;
  c.channel_mult = {1, 2};
  c.res_blocks = 1;
  c.attention_sides = {4};
  c.groups = 4;
  c.heads = 2;
  models::UNet unet(c, 1, 8, 3);
  {
    torch::NoGradGuard no_grad;
    for (auto& p : unet->parameters()) p.normal_(0, 0.1);  // away from the zero-initialised output
  }
  unet->eval();
  const DenoiseFn net = [&](const torch::Tensor& x, const torch::Tensor& t, const torch::Tensor& y) { return unet(x, t, y); };
  const auto schedule = NoiseSchedule::make("linear", 100);
  const auto labels = torch::tensor({0, 1, 2, 1});
  for (const std::string sampler : {"ddim", "ddpm"}) {
    SampleOptions o;
    o.sampler = sampler;
    o.steps = 10;
    o.eta = 0.5;
    o.guidance = 2;
    o.progress = false;
    o.seed = 7;
    const auto a = sample(net, schedule, "eps", 3, labels, {1, 8, 8}, o, torch::kCPU);
    const auto b = sample(net, schedule, "eps", 3, labels, {1, 8, 8}, o, torch::kCPU);
    o.seed = 8;
    const auto c2 = sample(net, schedule, "eps", 3, labels, {1, 8, 8}, o, torch::kCPU);
    EXPECT_TRUE(torch::equal(a, b)) << sampler;
    EXPECT_FALSE(torch::allclose(a, c2)) << sampler;
  }
}

TEST(Sampler, ClassifierGuidanceOnAnUnconditionalModelSamplesTheRequestedMode) {
  // Two equally likely points; the exact unconditional denoiser plus the exact noisy classifier at
  // scale 1 is the exact conditional model, so every sample lands on the requested point.
  PointMixture data{NoiseSchedule::make("linear", 1000), {-0.6, 0.6}, "eps"};
  const DenoiseFn net = [&](const torch::Tensor& x, const torch::Tensor& t, const torch::Tensor&) { return data.output(x, t); };
  const int64_t n = 64;
  SampleOptions o;
  o.steps = 50;
  o.guidance = 0;
  o.progress = false;
  const auto requested = torch::arange(n) % 2;
  const auto unguided = sample(net, data.schedule, "eps", 2, requested, {1, 1, 1}, o, torch::kCPU).view(-1);
  o.classifier = [&](const torch::Tensor& x, const torch::Tensor& t) { return data.log_likelihoods(x, t); };
  o.classifier_scale = 1;
  const auto target = torch::where(requested == 1, torch::full({n}, 0.6), torch::full({n}, -0.6));
  for (const std::string sampler : {"ddim", "ddpm"}) {
    o.sampler = sampler;
    o.steps = sampler == "ddim" ? 50 : 1000;
    const auto guided = sample(net, data.schedule, "eps", 2, requested, {1, 1, 1}, o, torch::kCPU).view(-1);
    const double hit = ((guided - target).abs() < 0.05).to(torch::kDouble).mean().item<double>();
    EXPECT_GE(hit, 0.95) << sampler << ": " << guided;
  }
  // Without guidance the samples ignore the request: about half land on the other point.
  const double unguided_hit = ((unguided - target).abs() < 0.05).to(torch::kDouble).mean().item<double>();
  EXPECT_LT(unguided_hit, 0.8);
}

TEST(UNet, ShapesZeroInitOutputAndBatchIndependence) {
  torch::manual_seed(4);
  models::UNetConfig c;
  c.channels = 8;
  c.channel_mult = {1, 2, 2};
  c.res_blocks = 2;
  c.attention_sides = {7};
  c.groups = 4;
  c.heads = 2;
  models::UNet unet(c, 1, 28, 10);
  const auto x = torch::randn({4, 1, 28, 28});
  const auto t = torch::tensor({0, 10, 500, 999});
  const auto y = torch::tensor({0, 3, 9, 10});  // 10 = the null class
  const auto fresh = unet(x, t, y);
  EXPECT_EQ(fresh.sizes().vec(), x.sizes().vec());
  EXPECT_EQ(fresh.abs().max().item<double>(), 0.0);  // the output convolution starts at zero
  {
    torch::NoGradGuard no_grad;
    for (auto& p : unet->parameters()) p.normal_(0, 0.1);  // away from the zero-initialised branches
  }
  unet->eval();
  const auto batch = unet(x, t, y);
  const auto alone = unet(x.slice(0, 1, 2), t.slice(0, 1, 2), y.slice(0, 1, 2));
  EXPECT_TRUE(torch::allclose(batch.slice(0, 1, 2), alone, 1e-5, 1e-5)) << "GroupNorm: no coupling across the batch";
  const auto other_class = unet(x.slice(0, 1, 2), t.slice(0, 1, 2), torch::tensor({5}));
  EXPECT_FALSE(torch::allclose(alone, other_class)) << "the class embedding must change the prediction";
  models::NoisyClassifierNet classifier(c, 1, 28, 10);
  EXPECT_EQ(classifier(x, t).sizes().vec(), (std::vector<int64_t>{4, 10}));
}

TEST(UNet, ConfigErrorsNameTheKey) {
  models::UNetConfig c;
  c.groups = 5;
  try {
    models::validate(c, 28, "diffusion.unet");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("diffusion.unet.groups"), std::string::npos) << e.what();
  }
  c = models::UNetConfig{};
  c.channel_mult = {1, 2, 2, 2};  // 28 -> 14 -> 7 -> 3.5
  EXPECT_THROW(models::validate(c, 28, "diffusion.unet"), Error);
  EXPECT_NO_THROW(models::validate(c, 32, "diffusion.unet"));
}

TEST(DiffusionRecipe, BadFieldsNameTheKey) {
  const std::string recipe = std::string(SELFSUP_SOURCE_DIR) + "/recipes/diffusion_cfg_fmnist.yaml";
  EXPECT_NO_THROW(load_recipe(recipe));
  for (const auto& [override_, key] : std::vector<std::pair<std::string, std::string>>{
           {"diffusion.p_uncond=1.5", "diffusion.p_uncond"},
           {"diffusion.prediction=score", "diffusion.prediction"},
           {"diffusion.schedule=quadratic", "diffusion.schedule"},
           {"augment.views.0.mean=[0.286]", "augment.views.0.mean"}}) {
    try {
      load_recipe(recipe, {override_});
      ADD_FAILURE() << override_ << " was accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(key), std::string::npos) << e.what();
    }
  }
}

TEST(SampleMetrics, FrechetDistanceHandValues) {
  // Four points with a diagonal sample covariance (4/3) I; b = a·diag(2, 3) + 1:
  // FD = |Δμ|² + Σ_i var_i (1 − s_i)² = 2 + 4/3 · (1 + 4).
  const auto a = torch::tensor({1.0, 1.0, 1.0, -1.0, -1.0, 1.0, -1.0, -1.0}, torch::kDouble).view({4, 2});
  const auto b = a * torch::tensor({2.0, 3.0}, torch::kDouble) + 1;
  EXPECT_NEAR(eval::frechet_distance(a, a), 0.0, 1e-9);
  EXPECT_NEAR(eval::frechet_distance(a, b), 2 + 20.0 / 3, 1e-9);
  // The same rotation applied to both sets (non-diagonal covariances) leaves it unchanged.
  const double c = std::cos(0.5), s = std::sin(0.5);
  const auto rot = torch::tensor({c, -s, s, c}, torch::kDouble).view({2, 2});
  EXPECT_NEAR(eval::frechet_distance(a.mm(rot), b.mm(rot)), 2 + 20.0 / 3, 1e-9);
  EXPECT_THROW(eval::frechet_distance(a, torch::randn({5, 3})), Error);
}

TEST(SampleMetrics, MeanPairwiseDistance) {
  const auto p = torch::tensor({0.0, 0.0, 3.0, 4.0, 0.0, 4.0}).view({3, 2});
  EXPECT_NEAR(eval::mean_pairwise_distance(p), 4.0, 1e-9);  // (5 + 4 + 3) / 3
}

TEST(Plot, DrawsTextAndLines) {
  auto image = torch::ones({3, 20, 40});
  io::draw_text(image, "S=3", 1, 1, 1, {0, 0, 0});
  EXPECT_LT(image.sum().item<double>(), 3 * 20 * 40);
  const auto plot = io::line_plot({{"ACC", {{"CFG", {0, 1, 2}, {10, 50, 90}}}}}, "S");
  EXPECT_EQ(plot.size(0), 3);
  EXPECT_LT(plot.min().item<double>(), 0.5);
}

TEST(DiffusionEndToEnd, TrainSampleAndMeasureGuidance) {
  const auto runs = (fs::temp_directory_path() / ("selfsup_diffusion_" + std::to_string(::getpid()))).string();
  fs::remove_all(runs);
  const std::string recipe = std::string(SELFSUP_SOURCE_DIR) + "/recipes/diffusion_tiny_test.yaml";
  auto r = run_cli("train " + recipe + " run_dir=" + runs);
  ASSERT_EQ(r.code, 0) << r.output;
  // The loss falls: the last epoch's mean is below the first's.
  std::ifstream csv(runs + "/diffusion_tiny_test/metrics.csv");
  std::string header, first, line, last;
  std::getline(csv, header);
  std::getline(csv, first);
  while (std::getline(csv, line)) last = line;
  const auto loss = [](const std::string& row) { return std::stod(row.substr(row.find(',', row.find(',') + 1) + 1)); };
  EXPECT_LT(loss(last), 0.8 * loss(first)) << first << "\n" << last;
  EXPECT_TRUE(fs::exists(runs + "/diffusion_tiny_test/samples.png"));
  const auto ckpt = runs + "/diffusion_tiny_test/checkpoint.pt";

  // Same seed, same picture; a class by name.
  r = run_cli("sample --checkpoint " + ckpt + " --class sneaker -n 4 --steps 5 --guidance 2 --out " + runs + "/a.png");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("of class Sneaker"), std::string::npos) << r.output;
  r = run_cli("sample --checkpoint " + ckpt + " --class 7 -n 4 --steps 5 --guidance 2 --out " + runs + "/b.png");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(selfsup::read_file(runs + "/a.png"), selfsup::read_file(runs + "/b.png"));
  r = run_cli("sample --checkpoint " + ckpt + " --class socks --out " + runs + "/c.png");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("'socks' is not a class"), std::string::npos) << r.output;

  // The noisy classifier and the judge (tiny), then the sweep with both kinds of guidance.
  r = run_cli("train " + recipe + " run_dir=" + runs + " task=noisy_classifier name=noisy");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("test top-1 at noise level t"), std::string::npos) << r.output;
  r = run_cli("train " + recipe + " run_dir=" + runs + " task=classifier name=judge model.name=convnet model.width=0.5");
  ASSERT_EQ(r.code, 0) << r.output;
  r = run_cli("sample --checkpoint " + ckpt + " --classifier " + runs + "/noisy/checkpoint.pt --classifier-scale 2 -n 2 "
              "--steps 4 --sampler ddpm --out " + runs + "/d.png");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("guidance s = 0, classifier guidance 2"), std::string::npos) << r.output;
  r = run_cli("eval samples --checkpoint " + ckpt + " --judge " + runs + "/judge/checkpoint.pt --classifier " + runs +
              "/noisy/checkpoint.pt --guidance 0,1,3 --classifier-scales 2 --per-class 3 --steps 4 --out " + runs + "/sweep");
  ASSERT_EQ(r.code, 0) << r.output;
  std::ifstream rows(runs + "/sweep/samples.csv");
  int count = 0;
  for (std::string row; std::getline(rows, row);) ++count;
  EXPECT_EQ(count, 1 + 4);
  for (const auto* f : {"samples.json", "tradeoff.png", "grid_cfg_s3.png", "grid_classifier_g2.png"})
    EXPECT_TRUE(fs::exists(runs + "/sweep/" + f)) << f;
  // A checkpoint of the wrong kind, and a classifier trained on another schedule, are refused.
  r = run_cli("eval samples --checkpoint " + runs + "/judge/checkpoint.pt --judge " + runs + "/judge/checkpoint.pt");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("where a 'diffusion' one is needed"), std::string::npos) << r.output;
  r = run_cli("train " + recipe + " run_dir=" + runs + " task=noisy_classifier name=noisy50 diffusion.timesteps=50 train.epochs=1");
  ASSERT_EQ(r.code, 0) << r.output;
  r = run_cli("eval samples --checkpoint " + ckpt + " --judge " + runs + "/judge/checkpoint.pt --classifier " + runs +
              "/noisy50/checkpoint.pt --classifier-scales 1 --guidance 1 --per-class 2 --steps 2 --out " + runs + "/sweep2");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("another noise schedule"), std::string::npos) << r.output;
  fs::remove_all(runs);
}

TEST(DiffusionModel, EmaStartsAsTheNetAndFollowsItWithTheWarmedUpDecay) {
  torch::manual_seed(0);
  const auto r = load_recipe(std::string(SELFSUP_SOURCE_DIR) + "/recipes/diffusion_tiny_test.yaml");
  diffusion::DiffusionModel model(diffusion::diffusion_config(r), 1, 28, 10);
  const auto net = model.net->parameters(), ema = model.ema->parameters();
  ASSERT_EQ(net.size(), ema.size());
  for (size_t i = 0; i < net.size(); ++i) {
    EXPECT_TRUE(torch::equal(net[i], ema[i]));
    EXPECT_FALSE(ema[i].requires_grad());  // the EMA copy is not optimised
  }
  {
    torch::NoGradGuard no_grad;
    for (auto& p : model.net->parameters()) p.add_(1.0);
  }
  const auto before = model.ema->parameters()[0].clone();
  train::StepContext ctx;
  ctx.global_step = 0;  // decay min(0.999, (1 + 0) / (10 + 0)) = 0.1
  model.after_step(ctx);
  EXPECT_TRUE(torch::allclose(model.ema->parameters()[0], 0.1 * before + 0.9 * model.net->parameters()[0]));
}
