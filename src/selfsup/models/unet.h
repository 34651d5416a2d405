// The denoiser of the diffusion models: a small U-Net in the style of DDPM / guided-diffusion.
// Residual blocks with GroupNorm (never BatchNorm: a guided batch holds a conditional and an
// unconditional half, and batch statistics would couple them), a sinusoidal time embedding, a
// class embedding with a learned null class (classifier-free guidance), self-attention at the
// feature-map sides the recipe names. The same down path, with a pooled linear head, is the
// noise-aware classifier of classifier guidance.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

#include "selfsup/core/config.h"

namespace selfsup::models {

struct UNetConfig {
  int64_t channels = 32;                        // width of the first level
  std::vector<double> channel_mult{1, 2, 2};    // width of each level = channels x mult; one level per entry
  int64_t res_blocks = 2;                       // residual blocks per level on the way down
  std::vector<double> attention_sides{7};       // self-attention on feature maps of these sides
  int64_t heads = 4;
  int64_t groups = 8;  // GroupNorm groups (every width must be divisible by it)
  double dropout = 0.1;
  void visit(config::Visitor& v);
};

// Throws selfsup::Error naming the `prefix`.key that is wrong; `image_side` must halve
// cleanly once per level after the first.
void validate(const UNetConfig& c, int64_t image_side, const std::string& prefix);

// DDPM's sinusoidal embedding of (float) timesteps: B -> B x dim, [cos | sin] halves,
// frequencies 10000^(-i / (dim / 2)).
torch::Tensor timestep_embedding(const torch::Tensor& t, int64_t dim);

// GroupNorm -> SiLU -> 3x3 conv, then the embedding as a per-channel scale and shift of the
// second GroupNorm (improved DDPM's "scale-shift norm"), SiLU, dropout, 3x3 conv (zero-init, so
// a fresh block is the identity), plus a 1x1 skip when the width changes.
struct ResBlockImpl : torch::nn::Module {
  ResBlockImpl(int64_t in, int64_t out, int64_t emb_dim, int64_t groups, double dropout);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& emb);
  torch::nn::GroupNorm norm1{nullptr}, norm2{nullptr};
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr}, skip{nullptr};
  torch::nn::Linear emb_proj{nullptr};
  torch::nn::Dropout dropout{nullptr};
};
TORCH_MODULE(ResBlock);

// Multi-head self-attention over the H*W positions of a feature map, residual, output zero-init.
struct SpatialAttentionImpl : torch::nn::Module {
  SpatialAttentionImpl(int64_t channels, int64_t heads, int64_t groups);
  torch::Tensor forward(const torch::Tensor& x);
  torch::nn::GroupNorm norm{nullptr};
  torch::nn::Conv2d qkv{nullptr}, proj{nullptr};
  int64_t heads;
};
TORCH_MODULE(SpatialAttention);

// The time (+ class) embedding MLP and the down path shared by the U-Net and the noisy classifier.
struct UNetTrunkImpl : torch::nn::Module {
  UNetTrunkImpl(const UNetConfig& c, int64_t in_channels, int64_t image_side, int64_t num_classes);
  // x: B x C x H x W; t: B timesteps (any dtype); y: B class indices in [0, num_classes] (the last
  // is the null class), or undefined for a model without classes. Returns the bottleneck feature
  // map after the middle blocks; `skips` receives the activations the up path concatenates.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& t, const torch::Tensor& y,
                        std::vector<torch::Tensor>* skips, torch::Tensor* emb_out);
  int64_t emb_dim, num_classes, out_channels, out_side;
  std::vector<int64_t> skip_channels;  // width of each entry pushed to `skips`, in order
  std::vector<bool> push_after;        // per `down` entry: its output goes to `skips`
  torch::nn::Linear time1{nullptr}, time2{nullptr};
  torch::nn::Embedding class_embed{nullptr};
  torch::nn::Conv2d conv_in{nullptr};
  torch::nn::ModuleList down{nullptr};  // per block: ResBlock, SpatialAttention or Conv2d (stride-2 downsample)
  ResBlock mid1{nullptr}, mid2{nullptr};
  SpatialAttention mid_attn{nullptr};
  UNetConfig config;
};
TORCH_MODULE(UNetTrunk);

// ε / x₀ / v prediction network: B x C x H x W (+ t, y) -> B x C x H x W.
struct UNetImpl : torch::nn::Module {
  // num_classes > 0 adds a class embedding with num_classes + 1 rows (row num_classes = null).
  UNetImpl(const UNetConfig& c, int64_t channels, int64_t image_side, int64_t num_classes);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& t, const torch::Tensor& y);
  int64_t null_class() const { return trunk->num_classes; }
  UNetTrunk trunk{nullptr};
  torch::nn::ModuleList up{nullptr};  // per block: ResBlock, SpatialAttention or Conv2d (after 2x nearest upsampling)
  torch::nn::GroupNorm norm_out{nullptr};
  torch::nn::Conv2d conv_out{nullptr};
};
TORCH_MODULE(UNet);

// The noise-aware classifier p(y | x_t, t): the U-Net's down path (time embedding, no class
// input), GroupNorm, SiLU, global average pooling, linear -> B x num_classes logits.
struct NoisyClassifierNetImpl : torch::nn::Module {
  NoisyClassifierNetImpl(const UNetConfig& c, int64_t channels, int64_t image_side, int64_t num_classes);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& t);
  UNetTrunk trunk{nullptr};
  torch::nn::GroupNorm norm_out{nullptr};
  torch::nn::Linear head{nullptr};
};
TORCH_MODULE(NoisyClassifierNet);

}  // namespace selfsup::models
