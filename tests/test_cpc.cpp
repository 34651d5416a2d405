// CPC: the per-position InfoNCE against hand values, the patch grid, and the context network's
// causality (a row's context never sees the rows below it). Its short training run is in
// test_methods.cpp (MethodLearns).
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "selfsup/core/error.h"
#include "selfsup/models/convnet.h"
#include "selfsup/ssl/losses.h"
#include "selfsup/ssl/methods/cpc.h"
#include "test_util.h"

using namespace selfsup;
using namespace selfsup::ssl;

namespace {

Recipe cpc_recipe(std::vector<std::string> extra) {
  std::vector<std::string> o{"method.name=cpc", "augment.views=[{crop: {size: 28}}]"};
  o.insert(o.end(), extra.begin(), extra.end());
  return load_recipe(test_util::kTinyRecipe, o);
}

}  // namespace

TEST(InfoNcePositions, UniformGivesLnNAndHandValue) {
  // 2 positions x 3 images, all predictions orthogonal to all targets: ln 3.
  const auto pred = torch::eye(6).slice(0, 0, 3).unsqueeze(0).repeat({2, 1, 1});
  const auto target = torch::eye(6).slice(0, 3, 6).unsqueeze(0).repeat({2, 1, 1});
  EXPECT_NEAR(info_nce_positions(pred, target, 0.1).item<double>(), std::log(3.0), 1e-6);
  // Predictions equal to their targets (orthogonal to the others), tau 0.5: own logit 2, two at 0.
  EXPECT_NEAR(info_nce_positions(pred, pred, 0.5).item<double>(), std::log(1 + 2 * std::exp(-2.0)), 1e-6);
}

TEST(PatchGrid, EachCellIsTheBackboneOnItsPatch) {
  auto net = std::make_shared<models::ConvNet>(models::ConvNetOptions().width(0.5).in_channels(1));
  net->eval();
  PatchGridEncoder grid(net, 8, 4);
  const auto x = torch::randn({2, 1, 28, 28});
  torch::NoGradGuard no_grad;
  const auto g = grid.grid(x);
  ASSERT_EQ(g.sizes(), (std::vector<int64_t>{2, 6, 6, 32}));
  const auto patch = x.slice(2, 8, 16).slice(3, 12, 20);  // row 2, column 3
  EXPECT_TRUE(torch::allclose(g.select(1, 2).select(1, 3), net->forward(patch), 1e-5, 1e-5));
  EXPECT_TRUE(torch::allclose(grid.forward(x), g.mean({1, 2})));
  EXPECT_THROW(grid.grid(torch::randn({1, 1, 6, 6})), Error);
}

class CpcContext : public ::testing::TestWithParam<std::string> {};

TEST_P(CpcContext, RowsNeverSeeTheRowsBelow) {
  Cpc cpc(cpc_recipe({"method.cpc.context=" + GetParam()}), 1);
  torch::NoGradGuard no_grad;
  const auto z = torch::randn({2, 6, 5, 32});
  auto changed = z.clone();
  changed.select(1, 3).add_(1.0);  // perturb row 3
  const auto a = cpc.context(z), b = cpc.context(changed);
  ASSERT_EQ(a.sizes(), z.sizes());
  EXPECT_TRUE(torch::allclose(a.slice(1, 0, 3), b.slice(1, 0, 3)));  // rows 0-2 unchanged
  EXPECT_FALSE(torch::allclose(a.slice(1, 3, 4), b.slice(1, 3, 4)));  // row 3 sees itself
}

INSTANTIATE_TEST_SUITE_P(Cpc, CpcContext, ::testing::Values("gru", "conv"));

TEST(Cpc, OrientLooksAtTheGridFromEachDirection) {
  const auto z = torch::arange(2 * 3 * 4).view({1, 3, 4, 2}).to(torch::kFloat);  // N x R x Q x D
  EXPECT_TRUE(torch::equal(Cpc::orient(z, 0), z));
  // Bottom up: row i is row R-1-i. Left to right: row i is column i. Right to left: column Q-1-i.
  EXPECT_TRUE(torch::equal(Cpc::orient(z, 1).select(1, 0), z.select(1, 2)));
  EXPECT_TRUE(torch::equal(Cpc::orient(z, 2).select(1, 1), z.select(2, 1)));
  EXPECT_TRUE(torch::equal(Cpc::orient(z, 3).select(1, 0), z.select(2, 3)));
  EXPECT_EQ(Cpc::orient(z, 3).sizes(), (std::vector<int64_t>{1, 4, 3, 2}));
  EXPECT_THROW(Cpc::orient(z, 4), Error);
}

TEST(Cpc, EachDirectionHasItsOwnPredictors) {
  auto count = [](const Recipe& r) {
    Cpc cpc(r, 1);
    int64_t n = 0;
    for (const auto& p : cpc.named_parameters())
      if (p.key().rfind("predictors.", 0) == 0) ++n;
    return n / 2;  // weight and bias
  };
  EXPECT_EQ(count(cpc_recipe({"method.cpc.predict_steps=2"})), 2);
  EXPECT_EQ(count(cpc_recipe({"method.cpc.predict_steps=2", "method.cpc.directions=4"})), 8);
  // Skipped steps have no predictor: 3 steps, the nearest 2 skipped, 4 directions.
  EXPECT_EQ(count(cpc_recipe({"method.cpc.skip_steps=2", "method.cpc.directions=4"})), 4);
  EXPECT_THROW(cpc_recipe({"method.cpc.directions=3"}), Error);
}

TEST(Cpc, FourDirectionsTrainEveryPredictor) {
  torch::manual_seed(0);
  Cpc cpc(cpc_recipe({"method.cpc.predict_steps=2", "method.cpc.directions=4"}), 1);
  data::Batch batch;
  batch.views.push_back(torch::randn({4, 1, 28, 28}));
  StepContext ctx;
  const auto loss = cpc.training_step(batch, ctx).loss;
  // Random embeddings: each term is near chance, ln 4 (InfoNCE over the 4 images).
  EXPECT_NEAR(loss.item<double>(), std::log(4.0), 0.7);
  loss.backward();
  for (const auto& p : cpc.named_parameters())
    if (p.key().rfind("predictors.", 0) == 0) EXPECT_GT(p.value().grad().abs().sum().item<double>(), 0) << p.key();
}

TEST(Cpc, SkippedStepsIgnoreTheRowsInBetween) {
  // A 20 px image gives 4 rows of 8 px patches at stride 4 (pixel rows 0-7, 4-11, 8-15, 12-19).
  // Predicting only 3 rows ahead, row 0's context predicts row 3, and pixel rows 8-11 (seen by
  // patch rows 1 and 2 only) cannot change the loss; predicting 1..3 rows ahead, they do.
  auto loss = [](const std::string& skip, const torch::Tensor& x) {
    torch::manual_seed(0);
    Cpc cpc(cpc_recipe({"method.cpc.skip_steps=" + skip}), 1);
    cpc.eval();  // batch norm on running statistics: images do not share batch statistics
    data::Batch batch;
    batch.views.push_back(x);
    StepContext ctx;
    torch::NoGradGuard no_grad;
    return cpc.training_step(batch, ctx).loss.item<double>();
  };
  torch::manual_seed(1);
  const auto x = torch::randn({3, 1, 20, 20});
  auto changed = x.clone();
  changed.slice(2, 8, 12).add_(1.0);
  EXPECT_NEAR(loss("2", x), loss("2", changed), 1e-5);
  EXPECT_GT(std::abs(loss("0", x) - loss("0", changed)), 1e-3);
}

TEST(Cpc, RecipeNeedsEnoughRows) {
  EXPECT_NO_THROW(cpc_recipe({"method.cpc.predict_steps=5"}));  // 28 px, 8/4: 6 rows
  EXPECT_THROW(cpc_recipe({"method.cpc.predict_steps=6"}), Error);
  EXPECT_THROW(cpc_recipe({"method.cpc.context=lstm"}), Error);
  EXPECT_NO_THROW(cpc_recipe({"method.cpc.skip_steps=2"}));
  EXPECT_THROW(cpc_recipe({"method.cpc.skip_steps=3"}), Error);  // nothing left to predict
}

TEST(Cpc, ShiftedPatchesAreWindowsNearTheirGridPosition) {
  // A 1 x 1 x 12 x 12 image of distinct values, 4 px patches at stride 4 (a 3 x 3 grid), shift 1:
  // each patch must equal the edge-padded image at an offset in [-1, 1]^2 from its grid position.
  const auto x = torch::arange(144, torch::kFloat).view({1, 1, 12, 12});
  auto net = std::make_shared<models::ConvNet>(models::ConvNetOptions().width(0.5).in_channels(1));
  PatchGridEncoder grid(net, 4, 4);
  EXPECT_TRUE(torch::equal(grid.patches(x), x.unfold(2, 4, 4).unfold(3, 4, 4).permute({0, 2, 3, 1, 4, 5})));
  EXPECT_THROW(grid.patches(x, 1), Error);  // no generator
  auto gen = at::make_generator<at::CPUGeneratorImpl>(3);
  const auto p = grid.patches(x, 1, &gen);
  ASSERT_EQ(p.sizes(), (std::vector<int64_t>{1, 3, 3, 1, 4, 4}));
  const auto padded = torch::nn::functional::pad(
      x, torch::nn::functional::PadFuncOptions({1, 1, 1, 1}).mode(torch::kReplicate));
  std::set<std::pair<int64_t, int64_t>> offsets;
  for (int64_t r = 0; r < 3; ++r)
    for (int64_t q = 0; q < 3; ++q) {
      int found = 0;
      for (int64_t dy = -1; dy <= 1; ++dy)
        for (int64_t dx = -1; dx <= 1; ++dx) {
          const auto window = padded.slice(2, 4 * r + 1 + dy, 4 * r + 5 + dy).slice(3, 4 * q + 1 + dx, 4 * q + 5 + dx);
          if (torch::equal(p.select(1, r).select(1, q), window)) {
            ++found;
            offsets.insert({dy, dx});
          }
        }
      EXPECT_EQ(found, 1) << "patch " << r << "," << q;
    }
  EXPECT_GT(offsets.size(), 2u);  // the patches move independently
}

TEST(Cpc, PatchJitterScalesEachPatchOnItsOwn) {
  // Normalisation mean 0.5, std 0.25. Strength 0 is the identity; strength 0.5 on patches of one
  // grey level (pixel 0.5, normalised 0) leaves contrast nothing to do and scales brightness by a
  // factor in [0.5, 1.5] per patch: pixels in [0.25, 0.75], normalised in [-1, 1], all of a patch equal.
  auto gen = at::make_generator<at::CPUGeneratorImpl>(5);
  const auto varied = torch::rand({2, 3, 3, 1, 4, 4}) * 4.0 - 2.0;  // pixels in [0, 1]
  EXPECT_TRUE(torch::allclose(jitter_patches(varied, 0.0, {0.5}, {0.25}, gen), varied, 1e-5, 1e-5));
  const auto grey = torch::zeros({2, 3, 3, 1, 4, 4});
  const auto out = jitter_patches(grey, 0.5, {0.5}, {0.25}, gen);
  EXPECT_LE(out.abs().max().item<double>(), 1.0 + 1e-6);
  const auto per_patch = out.amax({3, 4, 5});
  EXPECT_TRUE(torch::allclose(per_patch, out.amin({3, 4, 5})));
  EXPECT_GT((per_patch - per_patch.mean()).abs().max().item<double>(), 0.05);  // patches differ
  // Contrast around the patch mean: a patch keeps its pattern up to a positive scale.
  const auto pattern = jitter_patches(varied * 0.2, 0.3, {0.5}, {0.25}, gen);  // pixels 0.4..0.6: no clamping
  const auto a = varied[0][0][0].flatten(), b = pattern[0][0][0].flatten();  // one patch
  const auto corr = torch::corrcoef(torch::stack({a, b})).index({0, 1}).item<double>();
  EXPECT_NEAR(corr, 1.0, 1e-4);
}

TEST(Cpc, PatchAugmentationTrainsDeterministically) {
  auto step = [] {
    torch::manual_seed(0);
    Cpc cpc(cpc_recipe({"method.cpc.patch_jitter=0.4", "method.cpc.patch_shift=2"}), 1);
    data::Batch batch;
    batch.views.push_back(torch::randn({4, 1, 28, 28}));
    StepContext ctx;
    ctx.generator = at::make_generator<at::CPUGeneratorImpl>(7);
    return cpc.training_step(batch, ctx).loss.item<double>();
  };
  const double loss = step();
  EXPECT_NEAR(loss, std::log(4.0), 0.7);
  EXPECT_EQ(loss, step());
  EXPECT_THROW(cpc_recipe({"method.cpc.patch_jitter=1"}), Error);
  EXPECT_THROW(cpc_recipe({"method.cpc.patch_shift=-1"}), Error);
}

// Four copies of one image: at the same position every image's patch is the same, so the default's
// negatives (the other images at that place) leave exactly ln 4; all_patches adds the image's other
// places, which differ, so the loss rises above it.
TEST(Cpc, AllPatchNegativesAddTheImagesOtherPlaces) {
  auto loss = [](const std::string& negatives) {
    torch::manual_seed(0);
    Cpc cpc(cpc_recipe({"method.cpc.negatives=" + negatives}), 1);
    data::Batch batch;
    batch.views.push_back(torch::randn({1, 1, 28, 28}).repeat({4, 1, 1, 1}));
    StepContext ctx;
    return cpc.training_step(batch, ctx).loss.item<double>();
  };
  EXPECT_NEAR(loss("same_position"), std::log(4.0), 1e-4);
  EXPECT_GT(loss("all_patches"), std::log(4.0) + 0.5);
  EXPECT_THROW(cpc_recipe({"method.cpc.negatives=random"}), Error);
}
