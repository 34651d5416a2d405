// Antialiased bilinear resize of a region of an 8-bit image (PIL's BILINEAR filter, which
// torchvision's RandomResizedCrop uses on PIL images): the streaming loader's crop + resize.
#pragma once

#include <cstdint>

#include "selfsup/data/crop.h"

namespace selfsup::data {

// An interleaved (row-major, channels last) 8-bit image.
struct PixelView {
  const uint8_t* data = nullptr;
  int64_t width = 0, height = 0, channels = 0;
  int64_t row_stride = 0;  // bytes from one row to the next
};

// Resamples `box` (in src's pixel coordinates, may be fractional) to out_size x out_size with a
// triangle filter widened by the downscale factor (PIL's antialiasing), into out: channels x
// out_size x out_size planes (C x H x W). flip mirrors the result left-right.
void resize_region(const PixelView& src, const CropBox& box, int64_t out_size, bool flip, uint8_t* out);

}  // namespace selfsup::data
