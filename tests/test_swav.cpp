// SwAV: Sinkhorn-Knopp codes against hand values and the equal-partition property, and the
// method's mechanics (prototypes renormalised, frozen at first, the feature queue). Its short
// training run is in test_methods.cpp (MethodLearns).
#include <gtest/gtest.h>

#include <cmath>

#include "selfsup/core/error.h"
#include "selfsup/ssl/losses.h"
#include "selfsup/ssl/methods/swav.h"

using namespace selfsup;
using namespace selfsup::ssl;

namespace {

const std::string kTiny = std::string(SELFSUP_SOURCE_DIR) + "/recipes/tiny_test.yaml";

Recipe swav_recipe(std::vector<std::string> extra = {}) {
  std::vector<std::string> o{"method.name=swav", "method.swav.prototypes=16", "method.projector.norm=batch",
                             "train.batch_size=8"};
  o.insert(o.end(), extra.begin(), extra.end());
  return load_recipe(kTiny, o);
}

StepContext context(int64_t epoch, int64_t step) {
  StepContext ctx;
  ctx.epoch = epoch;
  ctx.global_step = step;
  ctx.total_steps = 100;
  ctx.generator = at::make_generator<at::CPUGeneratorImpl>(1);
  return ctx;
}

data::Batch batch(int64_t n, int64_t global_views, int64_t local_views) {
  data::Batch b;
  for (int64_t v = 0; v < global_views; ++v) b.views.push_back(torch::randn({n, 1, 28, 28}));
  for (int64_t v = 0; v < local_views; ++v) b.views.push_back(torch::randn({n, 1, 12, 12}));
  return b;
}

}  // namespace

TEST(Sinkhorn, HandValuesAndUniformScores) {
  // Already balanced: Q is the row-wise softmax of scores / eps.
  const auto q = sinkhorn_knopp(torch::tensor({{1.0f, 0.0f}, {0.0f, 1.0f}}), 1.0, 3);
  const double e = std::exp(1.0);
  EXPECT_NEAR(q[0][0].item<double>(), e / (e + 1), 1e-5);
  EXPECT_NEAR(q[0][1].item<double>(), 1 / (e + 1), 1e-5);
  EXPECT_NEAR(q[1][1].item<double>(), e / (e + 1), 1e-5);
  // Equal scores: every code uniform.
  EXPECT_TRUE(torch::allclose(sinkhorn_knopp(torch::zeros({6, 3}), 0.05, 3), torch::full({6, 3}, 1.0 / 3)));
}

TEST(Sinkhorn, EqualPartitionEvenWhenEverySampleLikesOnePrototype) {
  // Every sample is closest to prototype 0; the codes still spread the batch over all K.
  auto scores = torch::rand({64, 8}) * 0.2;
  scores.select(1, 0) += 0.5;
  const auto q = sinkhorn_knopp(scores, 0.05, 100);
  EXPECT_TRUE(torch::allclose(q.sum(1), torch::ones({64}), 1e-4, 1e-4));
  EXPECT_TRUE(torch::allclose(q.sum(0), torch::full({8}, 8.0), 1e-2, 1e-2));  // B / K each
  // Tiny epsilon: no NaN although most exponentials underflow.
  EXPECT_FALSE(sinkhorn_knopp(torch::randn({16, 32}), 0.001, 3).isnan().any().item<bool>());
}

TEST(Swav, PrototypesRenormalisedAndFrozenForTheFirstSteps) {
  Swav swav(swav_recipe({"method.swav.freeze_prototypes_steps=2"}), 1);
  {
    torch::NoGradGuard no_grad;
    const_cast<torch::Tensor&>(swav.prototypes()).mul_(3);
  }
  auto ctx = context(0, 0);
  auto out = swav.training_step(batch(8, 2, 2), ctx);
  EXPECT_TRUE(torch::allclose(swav.prototypes().norm(2, {1}), torch::ones({16}), 1e-5, 1e-5));
  out.loss.backward();
  EXPECT_FALSE(swav.prototypes().grad().defined());  // frozen in steps 0 and 1
  auto ctx2 = context(0, 2);
  swav.training_step(batch(8, 2, 2), ctx2).loss.backward();
  EXPECT_TRUE(swav.prototypes().grad().defined());
  EXPECT_LE(out.logs.at("uniformity"), 1.0 + 1e-6);
}

TEST(Swav, QueueFillsNewestFirstFromItsStartEpoch) {
  Swav swav(swav_recipe({"method.swav.queue_size=16", "method.swav.queue_start_epoch=1"}), 1);
  auto ctx0 = context(0, 0);
  swav.training_step(batch(8, 2, 0), ctx0);
  EXPECT_EQ(swav.queue().abs().sum().item<double>(), 0);  // epoch 0: not started
  auto ctx1 = context(1, 10);
  swav.training_step(batch(8, 2, 0), ctx1);
  const auto first = swav.queue().slice(1, 0, 8).clone();
  EXPECT_GT(first.abs().sum().item<double>(), 0);
  EXPECT_EQ(swav.queue().slice(1, 8, 16).abs().sum().item<double>(), 0);
  EXPECT_TRUE(torch::allclose(first.norm(2, {2}), torch::ones({2, 8}), 1e-5, 1e-5));  // unit embeddings
  auto ctx2 = context(1, 11);
  swav.training_step(batch(8, 2, 0), ctx2);
  EXPECT_TRUE(torch::equal(swav.queue().slice(1, 8, 16), first));  // moved back by one batch
  EXPECT_THROW(swav_recipe({"method.swav.queue_size=12"}), Error);  // not a multiple of the batch
}
