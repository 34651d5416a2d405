// Frozen-feature extraction for evaluation: the backbone in eval mode over un-augmented images.
#pragma once

#include <torch/torch.h>

#include "selfsup/augment/pipeline.h"
#include "selfsup/data/dataset.h"
#include "selfsup/models/backbone.h"

namespace selfsup::eval {

// How streamed images are cut for evaluation (in-memory images are used as they are).
struct EvalCrop {
  double fraction = 0.875;  // centred square of this fraction of the shorter side (data.eval_crop)
  bool skip_bad = false;    // an undecodable image becomes grey instead of an error (data.on_bad_file: skip)
};

// N x D features of every image (float32, on CPU). The images are converted and normalised as the
// training view `view` does, without its random parts.
torch::Tensor extract_features(models::Backbone& backbone, const data::ImageDataset& dataset,
                               const augment::ViewConfig& view, torch::Device device, int64_t batch_size,
                               const EvalCrop& crop = {});

// The "raw pixels" baseline: normalised pixels flattened to N x (C*H*W).
torch::Tensor pixel_features(const data::ImageDataset& dataset, const augment::ViewConfig& view,
                             const EvalCrop& crop = {});

}  // namespace selfsup::eval
