// color_jitter's CPU kernel: brightness, contrast, saturation and hue of each selected image in
// one pass over its pixels (plus one for the contrast mean), instead of some thirty whole-batch
// tensor passes. Same formulas and order as the tensor ops in ops.h (adjust_*), which stay the
// path on other devices; the two agree to float rounding (tests/test_augment.cpp).
#pragma once

#include <torch/torch.h>

namespace selfsup::augment {

// x: N x C x H x W float32 on the CPU, C = 1 or 3. selected: N bools; brightness, contrast,
// saturation: N factors, hue: N shifts (each undefined = that step skipped). Returns a new tensor:
// the selected images jittered, the others copied.
torch::Tensor color_jitter_cpu(const torch::Tensor& x, const torch::Tensor& selected, const torch::Tensor& brightness,
                               const torch::Tensor& contrast, const torch::Tensor& saturation, const torch::Tensor& hue);

}  // namespace selfsup::augment
