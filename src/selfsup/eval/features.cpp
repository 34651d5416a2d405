#include "selfsup/eval/features.h"

#include "selfsup/core/error.h"
#include "selfsup/core/progress.h"
#include "selfsup/data/encoded_image.h"

namespace selfsup::eval {
namespace {

// Calls fn(start, x) with each batch of evaluation inputs (normalised, on `device`): slices of
// the images in memory, or centre crops decoded from a streamed dataset at view.crop.size.
template <typename Fn>
void for_each_eval_batch(const data::ImageDataset& dataset, const augment::ViewConfig& view, const EvalCrop& crop,
                         torch::Device device, int64_t batch_size, Fn fn) {
  if (dataset.streamed() && view.crop.size <= 0)
    throw Error(dataset.source + ": streamed evaluation needs an image size (eval.image_size or the first view's crop.size)");
  const int64_t batches = (dataset.size() + batch_size - 1) / batch_size;
  Progress progress("features", batches, batches / 4 + 1);  // a few plain lines when not on a terminal
  for (int64_t start = 0; start < dataset.size(); start += batch_size) {
    const int64_t n = std::min(batch_size, dataset.size() - start);
    const auto images = dataset.streamed() ? data::decode_center_crops(*dataset.stream, start, start + n, view.crop.size,
                                                                       crop.fraction, crop.skip_bad)
                                           : dataset.images.narrow(0, start, n);
    fn(augment::prepare_eval(images, view, device));
    progress.update(start / batch_size + 1, std::to_string(start + n) + " images");
  }
  progress.finish(std::to_string(dataset.size()) + " images of " + dataset.source);
}

}  // namespace

torch::Tensor extract_features(models::Backbone& backbone, const data::ImageDataset& dataset,
                               const augment::ViewConfig& view, torch::Device device, int64_t batch_size,
                               const EvalCrop& crop) {
  torch::NoGradGuard no_grad;
  const bool was_training = backbone.is_training();
  backbone.eval();
  std::vector<torch::Tensor> chunks;
  for_each_eval_batch(dataset, view, crop, device, batch_size,
                      [&](const torch::Tensor& x) { chunks.push_back(backbone.forward(x).to(torch::kCPU, torch::kFloat32)); });
  backbone.train(was_training);
  return torch::cat(chunks);
}

torch::Tensor pixel_features(const data::ImageDataset& dataset, const augment::ViewConfig& view, const EvalCrop& crop) {
  if (!dataset.streamed()) return augment::prepare_eval(dataset.images, view, torch::kCPU).flatten(1).to(torch::kFloat32);
  std::vector<torch::Tensor> chunks;
  for_each_eval_batch(dataset, view, crop, torch::kCPU, 256,
                      [&](const torch::Tensor& x) { chunks.push_back(x.flatten(1).to(torch::kFloat32)); });
  return torch::cat(chunks);
}

}  // namespace selfsup::eval
