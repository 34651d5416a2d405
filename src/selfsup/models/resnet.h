// ResNet-18/34/50 with torchvision's exact parameter names (state dicts exchange with Python), an
// optional small-image stem and a width multiplier.
#pragma once

#include "selfsup/models/backbone.h"
#include "selfsup/models/batch_norm.h"

#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <string>

namespace selfsup::models {

struct ResNetOptions {
  TORCH_ARG(int64_t, depth) = 18;          // 18 | 34 | 50
  TORCH_ARG(std::string, stem) = "small";  // imagenet | small
  TORCH_ARG(double, width) = 1.0;
  TORCH_ARG(int64_t, in_channels) = 3;
  // 0: no fc, forward returns the pooled feature; > 0: an "fc" Linear as in torchvision.
  TORCH_ARG(int64_t, num_classes) = 0;
  TORCH_ARG(bool, zero_init_residual) = false;
};

// Children: conv1, bn1, layer1..layer4 (Sequentials of blocks "0", "1", ...; each block has
// conv1/bn1/conv2/bn2[/conv3/bn3] and, where the shape changes, downsample.0 (1x1 conv) and
// downsample.1 (BN)), fc (only with num_classes > 0). Pooling/ReLU hold no state.
// stem "imagenet": 7x7/2 conv + 3x3/2 max-pool; "small": 3x3/1 conv, no pool (32x32 images keep
// 4x4 spatial maps in layer4 instead of 1x1). Channel widths 64,128,256,512 (x4 for the bottleneck
// output of resnet50) are scaled by `width`, rounded, at least 1.
class ResNet : public Backbone {
 public:
  explicit ResNet(const ResNetOptions& options);

  torch::Tensor forward(torch::Tensor x) override;
  // Pooled features before fc: N x feature_dim().
  torch::Tensor features(torch::Tensor x);
  // num_classes if there is an fc, else feature_dim().
  int64_t output_dim() const override;
  int64_t feature_dim() const { return feature_dim_; }

  const ResNetOptions options;

 private:
  torch::nn::Sequential make_layer(int64_t planes, int64_t blocks, int64_t stride);
  void init_weights();

  int64_t inplanes_ = 0, feature_dim_ = 0;
  torch::nn::Conv2d conv1{nullptr};
  BatchNorm2d bn1{nullptr};
  torch::nn::Sequential layer1{nullptr}, layer2{nullptr}, layer3{nullptr}, layer4{nullptr};
  torch::nn::Linear fc{nullptr};
};

}  // namespace selfsup::models
