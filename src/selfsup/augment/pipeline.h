// One view's augmentation recipe (crop, flip, colour jitter, grayscale, blur, solarize, normalise)
// and its application to a uint8 batch, in the order of the MoCo v2 / BYOL torchvision pipelines.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

#include "selfsup/core/config.h"
#include "selfsup/data/crop.h"
#include "selfsup/data/loader.h"

namespace selfsup::augment {

struct CropConfig {
  int64_t size = 0;  // 0 = input size
  std::vector<double> scale{0.2, 1.0};
  std::vector<double> ratio{0.75, 1.3333333333};
  void visit(config::Visitor& v);
};

struct JitterConfig {
  double brightness = 0.4, contrast = 0.4, saturation = 0.4, hue = 0.1, p = 0.8;
  void visit(config::Visitor& v);
};

struct BlurConfig {
  double p = 0.0;
  std::vector<double> sigma{0.1, 2.0};
  int64_t kernel_size = 0;  // 0 = auto
  void visit(config::Visitor& v);
};

struct SolarizeConfig {
  double p = 0.0, threshold = 0.5;
  void visit(config::Visitor& v);
};

struct ViewConfig {
  CropConfig crop;
  double flip = 0.5;
  JitterConfig jitter;
  double grayscale = 0.2;
  BlurConfig blur;
  SolarizeConfig solarize;
  std::vector<double> mean{0.5}, std{0.5};
  int64_t repeat = 1;  // views drawn from this pipeline (multi-crop: e.g. 6 local crops)
  void visit(config::Visitor& v);
};

// Throws selfsup::Error naming the offending key under `path`, e.g.
// "augment.views.0.crop.scale: expected two numbers 0 < min <= max <= 1".
void validate(const ViewConfig& view, const std::string& path);

// uint8 N x C x H x W batch (C = 1 or 3, any device) -> normalised float view on `device`:
// crop + flip, jitter, grayscale, blur, solarize, normalise. Random parameters come from `gen`
// (a CPU generator), so the same generator state gives the same view on any device.
torch::Tensor apply_view(const torch::Tensor& images_u8, const ViewConfig& view,
                         at::Generator& gen, torch::Device device);

// Every view of a recipe's list, each pipeline `repeat` times, in order (multi-crop: the global
// crops first, then the local ones).
std::vector<torch::Tensor> apply_views(const torch::Tensor& images_u8, const std::vector<ViewConfig>& views,
                                       at::Generator& gen, torch::Device device);

// Streamed data: the views of crops the loader already cut and flipped while decoding (one uint8
// B x C x S x S tensor per view, in apply_views' order): the rest of each view's pipeline.
std::vector<torch::Tensor> apply_views_to_crops(const std::vector<torch::Tensor>& crops_u8,
                                                const std::vector<ViewConfig>& views, at::Generator& gen,
                                                torch::Device device);

// The crop of each view (repeats included) for the streaming loader.
std::vector<data::CropSpec> crop_specs(const std::vector<ViewConfig>& views);

// The training loader's transform: each batch's views on `device` (apply_views, or
// apply_views_to_crops when the loader streamed the crops).
data::BatchTransform views_transform(std::vector<ViewConfig> views, torch::Device device);

// Number of views apply_views produces.
int64_t count_views(const std::vector<ViewConfig>& views);

// Evaluation: no randomness. To float in [0, 1], bilinear resize to crop.size x crop.size when
// crop.size > 0 and differs from the input, then normalise with view.mean / view.std.
torch::Tensor prepare_eval(const torch::Tensor& images_u8, const ViewConfig& view,
                           torch::Device device);

}  // namespace selfsup::augment
