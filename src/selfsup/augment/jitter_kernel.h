// The per-image loops of color_jitter_cpu (jitter_cpu.h) on raw float planes: plain C++, no
// LibTorch, so this file can be compiled with the flags that let the compiler vectorise it.
#pragma once

#include <cstdint>

namespace selfsup::augment {

struct Factors {
  float brightness = 1, contrast = 1, saturation = 1, hue = 0;
  bool has_contrast = false, has_hue = false;
};

// One image in place, values in [0, 1]: brightness, contrast, then (RGB only) saturation and hue.
void jitter_gray(float* p, int64_t pixels, const Factors& f);
void jitter_rgb(float* p0, float* p1, float* p2, int64_t pixels, const Factors& f);

}  // namespace selfsup::augment
