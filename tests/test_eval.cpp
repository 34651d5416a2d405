// Evaluation protocols: kNN and linear probe on features with a known answer, and fine-tuning
// (class-balanced label subset, learning, weights restored afterwards).
#include <gtest/gtest.h>

#include <tuple>
#include <vector>

#include "selfsup/core/error.h"
#include "selfsup/data/source.h"
#include "selfsup/eval/evaluate.h"
#include "selfsup/eval/finetune.h"
#include "selfsup/eval/knn.h"
#include "selfsup/eval/linear_probe.h"
#include "selfsup/models/state_dict.h"
#include "selfsup/ssl/registry.h"
#include "selfsup/train/recipe.h"
#include "selfsup/train/trainer.h"

using namespace selfsup;

TEST(Finetune, LabelledSubsetIsClassBalancedAndSeeded) {
  // 30 images of class 0, 10 of class 1: 10% gives ceil(3) + ceil(1).
  auto labels = torch::cat({torch::zeros({30}, torch::kLong), torch::ones({10}, torch::kLong)});
  const auto a = eval::labelled_subset(labels, 2, 0.1, 5);
  EXPECT_EQ(a.numel(), 4);
  EXPECT_EQ(labels.index_select(0, a).eq(1).sum().item<int64_t>(), 1);
  EXPECT_TRUE(torch::equal(a, eval::labelled_subset(labels, 2, 0.1, 5)));
  EXPECT_FALSE(torch::equal(eval::labelled_subset(labels, 2, 0.5, 5), eval::labelled_subset(labels, 2, 0.5, 6)));
  EXPECT_EQ(eval::labelled_subset(labels, 2, 1.0, 0).numel(), 40);
  EXPECT_THROW(eval::labelled_subset(labels, 2, 0.0, 0), Error);
}

TEST(Finetune, LearnsAndLeavesTheEncoderUnchanged) {
  auto recipe = load_recipe(std::string(SELFSUP_SOURCE_DIR) + "/recipes/tiny_test.yaml",
                            {"data.subset=2000", "data.test_subset=500", "eval.finetune.label_fraction=0.5",
                             "eval.finetune.epochs=10", "eval.finetune.batch_size=64"});
  const auto train = data::load_dataset(recipe.data, true), test = data::load_dataset(recipe.data, false);
  torch::manual_seed(0);
  auto method = ssl::make_method(recipe, 1);
  auto encoder = method->eval_encoder();
  const auto before = models::state_dict(*encoder);
  std::map<std::string, torch::Tensor> copy;
  for (const auto& [k, v] : before) copy[k] = v.clone();
  const auto r = eval::evaluate(encoder.get(), recipe, train, test, torch::kCPU, false, false, true);
  std::cout << "fine-tuned top-1 " << r.finetune << std::endl;
  EXPECT_GT(r.finetune, 0.35);  // 10 classes: chance is 0.1; 1,000 labels, 160 steps (measured 0.47)
  for (const auto& [k, v] : models::state_dict(*encoder)) EXPECT_TRUE(torch::equal(v, copy.at(k))) << k;
}

TEST(FewLabels, AllLabelsReproduceTheFullEvaluationAndFewStillLearn) {
  auto recipe = load_recipe(std::string(SELFSUP_SOURCE_DIR) + "/recipes/tiny_test.yaml",
                            {"data.subset=2000", "data.test_subset=500", "eval.linear.epochs=5", "eval.few_labels=[0.1, 1]"});
  const auto train = data::load_dataset(recipe.data, true), test = data::load_dataset(recipe.data, false);
  const auto r = eval::evaluate(nullptr, recipe, train, test, torch::kCPU, true, true);  // raw pixels
  ASSERT_EQ(r.few_labels.size(), 2u);
  EXPECT_EQ(r.few_labels[0].labelled_images, eval::labelled_subset(train.labels, 10, 0.1, 0).numel());
  EXPECT_LT(r.few_labels[0].labelled_images, 220);
  EXPECT_GT(r.few_labels[0].knn, 0.4);  // 10 classes, ~200 labels (chance 0.1)
  EXPECT_GT(r.few_labels[0].linear, 0.4);
  // Fraction 1 is the same subset in the same order, the same number of probe steps: the same numbers.
  EXPECT_EQ(r.few_labels[1].labelled_images, 2000);
  EXPECT_DOUBLE_EQ(r.few_labels[1].knn, r.knn);
  EXPECT_DOUBLE_EQ(r.few_labels[1].linear, r.linear);
  EXPECT_EQ(eval::percent_label(0.01), "1%");
  EXPECT_EQ(eval::percent_label(0.005), "0.5%");
  recipe.eval.few_labels = {1.5};
  EXPECT_THROW(eval::evaluate(nullptr, recipe, train, test, torch::kCPU, true, false), Error);
}

TEST(FewLabels, ResultsTableSaysWhereThePretrainedEncoderIsAhead) {
  const auto m = nlohmann::json::parse(R"({"name": "demo", "method": "moco",
    "eval": {"knn_top1": 0.77, "linear_top1": 0.79, "few_labels": {"1%": {"labelled_images": 600, "knn_top1": 0.70, "linear_top1": 0.72}}},
    "baselines": {"random_init": {"knn_top1": 0.74, "linear_top1": 0.75, "few_labels": {"1%": {"knn_top1": 0.60, "linear_top1": 0.61}}},
                  "raw_pixels": {"knn_top1": 0.81, "linear_top1": 0.84, "few_labels": {"1%": {"knn_top1": 0.69, "linear_top1": 0.73}}}}})");
  const auto table = train::format_results(m);
  EXPECT_NE(table.find("with 1% of the training labels (600 images; same test images):"), std::string::npos) << table;
  EXPECT_NE(table.find("raw pixels                  69.00%      73.00%\n"), std::string::npos) << table;
  EXPECT_NE(table.find("ahead of both baselines: kNN (1% of the labels)\n"), std::string::npos) << table;
  EXPECT_NE(table.find("not ahead of both baselines: kNN, linear, linear (1% of the labels)\n"), std::string::npos) << table;
}

TEST(LinearProbe, SeparatesSeparableFeaturesAndNotShuffledLabels) {
  torch::manual_seed(0);
  // Three classes, each a Gaussian blob around its own corner of a 5-d cube.
  auto blobs = [](int64_t per_class) {
    const auto labels = torch::arange(3, torch::kLong).repeat_interleave(per_class);
    const auto centres = torch::eye(3).mul(4.0);
    auto x = torch::cat({centres.index_select(0, labels), torch::zeros({labels.size(0), 2})}, 1);
    return std::make_pair(x + 0.3 * torch::randn(x.sizes()), labels);
  };
  const auto [train_x, train_labels] = blobs(100);
  const auto [test_x, test_labels] = blobs(50);
  eval::LinearProbeOptions options;
  options.epochs = 30;
  options.batch_size = 64;
  options.lr = 0.05;
  EXPECT_GT(eval::linear_probe_accuracy(train_x, train_labels, test_x, test_labels, 3, options), 0.99);
  // Labels unrelated to the features: nothing to learn beyond chance (1/3).
  const auto shuffled = train_labels.index_select(0, torch::randperm(train_labels.size(0)));
  EXPECT_LT(eval::linear_probe_accuracy(train_x, shuffled, test_x, test_labels, 3, options), 0.6);
}

// The weighted vote written out with torch::topk: what knn_predict's faster selection must equal.
torch::Tensor knn_by_topk(const torch::Tensor& train, const torch::Tensor& labels, const torch::Tensor& test,
                          int64_t classes, int64_t k, double t) {
  namespace F = torch::nn::functional;
  const auto sim = torch::mm(F::normalize(test, F::NormalizeFuncOptions().dim(1)),
                             F::normalize(train, F::NormalizeFuncOptions().dim(1)).t());
  const auto [top, idx] = sim.topk(k, 1);
  auto votes = torch::zeros({test.size(0), classes});
  votes.scatter_add_(1, labels.index_select(0, idx.flatten()).view_as(idx), (top / t).exp());
  return votes.argmax(1);
}

TEST(Knn, VotesOfTheNearestNeighboursByHand) {
  // Test point (1, 0): neighbours by cosine (1,0.1) class 1, (1,-0.3) class 0, (-1,0) class 0.
  const auto train = torch::tensor({{1.0f, 0.1f}, {1.0f, -0.3f}, {-1.0f, 0.0f}});
  const auto labels = torch::tensor({1, 0, 0}, torch::kLong);
  const auto test = torch::tensor({{1.0f, 0.0f}});
  // k = 1: the nearest alone decides; k = 3 with a large temperature: two votes of class 0 beat one.
  EXPECT_EQ(selfsup::eval::knn_predict(train, labels, test, 2, 1, 0.1).item<int64_t>(), 1);
  EXPECT_EQ(selfsup::eval::knn_predict(train, labels, test, 2, 3, 100.0).item<int64_t>(), 0);
}

TEST(Knn, SameAsTopkOnEveryShape) {
  torch::manual_seed(3);
  // n not a multiple of the 16-wide groups, k near n (few or no blocks to filter with), queries
  // spanning several chunks of 256.
  for (const auto& [n, k, m] : std::vector<std::tuple<int64_t, int64_t, int64_t>>{
           {5000, 200, 600}, {1003, 17, 300}, {250, 200, 40}, {33, 33, 10}, {40, 1, 260}}) {
    const auto train = torch::randn({n, 24}), test = torch::randn({m, 24});
    const auto labels = torch::randint(0, 7, {n}, torch::kLong);
    EXPECT_TRUE(torch::equal(selfsup::eval::knn_predict(train, labels, test, 7, k, 0.1),
                             knn_by_topk(train, labels, test, 7, k, 0.1)))
        << "n " << n << " k " << k << " m " << m;
  }
}

TEST(Knn, NanFeaturesGiveAnAnswerNotACrash) {
  auto train = torch::randn({3000, 8});
  train.index_put_({torch::indexing::Slice(0, 2900)}, std::nan(""));  // fewer finite rows than k
  const auto labels = torch::randint(0, 3, {3000}, torch::kLong);
  const auto test = torch::randn({5, 8});
  EXPECT_EQ(selfsup::eval::knn_predict(train, labels, test, 3, 200, 0.1).size(0), 5);
}
