#include "selfsup/augment/jitter_cpu.h"
#include "selfsup/augment/jitter_kernel.h"

#include <ATen/Parallel.h>

namespace selfsup::augment {

torch::Tensor color_jitter_cpu(const torch::Tensor& x, const torch::Tensor& selected, const torch::Tensor& brightness,
                               const torch::Tensor& contrast, const torch::Tensor& saturation, const torch::Tensor& hue) {
  auto out = x.contiguous().clone();
  const int64_t n = out.size(0), c = out.size(1), pixels = out.size(2) * out.size(3);
  const auto sel = selected.to(torch::kBool).contiguous();
  const auto as_float = [](const torch::Tensor& t) { return t.defined() ? t.to(torch::kFloat).contiguous() : t; };
  const auto fb = as_float(brightness), fc = as_float(contrast), fs = as_float(saturation), fh = as_float(hue);
  const auto value = [](const torch::Tensor& t, int64_t i, float none) { return t.defined() ? t.data_ptr<float>()[i] : none; };
  std::vector<Factors> factors(n);
  for (int64_t i = 0; i < n; ++i)
    factors[i] = {value(fb, i, 1), value(fc, i, 1), value(fs, i, 1), value(fh, i, 0), fc.defined(), fh.defined()};
  const bool* chosen = sel.data_ptr<bool>();
  float* data = out.data_ptr<float>();
  at::parallel_for(0, n, 1, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      if (!chosen[i]) continue;
      float* p = data + i * c * pixels;
      if (c == 3) {
        jitter_rgb(p, p + pixels, p + 2 * pixels, pixels, factors[i]);
      } else {
        jitter_gray(p, pixels, factors[i]);  // saturation and hue leave gray images as they are
      }
    }
  });
  return out;
}

}  // namespace selfsup::augment
