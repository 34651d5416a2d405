#include "selfsup/eval/linear_probe.h"

#include <cmath>

#include "selfsup/core/progress.h"
#include "selfsup/core/tensor.h"

namespace selfsup::eval {

double linear_probe_accuracy(const torch::Tensor& train, const torch::Tensor& train_labels, const torch::Tensor& test,
                             const torch::Tensor& test_labels, int64_t num_classes, const LinearProbeOptions& options) {
  // Standardise with the training statistics (as MoCo v3's BN-without-affine before the classifier),
  // so one learning rate suits every backbone's feature scale.
  const auto x_train32 = train.to(torch::kFloat32);
  const auto mean = x_train32.mean(0, true);
  const auto std = x_train32.std(0, /*unbiased=*/true, /*keepdim=*/true).clamp_min(1e-6);
  const auto x_train = (x_train32 - mean) / std;
  const auto x_test = (test.to(torch::kFloat32) - mean) / std;

  auto gen = at::make_generator<at::CPUGeneratorImpl>(options.seed);
  auto classifier = torch::nn::Linear(x_train.size(1), num_classes);
  {
    torch::NoGradGuard no_grad;
    classifier->weight.normal_(0, 0.01, gen);
    classifier->bias.zero_();
  }
  torch::optim::Adam optimizer(classifier->parameters(),
                               torch::optim::AdamOptions(options.lr).weight_decay(options.weight_decay));
  const int64_t n = x_train.size(0);
  const int64_t steps_per_epoch = (n + options.batch_size - 1) / options.batch_size;
  const int64_t total = steps_per_epoch * options.epochs;
  int64_t step = 0;
  Progress progress("linear probe epoch", options.epochs, options.epochs / 4 + 1);
  for (int64_t epoch = 0; epoch < options.epochs; ++epoch) {
    if (epoch > 0) progress.update(epoch, "");
    const auto perm = torch::randperm(n, gen, torch::kLong);
    for (int64_t start = 0; start < n; start += options.batch_size, ++step) {
      const auto idx = perm.narrow(0, start, std::min(options.batch_size, n - start));
      const double lr = options.lr * 0.5 * (1 + std::cos(M_PI * static_cast<double>(step) / total));
      for (auto& group : optimizer.param_groups()) static_cast<torch::optim::AdamOptions&>(group.options()).lr(lr);
      optimizer.zero_grad();
      const auto logits = classifier->forward(x_train.index_select(0, idx));
      torch::nn::functional::cross_entropy(logits, train_labels.index_select(0, idx)).backward();
      optimizer.step();
    }
  }
  torch::NoGradGuard no_grad;
  const double accuracy = top1_accuracy(classifier->forward(x_test), test_labels);
  progress.finish("test top-1 " + std::to_string(100 * accuracy).substr(0, 5) + "%");
  return accuracy;
}

}  // namespace selfsup::eval
