// Batched, gradient-free embedding of images and texts with a trained CLIP model: the L2-normalised
// vectors that retrieval, zero-shot classification and the search index compare.
#pragma once

#include <torch/torch.h>

#include <string>
#include <vector>

#include "selfsup/augment/pipeline.h"
#include "selfsup/clip/model.h"
#include "selfsup/clip/tokenizer.h"

namespace selfsup::clip {

// uint8 N x C x H x W images, prepared like evaluation images (resize + normalise from `view`).
// Returns N x E float on the CPU, rows of unit length. `progress` prints a bar when true.
torch::Tensor embed_images(ClipModel& model, const torch::Tensor& images_u8, const augment::ViewConfig& view,
                           torch::Device device, int64_t batch_size = 256, bool progress = false);

// Texts tokenised to `max_length`; M x E float on the CPU, rows of unit length.
torch::Tensor embed_texts(ClipModel& model, const Tokenizer& tokenizer, const std::vector<std::string>& texts,
                          int64_t max_length, torch::Device device, int64_t batch_size = 256);

}  // namespace selfsup::clip
