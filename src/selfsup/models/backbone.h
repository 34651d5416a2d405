// The encoder interface SSL methods build on: images in, one pooled feature vector per image out.
#pragma once

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace selfsup::models {

// Held as std::shared_ptr<Backbone> (methods copy it into momentum/target encoders by building a
// second one from the same config and loading the state dict).
struct Backbone : torch::nn::Module {
  // N x C x H x W -> N x output_dim().
  virtual torch::Tensor forward(torch::Tensor x) = 0;
  virtual int64_t output_dim() const = 0;
};

// A base channel count scaled by a width multiplier: rounded, at least 1.
inline int64_t scale_channels(int64_t base, double width) {
  return std::max<int64_t>(1, std::llround(static_cast<double>(base) * width));
}

}  // namespace selfsup::models
