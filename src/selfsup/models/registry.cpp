#include "selfsup/models/registry.h"

#include "selfsup/core/error.h"
#include "selfsup/models/convnet.h"
#include "selfsup/models/resnet.h"
#include "selfsup/models/vit.h"

namespace selfsup::models {

void VitConfig::visit(config::Visitor& v) {
  v("image_size", image_size,
    "input size the position embeddings are laid out for (other sizes are resampled bicubically)", config::at_least_one);
  v("patch_size", patch_size, "patch side in pixels (4 suits 28x28 images, 16 ImageNet)", config::at_least_one);
  v("dim", dim, "token width (ViT-Tiny 192, Small 384, Base 768)", config::at_least_one);
  v("depth", depth, "number of Transformer blocks", config::at_least_one);
  v("heads", heads, "attention heads per block (dim must be a multiple)", config::at_least_one);
  v("mlp_ratio", mlp_ratio, "hidden width of each block's MLP, as a multiple of dim", config::positive);
  v("pos_embed", pos_embed, "learned | sincos (fixed 2-D sine-cosine, MoCo v3)");
  v("freeze_patch_embed", freeze_patch_embed,
    "keep the random patch projection fixed (MoCo v3's fix for training instability)");
}

void BackboneConfig::visit(config::Visitor& v) {
  v("name", name, "backbone: resnet10 (one basic block per stage) | resnet18 | resnet34 | resnet50 | vit | convnet (tiny, for tests)");
  v("stem", stem,
    "ResNet: imagenet = 7x7 stride-2 conv + max-pool (large images); small = 3x3 stride-1 conv, "
    "no max-pool (CIFAR/MNIST-sized images)");
  v("width", width,
    "ResNet/ConvNet: multiplier on the channel widths (64,128,256,512 at 1.0; convnet 16,32,64); "
    "rounded, at least 1", config::positive);
  v("in_channels", in_channels, "input channels; 0 = take it from the dataset", config::non_negative);
  v("zero_init_residual", zero_init_residual,
    "ResNet: start the last BN of each residual block at weight 0 (each block = identity)");
  v("norm", norm,
    "ResNet/ConvNet normalisation layers: batch (BatchNorm) | layer (per sample over channels and "
    "positions, GroupNorm with one group: CPC v2's LayerNorm, no statistics shared across the batch)");
  v("sync_bn", sync_bn,
    "several processes (docs/distributed.md): every BatchNorm of the trained model (backbone and heads) "
    "normalises with the statistics of the global batch (SyncBatchNorm); one process: no effect");
  v.section("vit", vit, "Vision Transformer sizes (name: vit)");
}

std::shared_ptr<Backbone> make_backbone(const BackboneConfig& config, int64_t in_channels) {
  const int64_t channels = config.in_channels > 0 ? config.in_channels : in_channels;
  if (channels < 1)
    throw Error("model.backbone.in_channels: must be >= 1 (or 0 with a dataset that knows its "
                "channel count), got " + std::to_string(channels));
  if (config.stem != "imagenet" && config.stem != "small")  // checked for every name: no silent typo
    throw Error("model.backbone.stem: unknown stem '" + config.stem + "' (expected imagenet or small)");
  if (!(config.width > 0))
    throw Error("model.backbone.width: must be > 0, got " + std::to_string(config.width));
  if (config.norm != "batch" && config.norm != "layer")
    throw Error("model.norm: unknown normalisation '" + config.norm + "' (expected batch or layer)");
  if (config.name == "vit") {
    if (config.norm != "batch")
      throw Error("model.norm: the ViT has its own LayerNorms; norm: layer applies to resnet and convnet only");
    const auto& c = config.vit;
    return std::make_shared<Vit>(VitOptions()
                                     .image_size(c.image_size)
                                     .patch_size(c.patch_size)
                                     .in_channels(channels)
                                     .dim(c.dim)
                                     .depth(c.depth)
                                     .heads(c.heads)
                                     .mlp_ratio(c.mlp_ratio)
                                     .pos_embed(c.pos_embed)
                                     .freeze_patch_embed(c.freeze_patch_embed));
  }
  std::shared_ptr<Backbone> net;
  if (config.name == "convnet") {
    net = std::make_shared<ConvNet>(ConvNetOptions().width(config.width).in_channels(channels));
  } else {
    int64_t depth = 0;
    if (config.name == "resnet10") depth = 10;
    else if (config.name == "resnet18") depth = 18;
    else if (config.name == "resnet34") depth = 34;
    else if (config.name == "resnet50") depth = 50;
    else
      throw Error("model.backbone.name: unknown backbone '" + config.name +
                  "' (expected resnet10, resnet18, resnet34, resnet50, vit or convnet)");
    net = std::make_shared<ResNet>(ResNetOptions()
                                       .depth(depth)
                                       .stem(config.stem)
                                       .width(config.width)
                                       .in_channels(channels)
                                       .zero_init_residual(config.zero_init_residual));
  }
  if (config.norm == "layer") set_layer_norm(*net);
  return net;
}

}  // namespace selfsup::models
