#include "selfsup/data/resize.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace selfsup::data {
namespace {

// For each output position along one axis: the first input index and the normalised weights.
struct Taps {
  std::vector<int64_t> first, count;
  std::vector<float> weights;  // out x width, row i holds count[i] weights
  int64_t width = 0;
};

Taps make_taps(double start, double length, int64_t in_size, int64_t out_size) {
  const double scale = length / static_cast<double>(out_size);
  const double filter_scale = std::max(scale, 1.0);
  const double support = filter_scale;  // the triangle's half-width, widened when shrinking
  Taps t;
  t.width = static_cast<int64_t>(std::ceil(support)) * 2 + 1;
  t.first.resize(out_size);
  t.count.resize(out_size);
  t.weights.assign(out_size * t.width, 0.0f);
  for (int64_t o = 0; o < out_size; ++o) {
    const double center = start + (static_cast<double>(o) + 0.5) * scale;
    const auto lo = std::clamp<int64_t>(static_cast<int64_t>(std::floor(center - support + 0.5)), 0, in_size - 1);
    const auto hi = std::clamp<int64_t>(static_cast<int64_t>(std::floor(center + support + 0.5)), lo + 1, in_size);
    const int64_t n = std::min(hi - lo, t.width);
    double total = 0;
    float* w = &t.weights[o * t.width];
    for (int64_t k = 0; k < n; ++k) {
      const double d = (static_cast<double>(lo + k) + 0.5 - center) / filter_scale;
      w[k] = static_cast<float>(std::max(0.0, 1.0 - std::abs(d)));
      total += w[k];
    }
    if (total <= 0) {  // the centre lies outside the image (a box past the edge): nearest pixel
      w[0] = 1;
      total = 1;
    }
    for (int64_t k = 0; k < n; ++k) w[k] = static_cast<float>(w[k] / total);
    t.first[o] = lo;
    t.count[o] = n;
  }
  return t;
}

}  // namespace

void resize_region(const PixelView& src, const CropBox& box, int64_t out_size, bool flip, uint8_t* out) {
  const auto xs = make_taps(box.x, box.w, src.width, out_size);
  const auto ys = make_taps(box.y, box.h, src.height, out_size);
  const int64_t c = src.channels, row_len = out_size * c;
  // Horizontal pass over the rows the vertical pass reads, channels interleaved.
  const int64_t row0 = ys.first.front(), row1 = ys.first.back() + ys.count.back();
  std::vector<float> rows((row1 - row0) * row_len);
  for (int64_t r = row0; r < row1; ++r) {
    const uint8_t* in = src.data + r * src.row_stride;
    float* dst = &rows[(r - row0) * row_len];
    for (int64_t o = 0; o < out_size; ++o) {
      const float* w = &xs.weights[o * xs.width];
      const uint8_t* p = in + xs.first[o] * c;
      const int64_t taps = xs.count[o];
      if (c == 3) {
        float a0 = 0, a1 = 0, a2 = 0;
        for (int64_t k = 0; k < taps; ++k) {
          a0 += w[k] * p[3 * k];
          a1 += w[k] * p[3 * k + 1];
          a2 += w[k] * p[3 * k + 2];
        }
        dst[3 * o] = a0;
        dst[3 * o + 1] = a1;
        dst[3 * o + 2] = a2;
      } else {
        for (int64_t ch = 0; ch < c; ++ch) {
          float acc = 0;
          for (int64_t k = 0; k < taps; ++k) acc += w[k] * p[k * c + ch];
          dst[o * c + ch] = acc;
        }
      }
    }
  }
  // Vertical pass: whole rows at a time (contiguous, so the compiler vectorises it), then planes.
  std::vector<float> acc(row_len);
  const int64_t plane = out_size * out_size;
  for (int64_t oy = 0; oy < out_size; ++oy) {
    std::fill(acc.begin(), acc.end(), 0.0f);
    const float* w = &ys.weights[oy * ys.width];
    for (int64_t k = 0; k < ys.count[oy]; ++k) {
      const float* row = &rows[(ys.first[oy] + k - row0) * row_len];
      const float wk = w[k];
      for (int64_t j = 0; j < row_len; ++j) acc[j] += wk * row[j];
    }
    for (int64_t ox = 0; ox < out_size; ++ox) {
      const int64_t x_out = flip ? out_size - 1 - ox : ox;
      for (int64_t ch = 0; ch < c; ++ch) {
        const float v = std::min(std::max(acc[ox * c + ch], 0.0f), 255.0f);
        out[ch * plane + oy * out_size + x_out] = static_cast<uint8_t>(v + 0.5f);  // round half up (v >= 0)
      }
    }
  }
}

}  // namespace selfsup::data
