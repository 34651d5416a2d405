// DINO: its loss and teacher targets against hand values, the weight-normalised prototype layer,
// the head's names, and the method's mechanics (teacher temperature warm-up, centring, frozen
// prototypes in the first epoch, multi-crop with local crops). Its short training run is in
// test_methods.cpp (MethodLearns).
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "selfsup/core/error.h"
#include "selfsup/models/dino_head.h"
#include "selfsup/models/state_dict.h"
#include "selfsup/ssl/losses.h"
#include "selfsup/ssl/methods/dino.h"
#include "selfsup/train/optimizer.h"
#include "selfsup/train/trainer.h"

#include <filesystem>
#include <fstream>
#include <sstream>

using namespace selfsup;
using namespace selfsup::ssl;

namespace {

torch::Tensor rows(std::vector<std::vector<float>> r) {
  std::vector<torch::Tensor> out;
  for (auto& v : r) out.push_back(torch::tensor(v));
  return torch::stack(out);
}

const std::string kTiny = std::string(SELFSUP_SOURCE_DIR) + "/recipes/tiny_test.yaml";

Recipe dino_recipe(std::vector<std::string> extra = {}) {
  std::vector<std::string> o{"method.name=dino", "method.dino.out_dim=64", "method.dino.hidden_dim=32",
                             "method.dino.bottleneck_dim=16", "method.dino.teacher_warmup_epochs=3",
                             "method.dino.teacher_temperature=0.07"};
  o.insert(o.end(), extra.begin(), extra.end());
  return load_recipe(kTiny, o);
}

StepContext context(int64_t epoch) {
  StepContext ctx;
  ctx.epoch = epoch;
  ctx.total_steps = 100;
  ctx.generator = at::make_generator<at::CPUGeneratorImpl>(1);
  return ctx;
}

}  // namespace

TEST(CrossViewCrossEntropy, UniformGivesLnK) {
  const int64_t k = 16, n = 3;
  const auto teacher = torch::full({2 * n, k}, 1.0 / k);
  EXPECT_NEAR(cross_view_cross_entropy(torch::zeros({4 * n, k}), teacher, 4, 0.1).item<double>(), std::log(16.0), 1e-5);
}

TEST(CrossViewCrossEntropy, HandComputedPairs) {
  // K = 2, N = 1, tau_s = 1. Teacher: both global views say prototype 0.
  // Student view probabilities: v0 [.5 .5], v1 [.75 .25], local v2 [.25 .75].
  const auto teacher = rows({{1, 0}, {1, 0}});
  const auto student = rows({{0, 0}, {std::log(3.0f), 0}, {0, std::log(3.0f)}});
  // Pairs (g, v), v != g: (0,1) (0,2) (1,0) (1,2).
  const double expected = (-std::log(0.75) - std::log(0.25) - std::log(0.5) - std::log(0.25)) / 4;
  EXPECT_NEAR(cross_view_cross_entropy(student, teacher, 3, 1.0).item<double>(), expected, 1e-5);
  // Two views only: (0,1) and (1,0).
  EXPECT_NEAR(cross_view_cross_entropy(student.slice(0, 0, 2), teacher, 2, 1.0).item<double>(),
              (-std::log(0.75) - std::log(0.5)) / 2, 1e-5);
}

TEST(CrossViewCrossEntropy, TeacherTargetsAreCentredAndSharpened) {
  // Centring removes the common offset: logits equal to the centre give the uniform distribution.
  EXPECT_TRUE(torch::allclose(dino_teacher_probs(rows({{1, 2}}), rows({{1, 2}}), 0.04), rows({{0.5, 0.5}})));
  // Sharpening: a logit gap of 0.1 at tau 0.05 is a factor e^2 between the two probabilities.
  const auto p = dino_teacher_probs(rows({{0.1f, 0}}), torch::zeros({1, 2}), 0.05);
  EXPECT_NEAR(p[0][0].item<double>() / p[0][1].item<double>(), std::exp(2.0), 1e-3);
}

TEST(DinoHead, NamesWeightNormAndFrozenPrototypes) {
  models::DinoHead head(models::DinoHeadOptions(8, 10).hidden_dim(6).bottleneck_dim(4).layers(3));
  std::set<std::string> names;
  for (const auto& [name, t] : models::state_dict(*head)) names.insert(name);
  EXPECT_EQ(names, (std::set<std::string>{"mlp.0.weight", "mlp.0.bias", "mlp.2.weight", "mlp.2.bias", "mlp.4.weight",
                                          "mlp.4.bias", "last_layer.weight_g", "last_layer.weight_v"}));
  std::set<std::string> trainable;
  for (const auto& p : train::trainable_parameters(*head)) trainable.insert(p.name);
  EXPECT_EQ(trainable.count("last_layer.weight_g"), 0u);  // norm_last_layer: unit-norm prototypes
  // weight = g * v / |v| per row: with g = 1 each prototype is a unit vector.
  const auto x = torch::eye(4);
  const auto w = head->last_layer->forward(x);  // 4 x 10 = the normalised prototypes, transposed
  EXPECT_TRUE(torch::allclose(w.norm(2, {0}), torch::ones({10}), 1e-5, 1e-5));
  head->forward(torch::randn({3, 8}), /*freeze_last_layer=*/true).sum().backward();
  EXPECT_FALSE(head->last_layer->weight_v.grad().defined());
  EXPECT_TRUE(head->mlp->named_parameters()["0.weight"].grad().defined());
  head->forward(torch::randn({3, 8})).sum().backward();
  EXPECT_TRUE(head->last_layer->weight_v.grad().defined());
}

TEST(Dino, TeacherTemperatureWarmupCentreAndTeacherGetsNoGradient) {
  const auto recipe = dino_recipe();
  Dino dino(recipe, 1);
  EXPECT_DOUBLE_EQ(dino.teacher_temperature(0), 0.04);
  EXPECT_DOUBLE_EQ(dino.teacher_temperature(1), 0.055);  // np.linspace(0.04, 0.07, 3)[1]
  EXPECT_DOUBLE_EQ(dino.teacher_temperature(2), 0.07);
  EXPECT_DOUBLE_EQ(dino.teacher_temperature(50), 0.07);

  data::Batch batch;
  for (int i = 0; i < 2; ++i) batch.views.push_back(torch::randn({8, 1, 28, 28}));
  for (int i = 0; i < 3; ++i) batch.views.push_back(torch::randn({8, 1, 12, 12}));  // local crops
  auto ctx = context(0);
  EXPECT_TRUE(torch::equal(dino.center(), torch::zeros({1, 64})));
  auto out = dino.training_step(batch, ctx);
  EXPECT_TRUE(std::isfinite(out.loss.item<double>()));
  EXPECT_GT(dino.center().abs().sum().item<double>(), 0);  // moved toward the teacher's batch mean
  EXPECT_LE(out.logs.at("t_entropy"), std::log(64.0) + 1e-6);
  out.loss.backward();
  const auto params = dino.named_parameters();
  EXPECT_FALSE(params["teacher_head.mlp.0.weight"].requires_grad());
  EXPECT_TRUE(params["head.mlp.0.weight"].grad().defined());
  EXPECT_FALSE(params["head.last_layer.weight_v"].grad().defined());  // prototypes frozen in epoch 0
  auto ctx1 = context(1);
  dino.training_step(batch, ctx1).loss.backward();
  EXPECT_TRUE(params["head.last_layer.weight_v"].grad().defined());
  EXPECT_EQ(dino.backbone().get(), dino.named_children()["teacher_encoder"].get());  // teacher is evaluated
}

TEST(Dino, RecipeChecksGlobalCrops) {
  EXPECT_NO_THROW(dino_recipe({"augment.views.1.crop.size=28"}));
  EXPECT_THROW(dino_recipe({"augment.views.1.crop.size=20"}), Error);
}

// The collapse signal in a real run: on the tiny ConvNet a head without BatchNorm collapses to the
// uniform output within two epochs (measured: teacher entropy 5.50 of ln 256 = 5.55), and the
// trainer says so.
TEST(Dino, UniformCollapseIsLoggedAndWarned) {
  const auto dir = (std::filesystem::temp_directory_path() / ("selfsup_dino_collapse_" + std::to_string(::getpid()))).string();
  const auto recipe = dino_recipe({"run_dir=" + dir, "name=run", "method.dino.out_dim=256", "method.dino.hidden_dim=128",
                                   "method.dino.bottleneck_dim=32", "method.dino.momentum=0.99",
                                   "method.dino.teacher_warmup_epochs=0", "method.dino.teacher_temperature=0.04",
                                   "data.subset=2000", "train.epochs=2", "train.batch_size=100", "eval.at_end=false"});
  testing::internal::CaptureStderr();
  train::run_training(recipe, false);
  const auto err = testing::internal::GetCapturedStderr();
  std::ifstream csv(dir + "/run/metrics.csv");
  std::string header, line;
  std::getline(csv, header);
  std::string last;
  while (std::getline(csv, line)) last = line;
  std::filesystem::remove_all(dir);
  // Column of `uniformity` in the last epoch's row.
  const auto column = std::count(header.begin(), header.begin() + static_cast<long>(header.find("uniformity")), ',');
  std::stringstream row(last);
  std::string cell;
  for (long i = 0; i <= column; ++i) std::getline(row, cell, ',');
  EXPECT_GT(std::stod(cell), 0.985) << header << "\n" << last;
  EXPECT_NE(err.find("warning"), std::string::npos) << err;
  EXPECT_NE(err.find("collaps"), std::string::npos) << err;
}
