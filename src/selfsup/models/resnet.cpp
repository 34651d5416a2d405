// ResNet as torchvision builds it (v1.5: stride on the bottleneck's 3x3), modules registered under
// torchvision's names so that state dicts map 1:1.
#include "selfsup/models/resnet.h"

#include "selfsup/core/error.h"

#include <string>

namespace selfsup::models {

namespace {

namespace nn = torch::nn;

// kernel 3 -> padding 1, kernel 7 -> padding 3, kernel 1 -> none, as torchvision; no bias (BN follows).
nn::Conv2d conv(int64_t in, int64_t out, int64_t kernel, int64_t stride) {
  return nn::Conv2d(nn::Conv2dOptions(in, out, kernel).stride(stride).padding(kernel / 2).bias(false));
}

// The shortcut projection, when the block changes resolution or width: downsample.0 / .1.
nn::Sequential make_downsample(int64_t in, int64_t out, int64_t stride) {
  if (stride == 1 && in == out) return nullptr;
  return nn::Sequential(conv(in, out, 1, stride), BatchNorm2d(out));
}

// Zero-init of the block's last BN makes each residual branch start as the identity
// (Goyal et al. 2017), which helps large-batch training.
void zero_init(BatchNorm2d& bn) {
  torch::NoGradGuard no_grad;
  bn->weight.zero_();
}

struct BasicBlockImpl : nn::Module {
  static constexpr int64_t expansion = 1;
  BasicBlockImpl(int64_t inplanes, int64_t planes, int64_t stride, bool zero_init_residual)
      : conv1(register_module("conv1", conv(inplanes, planes, 3, stride))),
        bn1(register_module("bn1", BatchNorm2d(planes))),
        conv2(register_module("conv2", conv(planes, planes, 3, 1))),
        bn2(register_module("bn2", BatchNorm2d(planes))),
        downsample(make_downsample(inplanes, planes, stride)) {
    if (downsample) register_module("downsample", downsample);
    if (zero_init_residual) zero_init(bn2);
  }
  // ReLU and the residual sum work in place, as torchvision's blocks do (BatchNorm's backward does
  // not need its output): two fewer activation-sized tensors to allocate and fill per block.
  torch::Tensor forward(torch::Tensor x) {
    auto out = bn1(conv1(x)).relu_();
    out = bn2(conv2(out));
    out += downsample ? downsample->forward(x) : x;
    return out.relu_();
  }
  nn::Conv2d conv1;
  BatchNorm2d bn1;
  nn::Conv2d conv2;
  BatchNorm2d bn2;
  nn::Sequential downsample;
};
TORCH_MODULE(BasicBlock);

struct BottleneckImpl : nn::Module {
  static constexpr int64_t expansion = 4;
  BottleneckImpl(int64_t inplanes, int64_t planes, int64_t stride, bool zero_init_residual)
      : conv1(register_module("conv1", conv(inplanes, planes, 1, 1))),
        bn1(register_module("bn1", BatchNorm2d(planes))),
        conv2(register_module("conv2", conv(planes, planes, 3, stride))),
        bn2(register_module("bn2", BatchNorm2d(planes))),
        conv3(register_module("conv3", conv(planes, planes * expansion, 1, 1))),
        bn3(register_module("bn3", BatchNorm2d(planes * expansion))),
        downsample(make_downsample(inplanes, planes * expansion, stride)) {
    if (downsample) register_module("downsample", downsample);
    if (zero_init_residual) zero_init(bn3);
  }
  torch::Tensor forward(torch::Tensor x) {
    auto out = bn1(conv1(x)).relu_();
    out = bn2(conv2(out)).relu_();
    out = bn3(conv3(out));
    out += downsample ? downsample->forward(x) : x;
    return out.relu_();
  }
  nn::Conv2d conv1;
  BatchNorm2d bn1;
  nn::Conv2d conv2;
  BatchNorm2d bn2;
  nn::Conv2d conv3;
  BatchNorm2d bn3;
  nn::Sequential downsample;
};
TORCH_MODULE(Bottleneck);

std::vector<int64_t> blocks_per_layer(int64_t depth) {
  switch (depth) {
    case 10: return {1, 1, 1, 1};  // not torchvision's: the smallest of the family, for small data
    case 18: return {2, 2, 2, 2};
    case 34:
    case 50: return {3, 4, 6, 3};
    default: throw Error("ResNet: depth must be 10, 18, 34 or 50, got " + std::to_string(depth));
  }
}

bool is_imagenet_stem(const std::string& stem) {
  if (stem == "imagenet") return true;
  if (stem == "small") return false;
  throw Error("model.backbone.stem: unknown stem '" + stem + "' (expected imagenet or small)");
}

}  // namespace

ResNet::ResNet(const ResNetOptions& options_) : options(options_) {
  const auto blocks = blocks_per_layer(options.depth());
  const bool imagenet = is_imagenet_stem(options.stem());
  if (!(options.width() > 0))
    throw Error("model.backbone.width: must be > 0, got " + std::to_string(options.width()));
  inplanes_ = scale_channels(64, options.width());
  conv1 = register_module("conv1", conv(options.in_channels(), inplanes_, imagenet ? 7 : 3,
                                        imagenet ? 2 : 1));
  bn1 = register_module("bn1", BatchNorm2d(inplanes_));
  layer1 = register_module("layer1", make_layer(64, blocks[0], 1));
  layer2 = register_module("layer2", make_layer(128, blocks[1], 2));
  layer3 = register_module("layer3", make_layer(256, blocks[2], 2));
  layer4 = register_module("layer4", make_layer(512, blocks[3], 2));
  feature_dim_ = inplanes_;
  if (options.num_classes() > 0)
    fc = register_module("fc", nn::Linear(feature_dim_, options.num_classes()));
  init_weights();
}

nn::Sequential ResNet::make_layer(int64_t base_planes, int64_t blocks, int64_t stride) {
  const int64_t planes = scale_channels(base_planes, options.width());
  const bool bottleneck = options.depth() >= 50;
  const int64_t expansion = bottleneck ? BottleneckImpl::expansion : BasicBlockImpl::expansion;
  nn::Sequential layer;
  for (int64_t i = 0; i < blocks; ++i) {
    const int64_t s = i == 0 ? stride : 1;
    if (bottleneck)
      layer->push_back(Bottleneck(inplanes_, planes, s, options.zero_init_residual()));
    else
      layer->push_back(BasicBlock(inplanes_, planes, s, options.zero_init_residual()));
    inplanes_ = planes * expansion;
  }
  return layer;
}

// BN weights/biases are already 1/0 (and possibly zero-initialised by the blocks); only the convs
// change from LibTorch's default (kaiming-uniform fan_in) to torchvision's kaiming-normal fan_out.
void ResNet::init_weights() {
  apply([](nn::Module& m) {
    if (auto* c = dynamic_cast<nn::Conv2dImpl*>(&m))
      nn::init::kaiming_normal_(c->weight, 0.0, torch::kFanOut, torch::kReLU);
  });
}

torch::Tensor ResNet::features(torch::Tensor x) {
  x = bn1(conv1(x)).relu_();
  if (options.stem() == "imagenet") x = torch::max_pool2d(x, 3, 2, 1);
  x = layer4->forward(layer3->forward(layer2->forward(layer1->forward(x))));
  return x.mean({2, 3});  // = adaptive_avg_pool2d(1) + flatten
}

torch::Tensor ResNet::forward(torch::Tensor x) {
  auto f = features(std::move(x));
  return fc ? fc(f) : f;
}

int64_t ResNet::output_dim() const {
  return options.num_classes() > 0 ? options.num_classes() : feature_dim_;
}

}  // namespace selfsup::models
