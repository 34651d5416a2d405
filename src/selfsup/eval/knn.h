// Weighted k-nearest-neighbour classification on L2-normalised features (InstDisc / MoCo
// protocol: k = 200, votes weighted by exp(cosine / 0.1)).
#pragma once

#include <torch/torch.h>

namespace selfsup::eval {

// Predicted class of each test feature. train: N x D, test: M x D (any scale; both are
// L2-normalised here), train_labels: N int64 in [0, num_classes).
torch::Tensor knn_predict(const torch::Tensor& train, const torch::Tensor& train_labels, const torch::Tensor& test,
                          int64_t num_classes, int64_t k, double temperature);

// Top-1 accuracy in [0, 1].
double knn_accuracy(const torch::Tensor& train, const torch::Tensor& train_labels, const torch::Tensor& test,
                    const torch::Tensor& test_labels, int64_t num_classes, int64_t k, double temperature);

}  // namespace selfsup::eval
