// Crop boxes drawn on an image's original size (torchvision's RandomResizedCrop and the
// Resize + CenterCrop of evaluation), for the streaming loader, which crops while it decodes.
#pragma once

#include <ATen/core/Generator.h>

#include <cstdint>

namespace selfsup::data {

// A region of an image in its own pixel coordinates: columns [x, x + w), rows [y, y + h).
struct CropBox {
  double x = 0, y = 0, w = 0, h = 0;
};

// One training view's crop: the random box, its output side, and a horizontal flip.
struct CropSpec {
  int64_t size = 0;                          // output side in pixels
  double scale_min = 0.08, scale_max = 1.0;  // area fraction of the box
  double ratio_min = 3.0 / 4, ratio_max = 4.0 / 3;
  double flip = 0.5;  // probability of a left-right flip
};

// torchvision's RandomResizedCrop.get_params: up to ten tries of an area ~ U[scale] and a
// log-uniform aspect ratio, rounded to whole pixels, at a uniform integer position; then the
// central box of the image clamped to the ratio range. Draws come from `gen` (a CPU generator).
CropBox random_crop_box(int64_t width, int64_t height, const CropSpec& spec, at::Generator& gen);

// Evaluation: the centred square that Resize(size / fraction) + CenterCrop(size) keep, i.e. a
// side of fraction x the shorter side (fraction 0.875 = 224 / 256, the ImageNet protocol).
CropBox center_crop_box(int64_t width, int64_t height, double fraction);

// A uniform double in [0, 1) from a CPU generator (thread-safe: takes the generator's lock).
double uniform01(at::Generator& gen);

}  // namespace selfsup::data
