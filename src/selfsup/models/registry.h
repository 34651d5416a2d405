// The recipe's model.backbone section and the factory that turns it into a Backbone (ResNet, ViT
// or the tiny test ConvNet).
#pragma once

#include "selfsup/core/config.h"
#include "selfsup/models/backbone.h"

#include <cstdint>
#include <memory>
#include <string>

namespace selfsup::models {

struct VitConfig {
  int64_t image_size = 224;  // position-embedding grid = image_size / patch_size
  int64_t patch_size = 16;
  int64_t dim = 192;
  int64_t depth = 12;
  int64_t heads = 3;
  double mlp_ratio = 4.0;
  std::string pos_embed = "learned";  // learned | sincos
  bool freeze_patch_embed = false;
  void visit(config::Visitor& v);
};

struct BackboneConfig {
  std::string name = "resnet18";  // resnet10 | resnet18 | resnet34 | resnet50 | vit | convnet
  std::string stem = "small";     // ResNet: imagenet | small
  double width = 1.0;             // ResNet / ConvNet channel multiplier
  int64_t in_channels = 0;
  bool zero_init_residual = false;
  std::string norm = "batch";  // ResNet / ConvNet: batch | layer
  bool sync_bn = false;  // applied to the whole trained model by the trainer
  VitConfig vit;
  void visit(config::Visitor& v);
};

// Unknown name/stem, width <= 0 or an inconsistent ViT throws selfsup::Error naming the
// model.backbone.* key. config.in_channels > 0 overrides `in_channels` (the dataset's channel count).
std::shared_ptr<Backbone> make_backbone(const BackboneConfig& config, int64_t in_channels);

}  // namespace selfsup::models
