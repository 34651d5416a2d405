// Sampling class-conditional images in batches, and the grids they are shown in.
#pragma once

#include <torch/torch.h>

#include "selfsup/diffusion/model.h"
#include "selfsup/diffusion/sampler.h"

namespace selfsup::diffusion {

// Samples one image per label in batches of `batch_size` (batch i seeded with mix(seed, i)), as
// uint8 N x C x H x W. Deterministic for a (seed, batch_size).
torch::Tensor generate(DiffusionModel& model, const torch::Tensor& labels, const SampleOptions& options,
                       int64_t batch_size, torch::Device device);

// [-1, 1] float images -> uint8 (what a PNG of them holds).
torch::Tensor to_uint8(const torch::Tensor& x);

// uint8 images in rows of `columns` -> a 3 x H x W float image for io::write_png, each tile
// enlarged `scale` times (nearest).
torch::Tensor sample_grid(const torch::Tensor& images_u8, int64_t columns, int64_t scale = 2);

}  // namespace selfsup::diffusion
