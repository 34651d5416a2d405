// Linear probe: multinomial logistic regression on frozen, standardised features (the backbone
// is not touched), reported as test top-1.
#pragma once

#include <torch/torch.h>

namespace selfsup::eval {

struct LinearProbeOptions {
  int64_t epochs = 100;
  int64_t batch_size = 1024;
  double lr = 1e-3;
  double weight_decay = 0;
  uint64_t seed = 0;
};

// Trains on (train, train_labels), returns top-1 accuracy on (test, test_labels) in [0, 1].
double linear_probe_accuracy(const torch::Tensor& train, const torch::Tensor& train_labels, const torch::Tensor& test,
                             const torch::Tensor& test_labels, int64_t num_classes, const LinearProbeOptions& options);

}  // namespace selfsup::eval
