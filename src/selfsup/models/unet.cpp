#include "selfsup/models/unet.h"

#include <algorithm>
#include <cmath>

#include "selfsup/core/error.h"

namespace selfsup::models {

namespace nn = torch::nn;
namespace F = torch::nn::functional;

namespace {

nn::Conv2d conv3x3_with_bias(int64_t in, int64_t out, int64_t stride = 1) {
  return nn::Conv2d(nn::Conv2dOptions(in, out, 3).stride(stride).padding(1));
}

void zero_init(nn::Conv2d& conv) {
  torch::NoGradGuard no_grad;
  conv->weight.zero_();
  conv->bias.zero_();
}

bool has_attention(const UNetConfig& c, int64_t side) {
  return std::any_of(c.attention_sides.begin(), c.attention_sides.end(),
                     [side](double s) { return std::llround(s) == side; });
}

int64_t level_width(const UNetConfig& c, size_t level) {
  return c.channels * std::llround(c.channel_mult[level]);
}

}  // namespace

void UNetConfig::visit(config::Visitor& v) {
  v("channels", channels, "width of the first level (DDPM's CIFAR-10 U-Net: 128)", config::at_least_one);
  v("channel_mult", channel_mult, "one entry per resolution level: its width as a multiple of channels; each level after the first halves the side");
  v("res_blocks", res_blocks, "residual blocks per level on the way down (one more on the way up)", config::at_least_one);
  v("attention_sides", attention_sides, "feature-map sides that get self-attention (28x28 input, 3 levels: 7 = the bottom level)");
  v("heads", heads, "attention heads (channels at an attention level must be divisible by it)", config::at_least_one);
  v("groups", groups, "GroupNorm groups (every level's width must be divisible by it)", config::at_least_one);
  v("dropout", dropout, "dropout inside the residual blocks (DDPM CIFAR-10: 0.1)", config::probability);
}

void validate(const UNetConfig& c, int64_t image_side, const std::string& prefix) {
  auto fail = [&](const std::string& key, const std::string& what) { throw Error(prefix + "." + key + ": " + what); };
  if (c.channels < 1) fail("channels", "expected a positive width");
  if (c.channel_mult.empty()) fail("channel_mult", "expected at least one level");
  if (c.res_blocks < 1) fail("res_blocks", "expected at least 1");
  if (c.groups < 1) fail("groups", "expected at least 1");
  if (c.heads < 1) fail("heads", "expected at least 1");
  if (c.dropout < 0 || c.dropout >= 1) fail("dropout", "expected a value in [0, 1)");
  for (size_t l = 0; l < c.channel_mult.size(); ++l) {
    const double m = c.channel_mult[l];
    if (m < 1 || m != std::floor(m)) fail("channel_mult", "expected positive whole multiples, got " + std::to_string(m));
    if (level_width(c, l) % c.groups != 0)
      fail("groups", "level width " + std::to_string(level_width(c, l)) + " is not divisible by " + std::to_string(c.groups));
  }
  if (c.channels % c.groups != 0) fail("groups", "channels is not divisible by groups");
  int64_t side = image_side;
  for (size_t l = 0; l < c.channel_mult.size(); ++l) {
    if (has_attention(c, side) && level_width(c, l) % c.heads != 0)
      fail("heads", "level width " + std::to_string(level_width(c, l)) + " is not divisible by " + std::to_string(c.heads));
    if (l + 1 < c.channel_mult.size()) {
      if (side % 2 != 0)
        fail("channel_mult", std::to_string(c.channel_mult.size()) + " levels need an image side divisible by " +
                                 std::to_string(1 << (c.channel_mult.size() - 1)) + ", got " + std::to_string(image_side));
      side /= 2;
    }
  }
  if (has_attention(c, side) && level_width(c, c.channel_mult.size() - 1) % c.heads != 0)
    fail("heads", "the bottom width is not divisible by heads");
}

torch::Tensor timestep_embedding(const torch::Tensor& t, int64_t dim) {
  const int64_t half = dim / 2;
  const auto freqs = torch::exp(-std::log(10000.0) *
                                torch::arange(half, torch::TensorOptions().dtype(torch::kFloat).device(t.device())) /
                                static_cast<double>(half));
  const auto args = t.to(torch::kFloat).unsqueeze(1) * freqs.unsqueeze(0);
  auto emb = torch::cat({torch::cos(args), torch::sin(args)}, 1);
  if (dim % 2 == 1) emb = torch::cat({emb, torch::zeros({t.size(0), 1}, emb.options())}, 1);
  return emb;
}

ResBlockImpl::ResBlockImpl(int64_t in, int64_t out, int64_t emb_dim, int64_t groups, double p) {
  norm1 = register_module("norm1", nn::GroupNorm(groups, in));
  conv1 = register_module("conv1", conv3x3_with_bias(in, out));
  emb_proj = register_module("emb_proj", nn::Linear(emb_dim, 2 * out));
  norm2 = register_module("norm2", nn::GroupNorm(groups, out));
  dropout = register_module("dropout", nn::Dropout(p));
  conv2 = register_module("conv2", conv3x3_with_bias(out, out));
  zero_init(conv2);
  if (in != out) skip = register_module("skip", nn::Conv2d(nn::Conv2dOptions(in, out, 1)));
}

torch::Tensor ResBlockImpl::forward(const torch::Tensor& x, const torch::Tensor& emb) {
  auto h = conv1(torch::silu(norm1(x)));
  const auto scale_shift = emb_proj(torch::silu(emb)).unsqueeze(-1).unsqueeze(-1).chunk(2, 1);
  h = norm2(h) * (1 + scale_shift[0]) + scale_shift[1];
  h = conv2(dropout(torch::silu(h)));
  return (skip ? skip(x) : x) + h;
}

SpatialAttentionImpl::SpatialAttentionImpl(int64_t channels, int64_t heads_, int64_t groups) : heads(heads_) {
  norm = register_module("norm", nn::GroupNorm(groups, channels));
  qkv = register_module("qkv", nn::Conv2d(nn::Conv2dOptions(channels, 3 * channels, 1)));
  proj = register_module("proj", nn::Conv2d(nn::Conv2dOptions(channels, channels, 1)));
  zero_init(proj);
}

torch::Tensor SpatialAttentionImpl::forward(const torch::Tensor& x) {
  const int64_t b = x.size(0), c = x.size(1), hw = x.size(2) * x.size(3), hd = c / heads;
  const auto parts = qkv(norm(x)).reshape({b, 3, heads, hd, hw}).unbind(1);  // each B x heads x hd x HW
  const auto attn = torch::softmax(torch::matmul(parts[0].transpose(-2, -1), parts[1]) / std::sqrt(double(hd)), -1);
  const auto out = torch::matmul(parts[2], attn.transpose(-2, -1));  // B x heads x hd x HW
  return x + proj(out.reshape({b, c, x.size(2), x.size(3)}));
}

UNetTrunkImpl::UNetTrunkImpl(const UNetConfig& c, int64_t in_channels, int64_t image_side, int64_t classes)
    : emb_dim(4 * c.channels), num_classes(classes), config(c) {
  validate(c, image_side, "diffusion.unet");
  time1 = register_module("time1", nn::Linear(c.channels, emb_dim));
  time2 = register_module("time2", nn::Linear(emb_dim, emb_dim));
  if (num_classes > 0) class_embed = register_module("class_embed", nn::Embedding(num_classes + 1, emb_dim));
  conv_in = register_module("conv_in", conv3x3_with_bias(in_channels, c.channels));
  down = register_module("down", nn::ModuleList());
  int64_t width = c.channels, side = image_side;
  skip_channels.push_back(width);
  const size_t levels = c.channel_mult.size();
  for (size_t l = 0; l < levels; ++l) {
    for (int64_t r = 0; r < c.res_blocks; ++r) {
      down->push_back(ResBlock(width, level_width(c, l), emb_dim, c.groups, c.dropout));
      width = level_width(c, l);
      push_after.push_back(true);
      if (has_attention(c, side)) {
        push_after.back() = false;
        down->push_back(SpatialAttention(width, c.heads, c.groups));
        push_after.push_back(true);
      }
      skip_channels.push_back(width);
    }
    if (l + 1 < levels) {
      down->push_back(conv3x3_with_bias(width, width, 2));
      push_after.push_back(true);
      skip_channels.push_back(width);
      side /= 2;
    }
  }
  mid1 = register_module("mid1", ResBlock(width, width, emb_dim, c.groups, c.dropout));
  mid_attn = register_module("mid_attn", SpatialAttention(width, c.heads, c.groups));
  mid2 = register_module("mid2", ResBlock(width, width, emb_dim, c.groups, c.dropout));
  out_channels = width;
  out_side = side;
}

torch::Tensor UNetTrunkImpl::forward(const torch::Tensor& x, const torch::Tensor& t, const torch::Tensor& y,
                                     std::vector<torch::Tensor>* skips, torch::Tensor* emb_out) {
  auto emb = time2(torch::silu(time1(timestep_embedding(t, config.channels))));
  if (num_classes > 0) {
    if (!y.defined()) throw Error("U-Net: a class-conditional model needs class indices (the null class for none)");
    emb = emb + class_embed(y);
  }
  auto h = conv_in(x);
  if (skips) skips->push_back(h);
  for (size_t i = 0; i < down->size(); ++i) {
    if (auto res = down->ptr<ResBlockImpl>(i)) h = res->forward(h, emb);
    else if (auto attn = down->ptr<SpatialAttentionImpl>(i)) h = attn->forward(h);
    else h = down->ptr<nn::Conv2dImpl>(i)->forward(h);
    if (skips && push_after[i]) skips->push_back(h);
  }
  h = mid2(mid_attn(mid1(h, emb)), emb);
  if (emb_out) *emb_out = emb;
  return h;
}

UNetImpl::UNetImpl(const UNetConfig& c, int64_t channels, int64_t image_side, int64_t num_classes) {
  trunk = register_module("trunk", UNetTrunk(c, channels, image_side, num_classes));
  up = register_module("up", nn::ModuleList());
  auto skip_widths = trunk->skip_channels;
  int64_t width = trunk->out_channels, side = trunk->out_side;
  for (size_t l = c.channel_mult.size(); l-- > 0;) {
    for (int64_t r = 0; r <= c.res_blocks; ++r) {
      const int64_t skip = skip_widths.back();
      skip_widths.pop_back();
      up->push_back(ResBlock(width + skip, level_width(c, l), trunk->emb_dim, c.groups, c.dropout));
      width = level_width(c, l);
      if (has_attention(c, side)) up->push_back(SpatialAttention(width, c.heads, c.groups));
    }
    if (l > 0) {
      up->push_back(conv3x3_with_bias(width, width));
      side *= 2;
    }
  }
  norm_out = register_module("norm_out", nn::GroupNorm(c.groups, width));
  conv_out = register_module("conv_out", conv3x3_with_bias(width, channels));
  zero_init(conv_out);
}

torch::Tensor UNetImpl::forward(const torch::Tensor& x, const torch::Tensor& t, const torch::Tensor& y) {
  std::vector<torch::Tensor> skips;
  torch::Tensor emb;
  auto h = trunk->forward(x, t, y, &skips, &emb);
  for (size_t i = 0; i < up->size(); ++i) {
    if (auto res = up->ptr<ResBlockImpl>(i)) {
      h = res->forward(torch::cat({h, skips.back()}, 1), emb);
      skips.pop_back();
    } else if (auto attn = up->ptr<SpatialAttentionImpl>(i)) {
      h = attn->forward(h);
    } else {
      h = up->ptr<nn::Conv2dImpl>(i)->forward(
          F::interpolate(h, F::InterpolateFuncOptions().scale_factor(std::vector<double>{2, 2}).mode(torch::kNearest)));
    }
  }
  return conv_out(torch::silu(norm_out(h)));
}

NoisyClassifierNetImpl::NoisyClassifierNetImpl(const UNetConfig& c, int64_t channels, int64_t image_side,
                                               int64_t num_classes) {
  trunk = register_module("trunk", UNetTrunk(c, channels, image_side, /*num_classes=*/0));
  norm_out = register_module("norm_out", nn::GroupNorm(c.groups, trunk->out_channels));
  head = register_module("head", nn::Linear(trunk->out_channels, num_classes));
}

torch::Tensor NoisyClassifierNetImpl::forward(const torch::Tensor& x, const torch::Tensor& t) {
  const auto h = trunk->forward(x, t, torch::Tensor(), nullptr, nullptr);
  return head(torch::silu(norm_out(h)).mean({2, 3}));
}

}  // namespace selfsup::models
