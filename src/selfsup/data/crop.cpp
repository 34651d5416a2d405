#include "selfsup/data/crop.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <cmath>
#include <mutex>

namespace selfsup::data {

double uniform01(at::Generator& gen) {
  std::lock_guard<std::mutex> lock(gen.mutex());
  return static_cast<double>(gen.get<at::CPUGeneratorImpl>()->random64() >> 11) * 0x1.0p-53;
}

namespace {

double uniform(at::Generator& gen, double lo, double hi) { return lo + (hi - lo) * uniform01(gen); }

// An integer in [0, n).
int64_t below(at::Generator& gen, int64_t n) {
  return std::min<int64_t>(n - 1, static_cast<int64_t>(uniform01(gen) * static_cast<double>(n)));
}

}  // namespace

CropBox random_crop_box(int64_t width, int64_t height, const CropSpec& spec, at::Generator& gen) {
  const double area = static_cast<double>(width * height);
  const double log_min = std::log(spec.ratio_min), log_max = std::log(spec.ratio_max);
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double target = area * uniform(gen, spec.scale_min, spec.scale_max);
    const double ratio = std::exp(uniform(gen, log_min, log_max));
    const auto w = static_cast<int64_t>(std::lround(std::sqrt(target * ratio)));
    const auto h = static_cast<int64_t>(std::lround(std::sqrt(target / ratio)));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      const int64_t y = below(gen, height - h + 1), x = below(gen, width - w + 1);
      return {static_cast<double>(x), static_cast<double>(y), static_cast<double>(w), static_cast<double>(h)};
    }
  }
  // torchvision's fallback: the whole image, cut to the nearest allowed ratio, centred.
  const double in_ratio = static_cast<double>(width) / static_cast<double>(height);
  int64_t w = width, h = height;
  if (in_ratio < spec.ratio_min) {
    h = std::lround(static_cast<double>(w) / spec.ratio_min);
  } else if (in_ratio > spec.ratio_max) {
    w = std::lround(static_cast<double>(h) * spec.ratio_max);
  }
  return {static_cast<double>((width - w) / 2), static_cast<double>((height - h) / 2), static_cast<double>(w),
          static_cast<double>(h)};
}

CropBox center_crop_box(int64_t width, int64_t height, double fraction) {
  const double side = fraction * static_cast<double>(std::min(width, height));
  return {(static_cast<double>(width) - side) / 2, (static_cast<double>(height) - side) / 2, side, side};
}

}  // namespace selfsup::data
