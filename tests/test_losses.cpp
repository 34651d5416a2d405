// The contrastive losses against values computed by hand, and the memory bank.
#include <gtest/gtest.h>

#include <cmath>

#include "selfsup/core/error.h"
#include "selfsup/ssl/losses.h"
#include "selfsup/ssl/memory.h"

using namespace selfsup;
using namespace selfsup::ssl;

namespace {
// Row i of the D x D identity: unit vectors that are mutually orthogonal.
torch::Tensor basis(std::vector<int64_t> rows, int64_t dim) {
  return torch::eye(dim).index_select(0, torch::tensor(rows, torch::kLong));
}
}  // namespace

TEST(NtXent, UniformSimilarityGivesLn2NMinus1) {
  // Four mutually orthogonal embeddings: every logit is 0, each anchor picks 1 of 2N-1 = 3.
  EXPECT_NEAR(nt_xent(basis({0, 1}, 4), basis({2, 3}, 4), 0.5).item<double>(), std::log(3.0), 1e-6);
  // N = 3: ln 5.
  EXPECT_NEAR(nt_xent(basis({0, 1, 2}, 6), basis({3, 4, 5}, 6), 0.1).item<double>(), std::log(5.0), 1e-6);
}

TEST(NtXent, IdenticalViewsHandComputed) {
  // z1 = z2 = [e0, e1], tau = 0.5: each anchor's positive has logit 1/0.5 = 2, its two negatives 0.
  const auto z = basis({0, 1}, 2);
  const double expected = -std::log(std::exp(2.0) / (std::exp(2.0) + 2));
  EXPECT_NEAR(nt_xent(z, z, 0.5).item<double>(), expected, 1e-6);
  const auto logits = nt_xent_logits(z, z, 0.5);
  EXPECT_TRUE(std::isinf(logits[0][0].item<float>()));  // self-similarity masked
  EXPECT_TRUE(torch::equal(nt_xent_targets(2, torch::kCPU), torch::tensor({2, 3, 0, 1}, torch::kLong)));
}

TEST(InfoNceInBatch, UniformSimilarityGivesLnNAndHandValue) {
  // q orthogonal to every key: all logits 0, each row picks 1 of N.
  EXPECT_NEAR(info_nce_in_batch(basis({0, 1, 2}, 6), basis({3, 4, 5}, 6), 0.2).item<double>(), std::log(3.0), 1e-6);
  // q = k = [e0, e1], tau 0.5: the own key has logit 2, the other 0.
  const auto z = basis({0, 1}, 2);
  EXPECT_NEAR(info_nce_in_batch(z, z, 0.5).item<double>(), std::log(1 + std::exp(-2.0)), 1e-6);
  // Keys swapped: each row's own key is the one with logit 0.
  EXPECT_NEAR(info_nce_in_batch(z, basis({1, 0}, 2), 0.5).item<double>(), std::log(1 + std::exp(2.0)), 1e-6);
}

TEST(InvarianceSpread, UniformSimilarityHandComputed) {
  // Every P(j|r) = 1/3: -log(1/3) for the positive, -log(1 - 1/3) for each of the 2 negatives.
  const double expected = -std::log(1.0 / 3) - 2 * std::log(2.0 / 3);
  EXPECT_NEAR(invariance_spread(basis({0, 1}, 4), basis({2, 3}, 4), 0.2).item<double>(), expected, 1e-5);
}

TEST(InvarianceSpread, IdenticalViewsHandComputed) {
  const auto z = basis({0, 1}, 2);
  const double e = std::exp(1 / 0.1);
  const double p_pos = e / (e + 2), p_neg = 1 / (e + 2);
  const double expected = -std::log(p_pos) - 2 * std::log(1 - p_neg);
  EXPECT_NEAR(invariance_spread(z, z, 0.1).item<double>(), expected, 1e-5);
  // Better aligned positives give a lower loss than uniform similarity.
  EXPECT_LT(expected, -std::log(1.0 / 3) - 2 * std::log(2.0 / 3));
}

TEST(Nce, HalfProbabilityGivesKPlusOneLn2) {
  // Score 0 and Z = n / K make Pm = K/n = K Pn, so h = 1/2 for the positive and every noise sample.
  const int64_t n = 1000, k = 7;
  const auto positive = torch::zeros({3});
  const auto noise = torch::zeros({3, k});
  EXPECT_NEAR(nce_loss(positive, noise, std::log(double(n) / k), n).item<double>(), (k + 1) * std::log(2.0), 1e-5);
}

TEST(Nce, HandComputedValue) {
  // One positive with score 2, two noise samples with scores 0 and 1; Z = 50, n = 100, K = 2.
  const double z = 50, n = 100, k = 2, kpn = k / n;
  auto pm = [&](double s) { return std::exp(s) / z; };
  const double expected = -std::log(pm(2) / (pm(2) + kpn)) - std::log(kpn / (pm(0) + kpn)) - std::log(kpn / (pm(1) + kpn));
  const auto loss = nce_loss(torch::tensor({2.0f}), torch::tensor({{0.0f, 1.0f}}), std::log(z), 100);
  EXPECT_NEAR(loss.item<double>(), expected, 1e-5);
}

TEST(NormalizedMse, AlignedOrthogonalOpposite) {
  const auto p = torch::tensor({{3.0f, 0.0f}});
  EXPECT_NEAR(normalized_mse(p, torch::tensor({{0.5f, 0.0f}})).item<double>(), 0.0, 1e-6);  // scale-free
  EXPECT_NEAR(normalized_mse(p, torch::tensor({{0.0f, 2.0f}})).item<double>(), 2.0, 1e-6);
  EXPECT_NEAR(normalized_mse(p, torch::tensor({{-1.0f, 0.0f}})).item<double>(), 4.0, 1e-6);
  // 60 degrees apart: 2 - 2 cos 60 = 1.
  EXPECT_NEAR(normalized_mse(p, torch::tensor({{0.5f, std::sqrt(3.0f) / 2}})).item<double>(), 1.0, 1e-5);
}

TEST(NegativeCosine, AlignedOrthogonalOpposite) {
  const auto p = torch::tensor({{1.0f, 1.0f}, {1.0f, 0.0f}});
  EXPECT_NEAR(negative_cosine(p, torch::tensor({{2.0f, 2.0f}, {5.0f, 0.0f}})).item<double>(), -1.0, 1e-6);
  EXPECT_NEAR(negative_cosine(p, torch::tensor({{1.0f, -1.0f}, {0.0f, 1.0f}})).item<double>(), 0.0, 1e-6);
  EXPECT_NEAR(negative_cosine(p, -p).item<double>(), 1.0, 1e-6);
}

TEST(BarlowTwins, IdentityCorrelationOppositeAndSwapped) {
  // Columns with mean 0, variance 1 and no correlation: c = I (up to BN's eps), loss 0.
  const auto z = torch::tensor({{1.0f, 1.0f}, {1.0f, -1.0f}, {-1.0f, 1.0f}, {-1.0f, -1.0f}});
  EXPECT_NEAR(barlow_twins(z, z, 0.005).item<double>(), 0.0, 1e-8);
  // Scale and shift do not matter (the embeddings are standardised over the batch).
  EXPECT_NEAR(barlow_twins(z, 3 * z + 7, 0.005).item<double>(), 0.0, 1e-8);
  // Opposite views: c = -I, each diagonal term (1 - (-1))^2 = 4, D = 2.
  EXPECT_NEAR(barlow_twins(z, -z, 0.005).item<double>(), 8.0, 1e-3);
  // Swapped dimensions: c = [[0, 1], [1, 0]]: 2 * (1 - 0)^2 + lambda * 2 * 1^2.
  EXPECT_NEAR(barlow_twins(z, z.flip({1}), 0.25).item<double>(), 2.0 + 0.5, 1e-3);
}

TEST(MemoryBank, UpdateMixesAndRenormalises) {
  torch::manual_seed(0);
  MemoryBank bank(10, 2);
  EXPECT_NEAR(bank->features().norm(2, 1).mean().item<double>(), 1.0, 1e-6);
  bank->update(torch::tensor({3}, torch::kLong), torch::tensor({{1.0f, 0.0f}}), 0.0);  // replace
  EXPECT_TRUE(torch::allclose(bank->features()[3], torch::tensor({1.0f, 0.0f})));
  bank->update(torch::tensor({3}, torch::kLong), torch::tensor({{0.0f, 1.0f}}), 0.5);  // halfway, renormalised
  const float h = 1 / std::sqrt(2.0f);
  EXPECT_TRUE(torch::allclose(bank->features()[3], torch::tensor({h, h}), 1e-5, 1e-6));
  auto gen = at::make_generator<at::CPUGeneratorImpl>(1);
  const auto s = bank->sample(4, 100, gen);
  EXPECT_EQ(s.sizes(), torch::IntArrayRef({4, 100}));
  EXPECT_GE(s.min().item<int64_t>(), 0);
  EXPECT_LT(s.max().item<int64_t>(), 10);
}
