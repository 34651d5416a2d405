// Frozen-feature extraction for evaluation: the backbone in eval mode over un-augmented images.
#pragma once

#include <torch/torch.h>

#include "selfsup/augment/pipeline.h"
#include "selfsup/data/dataset.h"
#include "selfsup/models/backbone.h"

namespace selfsup::eval {

// N x D features of every image (float32, on CPU). The images are converted and normalised as the
// training view `view` does, without its random parts.
torch::Tensor extract_features(models::Backbone& backbone, const data::ImageDataset& dataset,
                               const augment::ViewConfig& view, torch::Device device, int64_t batch_size);

// The "raw pixels" baseline: normalised pixels flattened to N x (C*H*W).
torch::Tensor pixel_features(const data::ImageDataset& dataset, const augment::ViewConfig& view);

}  // namespace selfsup::eval
