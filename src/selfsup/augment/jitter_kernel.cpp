// Compiled with -fno-trapping-math (CMakeLists.txt), without LibTorch's headers: the selects below
// then become vector blends and every loop is vectorised.
#include "selfsup/augment/jitter_kernel.h"

namespace selfsup::augment {
namespace {


// The inner loops are written without branches (selects only) so the compiler vectorises them.

inline float max_of(float a, float b) { return a > b ? a : b; }  // by value: selects, not branches
inline float min_of(float a, float b) { return a < b ? a : b; }
inline float clamp01(float v) { return min_of(max_of(v, 0.0f), 1.0f); }
inline float gray(float r, float g, float b) { return 0.299f * r + 0.587f * g + 0.114f * b; }

// v mod 1 and v mod 6 for the ranges the hue arithmetic produces (v in [-1, 2) and [0, 12)),
// exactly as torch::fmod / torch::remainder give them.
inline float wrap1(float v) { return v - (v >= 1.0f ? 1.0f : 0.0f) + (v < 0.0f ? 1.0f : 0.0f); }
inline float wrap6(float v) { return v - (v >= 6.0f ? 6.0f : 0.0f); }

// adjust_hue for one pixel: rgb_to_hsv, shift, hsv_to_rgb, clamp (ops.cpp's formulas).
inline void shift_hue(float& r, float& g, float& b, float shift) {
  const float maxc = max_of(max_of(r, g), b), minc = min_of(min_of(r, g), b);
  const float flat = maxc == minc ? 1.0f : 0.0f;
  const float range = maxc - minc;
  const float s = range / (flat + (1.0f - flat) * maxc);
  const float inverse = 1.0f / (flat + (1.0f - flat) * range);  // one division instead of three
  const float rc = (maxc - r) * inverse, gc = (maxc - g) * inverse, bc = (maxc - b) * inverse;
  const float is_r = maxc == r ? 1.0f : 0.0f;
  const float is_g = (maxc == g ? 1.0f : 0.0f) * (1.0f - is_r);
  const float is_b = (1.0f - (maxc == g ? 1.0f : 0.0f)) * (1.0f - is_r);
  float h = is_r * (bc - gc) + is_g * (2.0f + rc - bc) + is_b * (4.0f + gc - rc);
  h = wrap1(h / 6.0f + 1.0f);  // h / 6 in [-1/6, 1)
  h = wrap1(h + shift);        // shift in [-0.5, 0.5]
  const float h6 = h * 6.0f, vs = maxc * s;
  const auto channel = [&](float n) {
    const float k = wrap6(h6 + n);
    return clamp01(maxc - vs * clamp01(min_of(k, 4.0f - k)));
  };
  r = channel(5.0f);
  g = channel(3.0f);
  b = channel(1.0f);
}

// Factors of 1 (a skipped contrast or saturation step) leave the values exactly as they are.
template <bool kHue>
void contrast_saturation_hue(float* __restrict p0, float* __restrict p1, float* __restrict p2, int64_t pixels,
                             float fcon, float rest, float fsat, float shift) {
  for (int64_t k = 0; k < pixels; ++k) {
    float r = clamp01(fcon * p0[k] + rest), g = clamp01(fcon * p1[k] + rest), b = clamp01(fcon * p2[k] + rest);
    const float m = (1.0f - fsat) * gray(r, g, b);
    r = clamp01(fsat * r + m);
    g = clamp01(fsat * g + m);
    b = clamp01(fsat * b + m);
    if (kHue) shift_hue(r, g, b, shift);
    p0[k] = r;
    p1[k] = g;
    p2[k] = b;
  }
}

}  // namespace

void jitter_gray(float* p, int64_t pixels, const Factors& f) {
  for (int64_t k = 0; k < pixels; ++k) p[k] = clamp01(p[k] * f.brightness);
  if (!f.has_contrast) return;
  double sum = 0;
  for (int64_t k = 0; k < pixels; ++k) sum += p[k];
  const float rest = (1.0f - f.contrast) * static_cast<float>(sum / static_cast<double>(pixels));
  for (int64_t k = 0; k < pixels; ++k) p[k] = clamp01(f.contrast * p[k] + rest);
}

void jitter_rgb(float* __restrict p0, float* __restrict p1, float* __restrict p2, int64_t pixels, const Factors& f) {
  for (int64_t k = 0; k < pixels; ++k) {
    p0[k] = clamp01(p0[k] * f.brightness);
    p1[k] = clamp01(p1[k] * f.brightness);
    p2[k] = clamp01(p2[k] * f.brightness);
  }
  float rest = 0;
  if (f.has_contrast) {
    double sum = 0;
    for (int64_t k = 0; k < pixels; ++k) sum += gray(p0[k], p1[k], p2[k]);
    rest = (1.0f - f.contrast) * static_cast<float>(sum / static_cast<double>(pixels));
  }
  if (f.has_hue) {
    contrast_saturation_hue<true>(p0, p1, p2, pixels, f.contrast, rest, f.saturation, f.hue);
  } else {
    contrast_saturation_hue<false>(p0, p1, p2, pixels, f.contrast, rest, f.saturation, 0);
  }
}


}  // namespace selfsup::augment
