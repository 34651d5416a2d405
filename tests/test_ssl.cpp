// SSL building blocks and MoCo: losses with hand-computed values, the queue, momentum updates,
// shuffle-BN, and an end-to-end run that must beat the randomly initialised network.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "selfsup/core/error.h"
#include "selfsup/data/source.h"
#include "selfsup/eval/evaluate.h"
#include "selfsup/models/batch_norm.h"
#include "selfsup/ssl/losses.h"
#include "selfsup/ssl/memory.h"
#include "selfsup/ssl/methods/byol.h"
#include "selfsup/ssl/methods/moco.h"
#include "selfsup/train/momentum.h"
#include "selfsup/train/task.h"
#include "selfsup/train/trainer.h"
#include "test_util.h"

using namespace selfsup;
using namespace selfsup::ssl;

TEST(InfoNce, UniformSimilarityGivesLnKPlusOne) {
  // Orthogonal query, key and queue: every logit is 0, so the loss is ln(K+1) whatever tau is.
  const auto q = torch::tensor({{1.0f, 0.0f, 0.0f}});
  const auto k = torch::tensor({{0.0f, 1.0f, 0.0f}});
  const auto queue = torch::tensor({{0.0f, 0.0f, 1.0f}}).repeat({7, 1});
  EXPECT_NEAR(info_nce_queue(q, k, queue, 0.2).item<double>(), std::log(8.0), 1e-6);
}

TEST(InfoNce, HandComputedValue) {
  // logits = [q.k, q.n] / tau = [1, 0] / 0.5 = [2, 0]: loss = -log(e^2 / (e^2 + 1)).
  const auto q = torch::tensor({{1.0f, 0.0f}});
  const auto k = torch::tensor({{1.0f, 0.0f}});
  const auto queue = torch::tensor({{0.0f, 1.0f}});
  EXPECT_NEAR(info_nce_queue(q, k, queue, 0.5).item<double>(), std::log(1 + std::exp(-2.0)), 1e-6);
  // The positive sits at index 0 of the logits.
  const auto logits = info_nce_queue_logits(q, k, queue, 0.5);
  EXPECT_FLOAT_EQ(logits[0][0].item<float>(), 2.0f);
  EXPECT_FLOAT_EQ(logits[0][1].item<float>(), 0.0f);
}

TEST(Spread, OneForSpreadZeroForCollapsed) {
  torch::manual_seed(0);
  EXPECT_NEAR(embedding_spread(torch::randn({4096, 16})), 1.0, 0.05);
  EXPECT_NEAR(embedding_spread(torch::ones({64, 16}) + 1e-4 * torch::randn({64, 16})), 0.0, 0.01);
}

TEST(KeyQueue, FifoWithWrapAround) {
  KeyQueue q(5, 2);
  q->enqueue(torch::full({3, 2}, 1.0));
  EXPECT_EQ(q->pointer(), 3);
  q->enqueue(torch::full({3, 2}, 2.0));  // fills slots 3, 4 then wraps to 0
  EXPECT_EQ(q->pointer(), 1);
  const auto keys = q->keys();
  EXPECT_TRUE(torch::equal(keys.select(1, 0), torch::tensor({2.0, 1.0, 1.0, 2.0, 2.0}).to(keys.dtype())));
  EXPECT_THROW(q->enqueue(torch::zeros({6, 2})), Error);
}

TEST(Momentum, EmaOfParametersOnly) {
  torch::nn::Linear online(2, 2), target(2, 2);
  train::MomentumBranch branch;
  branch.follow(target.ptr(), online.ptr());
  EXPECT_TRUE(torch::equal(target->weight, online->weight));
  EXPECT_FALSE(target->weight.requires_grad());
  const auto before = target->weight.clone();
  {
    torch::NoGradGuard g;
    online->weight.add_(1.0);
  }
  branch.update(0.9);
  EXPECT_TRUE(torch::allclose(target->weight, 0.9 * before + 0.1 * online->weight));
}

TEST(Momentum, RampsOnHalfACosine) {
  torch::nn::Linear online(2, 2), target(2, 2);
  train::MomentumBranch branch(0.99, 1.0);
  branch.follow(target.ptr(), online.ptr());
  EXPECT_DOUBLE_EQ(branch.momentum(0.0), 0.99);
  EXPECT_NEAR(branch.momentum(0.5), 0.995, 1e-12);
  {
    torch::NoGradGuard g;
    online->weight.add_(1.0);
  }
  const auto before = target->weight.clone();
  EXPECT_DOUBLE_EQ(branch.update_at(1.0), 1.0);  // m = 1: the target does not move
  EXPECT_TRUE(torch::equal(target->weight, before));
  train::MomentumBranch other;
  torch::nn::Linear no_bias(torch::nn::LinearOptions(2, 2).bias(false));
  EXPECT_THROW(other.follow(no_bias.ptr(), online.ptr()), Error);  // one parameter against two
}

namespace {
Recipe tiny(std::vector<std::string> overrides = {}) {
  return load_recipe(std::string(SELFSUP_SOURCE_DIR) + "/recipes/tiny_test.yaml", overrides);
}
}  // namespace

TEST(Moco, ShuffleIsInvisibleWithoutSplitsAndMattersWithThem) {
  torch::manual_seed(0);
  const auto x = torch::randn({8, 1, 28, 28});
  auto gen = at::make_generator<at::CPUGeneratorImpl>(3);
  // One BN group: BN statistics are permutation invariant, so shuffling must not change any key.
  torch::manual_seed(0);
  Moco reference(tiny({"method.moco.shuffle_bn=false"}), 1);
  torch::manual_seed(0);
  Moco one_split(tiny({"method.moco.bn_splits=1"}), 1);
  EXPECT_TRUE(torch::allclose(reference.key(x, gen), one_split.key(x, gen), 1e-5, 1e-6));
  // Four groups: each key is normalised with the statistics of a different group of samples.
  torch::manual_seed(0);
  Moco split(tiny({"method.moco.bn_splits=4"}), 1);
  EXPECT_FALSE(torch::allclose(reference.key(x, gen), split.key(x, gen), 1e-3, 1e-4));
  EXPECT_EQ(split.key(x, gen).sizes(), (std::vector<int64_t>{8, 32}));
}

TEST(Moco, StepEnqueuesKeysAfterTheUpdate) {
  torch::manual_seed(0);
  Moco moco(tiny(), 1);
  data::Batch batch;
  batch.views = {torch::randn({64, 1, 28, 28}), torch::randn({64, 1, 28, 28})};
  StepContext ctx;
  ctx.generator = at::make_generator<at::CPUGeneratorImpl>(1);
  const auto out = moco.training_step(batch, ctx);
  // Both encoders start identical, so a key is closer to its query than the queue's random unit
  // keys are: the loss starts below the uniform-similarity value ln(K+1).
  EXPECT_GT(out.loss.item<double>(), 0.0);
  EXPECT_LT(out.loss.item<double>(), std::log(257.0));
  EXPECT_EQ(moco.queue()->pointer(), 0);
  out.loss.backward();
  moco.after_step(ctx);
  EXPECT_EQ(moco.queue()->pointer(), 64);
}

// The acceptance test of the foundation: MoCo v2 on 2,000 Fashion-MNIST images must beat the
// randomly initialised network's kNN accuracy.
TEST(MocoEndToEnd, BeatsRandomInitOnKnn) {
  const auto dir = (std::filesystem::temp_directory_path() / ("selfsup_e2e_" + std::to_string(::getpid()))).string();
  const auto recipe = tiny({"run_dir=" + dir, "name=e2e", "data.subset=2000", "data.test_subset=2000",
                            "train.epochs=8", "train.batch_size=100", "method.moco.queue_size=1000",
                            "method.moco.bn_splits=4", "eval.linear.epochs=1", "eval.baselines=true"});
  const auto metrics = train::run_training(recipe, false);
  const double trained = metrics["eval"]["knn_top1"], random = metrics["baselines"]["random_init"]["knn_top1"];
  std::cout << "kNN trained " << trained << " random init " << random << std::endl;
  EXPECT_GT(trained, random + 0.01);
}

TEST(SslTask, BuildsTheRecipesMethodOnItsData) {
  const auto r = load_recipe(test_util::kTinyRecipe, {"data.subset=64", "train.knn_every=0", "method.name=byol",
                                                      "method.predictor.out_dim=32"});
  auto task = train::make_task(r, torch::kCPU);
  EXPECT_EQ(task->method_name(), "byol");
  EXPECT_EQ(task->train_images().size(), 64);
  EXPECT_NE(std::dynamic_pointer_cast<ssl::Byol>(task->model()), nullptr);
  EXPECT_EQ(task->epoch_metric_names(), std::vector<std::string>{"knn_top1"});
  EXPECT_TRUE(task->evaluate_epoch(1).empty());  // knn_every = 0: only at the end
  EXPECT_NE(task->describe_model().find("convnet"), std::string::npos) << task->describe_model();
}
