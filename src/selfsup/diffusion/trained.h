// The trained models of the diffusion family rebuilt from their checkpoints (the sample and eval
// samples commands).
#pragma once

#include <memory>
#include <string>

#include "selfsup/data/dataset.h"
#include "selfsup/diffusion/model.h"
#include "selfsup/train/recipe.h"

namespace selfsup::diffusion {

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

}  // namespace selfsup::diffusion
