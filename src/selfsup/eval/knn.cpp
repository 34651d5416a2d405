#include "selfsup/eval/knn.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>
#include <vector>

#include "selfsup/core/error.h"

namespace selfsup::eval {

namespace {

// The k largest entries of each row of `sim` (m x n float), as torch::topk returns them (values
// and column indices; their order within the k does not matter to the vote). topk partially
// sorts all n entries of a row. Here the row is cut into groups of 16 and their maxima taken
// (vectorised); the smallest of the maxima of k blocks of groups is a value at least k entries
// reach, so nothing below it can be among the k largest. Only groups reaching it are scanned:
// ~2% of the entries for k = 200 of 60,000, from which the k largest are selected.
constexpr int64_t kGroup = 16;

void top_k_row(const float* row, int64_t n, int64_t k, float* out_values, int64_t* out_indices,
               std::vector<float>& group_max, std::vector<std::pair<float, int64_t>>& candidates) {
  const int64_t groups = (n + kGroup - 1) / kGroup;
  group_max.resize(static_cast<size_t>(groups));
  for (int64_t g = 0; g < groups; ++g) {
    const int64_t begin = g * kGroup, end = std::min(n, begin + kGroup);
    float lane[kGroup];
    for (int64_t j = 0; j < kGroup; ++j) lane[j] = row[begin];
    for (int64_t i = begin; i < end; ++i) lane[i - begin] = row[i];
    float mx = lane[0];
    for (int64_t j = 1; j < kGroup; ++j) mx = std::max(mx, lane[j]);
    group_max[static_cast<size_t>(g)] = mx;
  }
  // k blocks, each of whole groups, each holding at least one entry.
  const int64_t groups_per_block = std::max<int64_t>(1, groups / k);
  float threshold = std::numeric_limits<float>::infinity();
  for (int64_t b = 0; b + groups_per_block <= groups; b += groups_per_block)
    threshold = std::min(threshold, *std::max_element(&group_max[static_cast<size_t>(b)],
                                                      &group_max[static_cast<size_t>(b + groups_per_block - 1)] + 1));
  if (groups / groups_per_block < k) threshold = -std::numeric_limits<float>::infinity();  // too few blocks: scan all
  candidates.clear();
  for (int64_t g = 0; g < groups; ++g) {
    if (group_max[static_cast<size_t>(g)] < threshold) continue;
    for (int64_t i = g * kGroup, end = std::min(n, i + kGroup); i < end; ++i)
      if (row[i] >= threshold) candidates.emplace_back(row[i], i);
  }
  if (static_cast<int64_t>(candidates.size()) < k) {  // NaN similarities (a diverged encoder) defeat the bound
    candidates.clear();
    for (int64_t i = 0; i < n; ++i) candidates.emplace_back(row[i], i);
  }
  // Largest first, NaN above everything (as torch::topk), so the order stays a strict weak one.
  std::nth_element(candidates.begin(), candidates.begin() + (k - 1), candidates.end(), [](const auto& a, const auto& b) {
    return std::isnan(a.first) ? !std::isnan(b.first) : a.first > b.first;
  });
  for (int64_t j = 0; j < k; ++j) {
    out_values[j] = candidates[static_cast<size_t>(j)].first;
    out_indices[j] = candidates[static_cast<size_t>(j)].second;
  }
}

std::pair<torch::Tensor, torch::Tensor> top_k_rows(const torch::Tensor& sim, int64_t k) {
  const auto s = sim.contiguous();
  const int64_t m = s.size(0), n = s.size(1);
  auto values = torch::empty({m, k}, torch::kFloat32);
  auto indices = torch::empty({m, k}, torch::kLong);
  const float* data = s.data_ptr<float>();
  float* out_values = values.data_ptr<float>();
  int64_t* out_indices = indices.data_ptr<int64_t>();
  at::parallel_for(0, m, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> group_max;
    std::vector<std::pair<float, int64_t>> candidates;
    for (int64_t r = begin; r < end; ++r)
      top_k_row(data + r * n, n, k, out_values + r * k, out_indices + r * k, group_max, candidates);
  });
  return {values, indices};
}

}  // namespace

torch::Tensor knn_predict(const torch::Tensor& train, const torch::Tensor& train_labels, const torch::Tensor& test,
                          int64_t num_classes, int64_t k, double temperature) {
  torch::NoGradGuard no_grad;
  if (train.size(1) != test.size(1)) throw Error("knn: train and test features differ in dimension");
  namespace F = torch::nn::functional;
  const auto opts = F::NormalizeFuncOptions().dim(1);
  const auto bank = F::normalize(train.to(torch::kFloat32), opts);  // N x D
  const auto queries = F::normalize(test.to(torch::kFloat32), opts);
  k = std::min<int64_t>(k, bank.size(0));
  std::vector<torch::Tensor> predictions;
  const int64_t chunk = 256;  // bounds the M x N similarity matrix held at once
  auto buffer = torch::empty({std::min(chunk, queries.size(0)), bank.size(0)}, bank.options());  // reused: no page faults
  for (int64_t start = 0; start < queries.size(0); start += chunk) {
    const auto q = queries.narrow(0, start, std::min(chunk, queries.size(0) - start));
    auto sim = buffer.narrow(0, 0, q.size(0));  // m x N
    torch::mm_out(sim, q, bank.t());
    const auto [top_sim, top_idx] = sim.is_cuda() ? sim.topk(k, /*dim=*/1) : top_k_rows(sim, k);  // m x k
    const auto top_labels = train_labels.to(top_idx.device()).index_select(0, top_idx.flatten()).view_as(top_idx);
    const auto weights = (top_sim / temperature).exp();               // m x k
    auto votes = torch::zeros({q.size(0), num_classes}, weights.options());
    votes.scatter_add_(1, top_labels, weights);                       // m x classes
    predictions.push_back(votes.argmax(1));
  }
  return torch::cat(predictions);
}

double knn_accuracy(const torch::Tensor& train, const torch::Tensor& train_labels, const torch::Tensor& test,
                    const torch::Tensor& test_labels, int64_t num_classes, int64_t k, double temperature) {
  const auto pred = knn_predict(train, train_labels, test, num_classes, k, temperature);
  return pred.eq(test_labels).to(torch::kFloat64).mean().item<double>();
}

}  // namespace selfsup::eval
