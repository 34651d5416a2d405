#include "selfsup/eval/features.h"

namespace selfsup::eval {

torch::Tensor extract_features(models::Backbone& backbone, const data::ImageDataset& dataset,
                               const augment::ViewConfig& view, torch::Device device, int64_t batch_size) {
  torch::NoGradGuard no_grad;
  const bool was_training = backbone.is_training();
  backbone.eval();
  std::vector<torch::Tensor> chunks;
  for (int64_t start = 0; start < dataset.size(); start += batch_size) {
    const int64_t n = std::min(batch_size, dataset.size() - start);
    const auto x = augment::prepare_eval(dataset.images.narrow(0, start, n), view, device);
    chunks.push_back(backbone.forward(x).to(torch::kCPU, torch::kFloat32));
  }
  backbone.train(was_training);
  return torch::cat(chunks);
}

torch::Tensor pixel_features(const data::ImageDataset& dataset, const augment::ViewConfig& view) {
  return augment::prepare_eval(dataset.images, view, torch::kCPU).flatten(1).to(torch::kFloat32);
}

}  // namespace selfsup::eval
