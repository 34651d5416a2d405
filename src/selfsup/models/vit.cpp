// Vision Transformer with timm's names; initialisation follows MoCo v3's ViT (Xavier-uniform
// Linears with q, k, v initialised as separate matrices, uniform patch projection, class token
// ~N(0, 1e-6)), which trains stably in the self-supervised methods.
#include "selfsup/models/vit.h"

#include "selfsup/core/error.h"

#include <cmath>

namespace selfsup::models {

namespace nn = torch::nn;
namespace F = torch::nn::functional;

namespace {

void xavier_uniform_rows(const torch::Tensor& w, int64_t fan_out) {
  const double bound = std::sqrt(6.0 / static_cast<double>(fan_out + w.size(1)));
  torch::NoGradGuard no_grad;
  w.uniform_(-bound, bound);
}

}  // namespace

VitAttentionImpl::VitAttentionImpl(int64_t dim, int64_t heads_) : heads(heads_) {
  qkv = register_module("qkv", nn::Linear(dim, 3 * dim));
  proj = register_module("proj", nn::Linear(dim, dim));
}

torch::Tensor VitAttentionImpl::forward(const torch::Tensor& x, torch::Tensor* probs) {
  const int64_t b = x.size(0), t = x.size(1), d = x.size(2), hd = d / heads;
  auto qkv_heads = qkv(x).reshape({b, t, 3, heads, hd}).permute({2, 0, 3, 1, 4});  // 3 x B x H x T x hd
  const auto q = qkv_heads[0], k = qkv_heads[1], v = qkv_heads[2];
  auto attn = torch::softmax(torch::matmul(q, k.transpose(-2, -1)) / std::sqrt(static_cast<double>(hd)), -1);
  if (probs) *probs = attn.detach();
  return proj(torch::matmul(attn, v).transpose(1, 2).reshape({b, t, d}));  // B x T x D
}

VitBlockImpl::VitBlockImpl(int64_t dim, int64_t heads, double mlp_ratio) {
  const auto ln = nn::LayerNormOptions({dim}).eps(1e-6);
  const int64_t hidden = static_cast<int64_t>(static_cast<double>(dim) * mlp_ratio);
  norm1 = register_module("norm1", nn::LayerNorm(ln));
  attn = register_module("attn", VitAttention(dim, heads));
  norm2 = register_module("norm2", nn::LayerNorm(ln));
  mlp = register_module("mlp", nn::Sequential({{"fc1", nn::Linear(dim, hidden)},
                                                {"act", nn::GELU()},
                                                {"fc2", nn::Linear(hidden, dim)}}));
}

torch::Tensor VitBlockImpl::forward(const torch::Tensor& x, torch::Tensor* probs) {
  auto y = x + attn->forward(norm1(x), probs);
  return y + mlp->forward(norm2(y));
}

Vit::Vit(const VitOptions& options_) : options(options_) {
  const auto& o = options;
  if (o.patch_size() < 1 || o.image_size() < o.patch_size() || o.image_size() % o.patch_size() != 0)
    throw Error("model.backbone.vit.image_size: must be a multiple of patch_size " +
                std::to_string(o.patch_size()) + ", got " + std::to_string(o.image_size()));
  if (o.heads() < 1 || o.dim() % o.heads() != 0)
    throw Error("model.backbone.vit.dim: must be a multiple of heads (" + std::to_string(o.heads()) + "), got " +
                std::to_string(o.dim()));
  if (o.depth() < 1) throw Error("model.backbone.vit.depth: must be >= 1, got " + std::to_string(o.depth()));
  if (o.pos_embed() != "learned" && o.pos_embed() != "sincos")
    throw Error("model.backbone.vit.pos_embed: unknown '" + o.pos_embed() + "' (expected learned or sincos)");
  if (o.pos_embed() == "sincos" && o.dim() % 4 != 0)
    throw Error("model.backbone.vit.dim: sincos position embeddings need a multiple of 4, got " +
                std::to_string(o.dim()));
  grid_ = o.image_size() / o.patch_size();
  const int64_t d = o.dim();

  cls_token = register_parameter("cls_token", torch::randn({1, 1, d}) * 1e-6);
  if (o.pos_embed() == "sincos") {
    pos_embed = register_parameter(
        "pos_embed", torch::cat({torch::zeros({1, 1, d}), sincos_position_embeddings(grid_, d)}, 1),
        /*requires_grad=*/false);
  } else {
    pos_embed = register_parameter("pos_embed", torch::randn({1, 1 + grid_ * grid_, d}) * 0.02);
  }
  auto patch_embed = std::make_shared<nn::Module>();
  proj = patch_embed->register_module(
      "proj", nn::Conv2d(nn::Conv2dOptions(o.in_channels(), d, o.patch_size()).stride(o.patch_size())));
  register_module("patch_embed", patch_embed);
  blocks = register_module("blocks", nn::ModuleList());
  for (int64_t i = 0; i < o.depth(); ++i) blocks->push_back(VitBlock(d, o.heads(), o.mlp_ratio()));
  norm = register_module("norm", nn::LayerNorm(nn::LayerNormOptions({d}).eps(1e-6)));
  if (o.num_classes() > 0) head = register_module("head", nn::Linear(d, o.num_classes()));

  torch::NoGradGuard no_grad;
  for (auto& m : modules(/*include_self=*/false)) {
    if (auto* linear = m->as<nn::Linear>()) {
      const bool is_qkv = linear->weight.size(0) == 3 * linear->weight.size(1);
      xavier_uniform_rows(linear->weight, linear->weight.size(0) / (is_qkv ? 3 : 1));
      linear->bias.zero_();
    }
  }
  const double bound = std::sqrt(6.0 / static_cast<double>(3 * o.patch_size() * o.patch_size() + d));
  proj->weight.uniform_(-bound, bound);
  proj->bias.zero_();
  if (o.freeze_patch_embed()) {
    proj->weight.set_requires_grad(false);
    proj->bias.set_requires_grad(false);
  }
}

torch::Tensor Vit::position_embeddings(int64_t gh, int64_t gw) const {
  if (gh == grid_ && gw == grid_) return pos_embed;
  const int64_t d = options.dim();
  auto grid = pos_embed.slice(1, 1).reshape({1, grid_, grid_, d}).permute({0, 3, 1, 2});  // 1 x D x G x G
  grid = F::interpolate(grid, F::InterpolateFuncOptions()
                                  .size(std::vector<int64_t>{gh, gw})
                                  .mode(torch::kBicubic)
                                  .align_corners(false));
  return torch::cat({pos_embed.slice(1, 0, 1), grid.permute({0, 2, 3, 1}).reshape({1, gh * gw, d})}, 1);
}

torch::Tensor Vit::tokens(torch::Tensor x) {
  const int64_t p = options.patch_size();
  if (x.dim() != 4 || x.size(2) % p != 0 || x.size(3) % p != 0)
    throw Error("vit: input " + std::to_string(x.size(2)) + "x" + std::to_string(x.size(3)) +
                " is not a multiple of the patch size " + std::to_string(p));
  x = proj(x);  // N x D x gh x gw
  const int64_t gh = x.size(2), gw = x.size(3);
  x = x.flatten(2).transpose(1, 2);  // N x gh*gw x D
  x = torch::cat({cls_token.expand({x.size(0), 1, -1}), x}, 1);
  return x + position_embeddings(gh, gw);
}

torch::Tensor Vit::forward(torch::Tensor x) {
  x = tokens(std::move(x));
  for (const auto& block : *blocks) x = block->as<VitBlock>()->forward(x);
  x = norm(x).select(1, 0);  // class token, N x D
  return head ? head(x) : x;
}

torch::Tensor Vit::last_attention(torch::Tensor x) {
  const int64_t gh = x.size(2) / options.patch_size(), gw = x.size(3) / options.patch_size();
  x = tokens(std::move(x));
  torch::Tensor probs;
  for (size_t i = 0; i < blocks->size(); ++i)
    x = blocks[i]->as<VitBlock>()->forward(x, i + 1 == blocks->size() ? &probs : nullptr);
  return probs.select(2, 0).slice(2, 1).reshape({x.size(0), options.heads(), gh, gw});
}

torch::Tensor sincos_position_embeddings(int64_t grid, int64_t dim) {
  const int64_t quarter = dim / 4;
  const auto omega = 1.0 / torch::pow(10000.0, torch::arange(quarter, torch::kDouble) / quarter);  // D/4
  const auto m = torch::arange(grid * grid, torch::kLong);
  const auto rows = torch::outer(m.div(grid, "floor").to(torch::kDouble), omega);  // G*G x D/4
  const auto cols = torch::outer(m.remainder(grid).to(torch::kDouble), omega);
  return torch::cat({rows.sin(), rows.cos(), cols.sin(), cols.cos()}, 1).to(torch::kFloat).unsqueeze(0);
}

}  // namespace selfsup::models
