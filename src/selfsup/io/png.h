// PNG output a person can open: image grids and heat-map overlays, written atomically.
#pragma once

#include <torch/torch.h>

#include <string>
#include <vector>

namespace selfsup::io {

// Writes a 1- or 3-channel C x H x W float image in [0, 1] (clamped) as an 8-bit PNG with
// atomic_write (core/fs.h). Throws selfsup::Error naming the path if it cannot be written.
void write_png(const std::string& path, const torch::Tensor& image);
// The same image as PNG bytes (`name` for the error message).
std::string encode_png(const torch::Tensor& image, const std::string& name = "image");

// Tiles equally sized 3 x H x W images row by row, `columns` per row, `pad` white pixels between.
torch::Tensor image_grid(const std::vector<torch::Tensor>& tiles, int64_t columns, int64_t pad = 2);

// The "hot" colour map (black -> red -> yellow -> white) of a map scaled to [0, 1] by its maximum,
// upsampled (nearest) to H x W and blended half-and-half over `image` (1 or 3 x H x W in [0, 1]).
torch::Tensor heat_overlay(const torch::Tensor& image, const torch::Tensor& heat);

}  // namespace selfsup::io
