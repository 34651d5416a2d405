#include "selfsup/eval/knn.h"

#include "selfsup/core/error.h"

namespace selfsup::eval {

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
  for (int64_t start = 0; start < queries.size(0); start += chunk) {
    const auto q = queries.narrow(0, start, std::min(chunk, queries.size(0) - start));
    const auto sim = torch::mm(q, bank.t());                          // m x N
    const auto [top_sim, top_idx] = sim.topk(k, /*dim=*/1);           // m x k
    const auto top_labels = train_labels.index_select(0, top_idx.flatten()).view_as(top_idx);
    const auto weights = (top_sim / temperature).exp();               // m x k
    auto votes = torch::zeros({q.size(0), num_classes}, torch::kFloat32);
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
