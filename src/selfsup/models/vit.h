// Vision Transformer (Dosovitskiy et al. 2021) as a Backbone, with timm's parameter names so state
// dicts move to and from Python's timm.models.vision_transformer.VisionTransformer:
//   cls_token (1,1,D)  pos_embed (1,1+G*G,D)  patch_embed.proj.{weight,bias}
//   blocks.i.{norm1,attn.qkv,attn.proj,norm2,mlp.fc1,mlp.fc2}.{weight,bias}  norm.{weight,bias}
//   head.{weight,bias} (only with num_classes > 0)
// Pre-norm blocks (LayerNorm eps 1e-6, exact GELU), class-token output. The position embeddings
// cover a G x G patch grid (G = image_size / patch_size) and are resampled bicubically for other
// input sizes (multi-crop local views). MoCo v3's options: fixed 2-D sine-cosine position
// embeddings and a frozen, randomly initialised patch projection.
#pragma once

#include "selfsup/models/backbone.h"

#include <torch/torch.h>

#include <cstdint>
#include <string>

namespace selfsup::models {

struct VitOptions {
  TORCH_ARG(int64_t, image_size) = 224;  // sets the position-embedding grid
  TORCH_ARG(int64_t, patch_size) = 16;
  TORCH_ARG(int64_t, in_channels) = 3;
  TORCH_ARG(int64_t, dim) = 192;  // ViT-Tiny: 192/12/3, ViT-Small: 384/12/6, ViT-Base: 768/12/12
  TORCH_ARG(int64_t, depth) = 12;
  TORCH_ARG(int64_t, heads) = 3;
  TORCH_ARG(double, mlp_ratio) = 4.0;
  TORCH_ARG(std::string, pos_embed) = "learned";  // learned | sincos (fixed, MoCo v3)
  TORCH_ARG(bool, freeze_patch_embed) = false;    // MoCo v3's stability trick
  TORCH_ARG(int64_t, num_classes) = 0;            // > 0: a "head" Linear on the class token
};

class VitAttentionImpl : public torch::nn::Module {
 public:
  VitAttentionImpl(int64_t dim, int64_t heads);
  // B x T x D -> B x T x D; with `probs`, also stores the B x heads x T x T attention weights.
  torch::Tensor forward(const torch::Tensor& x, torch::Tensor* probs = nullptr);
  int64_t heads;
  torch::nn::Linear qkv{nullptr}, proj{nullptr};
};
TORCH_MODULE(VitAttention);

class VitBlockImpl : public torch::nn::Module {
 public:
  VitBlockImpl(int64_t dim, int64_t heads, double mlp_ratio);
  torch::Tensor forward(const torch::Tensor& x, torch::Tensor* probs = nullptr);
  torch::nn::LayerNorm norm1{nullptr}, norm2{nullptr};
  VitAttention attn{nullptr};
  torch::nn::Sequential mlp{nullptr};  // fc1, GELU, fc2 (names set to match timm's Mlp)
};
TORCH_MODULE(VitBlock);

class Vit : public Backbone {
 public:
  explicit Vit(const VitOptions& options);

  // N x C x H x W (H, W multiples of patch_size) -> N x output_dim(): the class token after the
  // final LayerNorm (or the head's logits with num_classes > 0).
  torch::Tensor forward(torch::Tensor x) override;
  int64_t output_dim() const override { return options.num_classes() > 0 ? options.num_classes() : options.dim(); }

  // Attention of the last block's class token to each patch: N x heads x gh x gw, each map sums
  // to 1 together with the class token's attention to itself (DINO's attention pictures).
  torch::Tensor last_attention(torch::Tensor x);

  // 1 x (1 + gh*gw) x D position embeddings for a gh x gw patch grid (the stored grid resampled
  // bicubically when it differs; the class token's entry is kept).
  torch::Tensor position_embeddings(int64_t gh, int64_t gw) const;

  const VitOptions options;
  torch::Tensor cls_token, pos_embed;
  torch::nn::Conv2d proj{nullptr};  // registered as patch_embed.proj
  torch::nn::ModuleList blocks{nullptr};
  torch::nn::LayerNorm norm{nullptr};
  torch::nn::Linear head{nullptr};

 private:
  torch::Tensor tokens(torch::Tensor x);  // patch embedding + class token + position embeddings
  int64_t grid_ = 0;
};

// 1 x G*G x D fixed 2-D sine-cosine embeddings as MoCo v3 computes them: for patch m (row-major),
// [sin(a·w) | cos(a·w) | sin(b·w) | cos(b·w)] with a = m / G (row), b = m % G (column) and the D/4
// frequencies w_i = 1/10000^(i/(D/4)). D must be a multiple of 4.
torch::Tensor sincos_position_embeddings(int64_t grid, int64_t dim);

}  // namespace selfsup::models
