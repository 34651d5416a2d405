// Tiny ConvNet backbone (see convnet.h); initialised like the ResNets so methods behave alike.
#include "selfsup/models/convnet.h"

#include "selfsup/core/error.h"

#include <string>

namespace selfsup::models {

namespace {

namespace nn = torch::nn;

nn::Conv2d conv3x3(int64_t in, int64_t out, int64_t stride) {
  return nn::Conv2d(nn::Conv2dOptions(in, out, 3).stride(stride).padding(1).bias(false));
}

}  // namespace

ConvNet::ConvNet(const ConvNetOptions& options_) : options(options_) {
  if (!(options.width() > 0))
    throw Error("model.backbone.width: must be > 0, got " + std::to_string(options.width()));
  const int64_t c1 = scale_channels(16, options.width());
  const int64_t c2 = scale_channels(32, options.width());
  const int64_t c3 = scale_channels(64, options.width());
  conv1 = register_module("conv1", conv3x3(options.in_channels(), c1, 1));
  bn1 = register_module("bn1", BatchNorm2d(c1));
  conv2 = register_module("conv2", conv3x3(c1, c2, 2));
  bn2 = register_module("bn2", BatchNorm2d(c2));
  conv3 = register_module("conv3", conv3x3(c2, c3, 2));
  bn3 = register_module("bn3", BatchNorm2d(c3));
  output_dim_ = c3;
  for (auto* c : {&conv1, &conv2, &conv3})
    nn::init::kaiming_normal_((*c)->weight, 0.0, torch::kFanOut, torch::kReLU);
}

torch::Tensor ConvNet::forward(torch::Tensor x) {
  x = torch::relu(bn1(conv1(x)));
  x = torch::relu(bn2(conv2(x)));
  x = torch::relu(bn3(conv3(x)));
  return x.mean({2, 3});
}

}  // namespace selfsup::models
