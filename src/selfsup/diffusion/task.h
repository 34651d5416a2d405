// The diffusion family as trainer tasks — diffusion (the class-conditional denoiser), noisy_classifier
// (for classifier guidance) and classifier (the judge) — and the loaders that rebuild each trained
// model from its checkpoint for the sample and eval samples commands.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "selfsup/data/dataset.h"
#include "selfsup/diffusion/model.h"
#include "selfsup/train/recipe.h"
#include "selfsup/train/task.h"

namespace selfsup::diffusion {

// recipe.task: diffusion | noisy_classifier | classifier.
std::unique_ptr<train::Task> make_diffusion_task(const Recipe& recipe, torch::Device device);

// A trained model with the recipe that built it and its data's test split (class names, shapes,
// the real images the samples are compared with).
template <class M>
struct Trained {
  std::string checkpoint;
  Recipe recipe;
  std::shared_ptr<M> model;
  data::ImageDataset test;
};

// Each throws selfsup::Error when the checkpoint belongs to another task.
Trained<DiffusionModel> load_diffusion(const std::string& checkpoint, torch::Device device);
Trained<NoisyClassifier> load_noisy_classifier(const std::string& checkpoint, torch::Device device);
Trained<ImageClassifier> load_classifier(const std::string& checkpoint, torch::Device device);

// Samples one image per label in batches of `batch_size` (batch i seeded with mix(seed, i)), as
// uint8 N x C x H x W. Deterministic for a (seed, batch_size).
torch::Tensor generate(DiffusionModel& model, const torch::Tensor& labels, const SampleOptions& options,
                       int64_t batch_size, torch::Device device);

// [-1, 1] float images -> uint8 (what a PNG of them holds).
torch::Tensor to_uint8(const torch::Tensor& x);

// uint8 images in rows of `columns` -> a 3 x H x W float image for io::write_png, each tile
// enlarged `scale` times (nearest).
torch::Tensor sample_grid(const torch::Tensor& images_u8, int64_t columns, int64_t scale = 2);

// Judge accuracy on uint8 images with their intended labels, in [0, 1].
double judge_accuracy(ImageClassifier& judge, const Recipe& judge_recipe, const torch::Tensor& images_u8,
                      const torch::Tensor& labels, torch::Device device);
// The judge's penultimate features of uint8 images (N x D, CPU float).
torch::Tensor judge_features(ImageClassifier& judge, const Recipe& judge_recipe, const torch::Tensor& images_u8,
                             torch::Device device);

}  // namespace selfsup::diffusion
