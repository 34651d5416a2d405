// A tiny three-layer ConvNet backbone: fast enough for unit tests and CPU smoke runs of SSL methods.
#pragma once

#include "selfsup/models/backbone.h"
#include "selfsup/models/batch_norm.h"

#include <torch/torch.h>

#include <cstdint>

namespace selfsup::models {

struct ConvNetOptions {
  TORCH_ARG(double, width) = 1.0;  // channels 16,32,64 scaled (rounded, at least 1)
  TORCH_ARG(int64_t, in_channels) = 3;
};

// conv1/bn1 (3x3, stride 1), conv2/bn2 and conv3/bn3 (3x3, stride 2), each followed by ReLU, then
// global average pooling: N x C x H x W -> N x output_dim() (= 64 at width 1). Convs have no bias.
class ConvNet : public Backbone {
 public:
  explicit ConvNet(const ConvNetOptions& options);
  torch::Tensor forward(torch::Tensor x) override;
  int64_t output_dim() const override { return output_dim_; }

  const ConvNetOptions options;

 private:
  int64_t output_dim_ = 0;
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr}, conv3{nullptr};
  BatchNorm2d bn1{nullptr}, bn2{nullptr}, bn3{nullptr};
};

}  // namespace selfsup::models
