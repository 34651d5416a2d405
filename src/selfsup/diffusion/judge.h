// Classification on the diffusion family's data: the labelled-data check every task of the family
// makes, accuracy over a whole image set, and the judge (a supervised classifier) that scores
// generated samples: its accuracy on them and its features for the Frechet distance.
#pragma once

#include <torch/torch.h>

#include <string>

#include "selfsup/augment/pipeline.h"
#include "selfsup/data/dataset.h"
#include "selfsup/diffusion/model.h"
#include "selfsup/train/recipe.h"

namespace selfsup::diffusion {

// Throws selfsup::Error unless the images are square and every one has a class label.
void check_dataset(const data::ImageDataset& ds, const std::string& task);

// Accuracy of `logits_of` (batch of prepared images -> logits) over a whole dataset.
template <class F>
double dataset_accuracy(const torch::Tensor& images_u8, const torch::Tensor& labels, const augment::ViewConfig& view,
                        torch::Device device, int64_t batch_size, F logits_of) {
  torch::NoGradGuard no_grad;
  int64_t correct = 0;
  for (int64_t i = 0; i < images_u8.size(0); i += batch_size) {
    const auto x = augment::prepare_eval(images_u8.slice(0, i, i + batch_size), view, device);
    const auto y = labels.slice(0, i, i + batch_size).to(device);
    correct += logits_of(x, i).argmax(1).eq(y).sum().template item<int64_t>();
  }
  return static_cast<double>(correct) / static_cast<double>(images_u8.size(0));
}

// Judge accuracy on uint8 images with their intended labels, in [0, 1].
double judge_accuracy(ImageClassifier& judge, const Recipe& judge_recipe, const torch::Tensor& images_u8,
                      const torch::Tensor& labels, torch::Device device);
// The judge's penultimate features of uint8 images (N x D, CPU float).
torch::Tensor judge_features(ImageClassifier& judge, const Recipe& judge_recipe, const torch::Tensor& images_u8,
                             torch::Device device);

}  // namespace selfsup::diffusion
