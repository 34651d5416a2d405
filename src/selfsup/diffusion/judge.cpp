#include "selfsup/diffusion/judge.h"

#include "selfsup/core/error.h"

namespace selfsup::diffusion {

void check_dataset(const data::ImageDataset& ds, const std::string& task) {
  if (ds.height() != ds.width())
    throw Error(ds.source + ": task " + task + " needs square images, got " + std::to_string(ds.height()) + "x" +
                std::to_string(ds.width()));
  if (ds.num_classes() < 2 || ds.labels.min().item<int64_t>() < 0)
    throw Error(ds.source + ": task " + task + " needs class labels for every image");
}

torch::Tensor judge_features(ImageClassifier& judge, const Recipe& judge_recipe, const torch::Tensor& images_u8,
                             torch::Device device) {
  torch::NoGradGuard no_grad;
  judge.eval();
  std::vector<torch::Tensor> out;
  const int64_t batch = judge_recipe.eval.batch_size;
  for (int64_t i = 0; i < images_u8.size(0); i += batch)
    out.push_back(judge.features(augment::prepare_eval(images_u8.slice(0, i, i + batch), judge_recipe.augment.views[0], device)).cpu());
  return torch::cat(out);
}

double judge_accuracy(ImageClassifier& judge, const Recipe& judge_recipe, const torch::Tensor& images_u8,
                      const torch::Tensor& labels, torch::Device device) {
  judge.eval();
  return dataset_accuracy(images_u8, labels, judge_recipe.augment.views[0], device, judge_recipe.eval.batch_size,
                          [&](const torch::Tensor& x, int64_t) { return judge.logits(x); });
}

}  // namespace selfsup::diffusion
