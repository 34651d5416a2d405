// CPC for images (van den Oord et al. 2018; Hénaff et al. 2019, CPC v2): each image is cut into a
// grid of overlapping patches, the backbone encodes every patch (z), an autoregressive context
// network runs down the grid (c_ij sees only the patches in rows <= i: a GRU along each column, or
// masked convolutions), and for k = 1..K a linear map W_k predicts from c_ij the embedding of the
// patch k rows below, z_{i+k,j}. InfoNCE scores the prediction against the patches at the same
// position in the other images of the batch:
//   L = mean_k mean_{i,j} CE( (W_k c_ij)^ . z^_{i+k,j}(all images) / tau,  own image )
// or, with negatives: all_patches (the papers' choice), against every patch of rows k.. of every
// image, the own image's other positions included, so that a prediction must say what lies at its
// place rather than which image it belongs to.
// With skip_steps s only k = s+1..K are predicted: the rows right below the context's last patch
// overlap it or touch it, and predicting them can lean on pixels shared across the border rather
// than on what the image shows (CPC v2's published pseudocode ignores the 2 nearest of 3 steps).
// With directions 2 or 4 the same context network also runs up the grid and along its rows (the grid
// flipped or transposed), each direction with its own predictors, as CPC v2 predicts in four
// directions; the loss is the mean over directions.
// (^: L2-normalised; the paper uses unnormalised bilinear scores, the normalisation with a
// temperature trains more stably in the short runs here). patch_jitter and patch_shift give every
// patch its own brightness, contrast and offset, CPC v2's patch-based augmentation: with one
// transformation per image the patches of an image share these, and the InfoNCE can pick the right
// image by them instead of by content. Evaluation pools the patch embeddings of the whole image
// (PatchGridEncoder).
#include "selfsup/ssl/methods/cpc.h"

#include "selfsup/augment/ops.h"
#include "selfsup/core/error.h"
#include "selfsup/core/distributed.h"
#include "selfsup/ssl/common.h"
#include "selfsup/ssl/losses.h"

namespace selfsup::ssl {

void CpcConfig::visit(config::Visitor& v) {
  v("patch_size", patch_size, "side of the square patches the image is cut into (CPC v1: 64 of 256 px)", config::at_least_one);
  v("patch_stride", patch_stride, "step between patches (CPC v1: half the patch, i.e. 50% overlap)", config::at_least_one);
  v("context", context, "autoregressive context network down the grid: gru (per column, top to bottom) | conv (masked convolutions)");
  v("context_layers", context_layers, "number of masked convolution layers (context: conv)", config::at_least_one);
  v("predict_steps", predict_steps, "predict the patches 1..k rows below each context position (CPC v1 images: up to 5)", config::at_least_one);
  v("skip_steps", skip_steps,
    "leave out the nearest s of those steps, which overlap or touch the context's last patch (CPC v2's code: 2 of 3)",
    config::non_negative);
  v("directions", directions, "1: predict downwards (CPC v1) | 2: also upwards | 4: also along the rows both ways (CPC v2)", config::at_least_one);
  v("temperature", temperature, "InfoNCE temperature on the L2-normalised predictions and patch embeddings", config::positive);
  v("patch_jitter", patch_jitter,
    "CPC v2's patch-based augmentation: each patch's brightness and contrast scaled by its own factors in [1-s, 1+s] (0: off)",
    config::probability);
  v("patch_shift", patch_shift,
    "each patch cut at its own random offset of up to this many pixels from its grid position (0: off)", config::non_negative);
  v("negatives", negatives,
    "what a prediction is scored against: same_position (the patch at its place in the other images) | "
    "all_patches (every patch of every image in the batch, its own image's other places included; CPC v1/v2)");
}

void CpcConfig::validate(const Recipe& r, const RecipeCheck& check) const {
  check.views(r, 1, "cpc");
  if (patch_size < 1 || patch_stride < 1) check.fail("method.cpc.patch_size", "expected positive patch_size and patch_stride");
  if (context != "gru" && context != "conv") check.fail("method.cpc.context", "expected gru or conv, got '" + context + "'");
  if (context_layers < 1) check.fail("method.cpc.context_layers", "expected at least 1");
  if (predict_steps < 1) check.fail("method.cpc.predict_steps", "expected at least 1");
  if (skip_steps < 0 || skip_steps >= predict_steps)
    check.fail("method.cpc.skip_steps", "expected 0 to predict_steps - 1 (" + std::to_string(predict_steps - 1) + "), got " +
                                            std::to_string(skip_steps));
  if (directions != 1 && directions != 2 && directions != 4)
    check.fail("method.cpc.directions", "expected 1, 2 or 4, got " + std::to_string(directions));
  check.temperature("method.cpc.temperature", temperature);
  if (negatives != "same_position" && negatives != "all_patches")
    check.fail("method.cpc.negatives", "expected same_position or all_patches, got '" + negatives + "'");
  const int64_t size = r.augment.views[0].crop.size;
  if (size > 0 && (size < patch_size || (size - patch_size) / patch_stride < predict_steps))
    check.fail("method.cpc.predict_steps", "a " + std::to_string(size) + " px crop gives " +
                                               std::to_string(size < patch_size ? 0 : (size - patch_size) / patch_stride + 1) +
                                               " rows of patches: too few to predict " + std::to_string(predict_steps) +
                                               " rows ahead");
}


namespace F = torch::nn::functional;

PatchGridEncoder::PatchGridEncoder(std::shared_ptr<models::Backbone> backbone, int64_t patch_size, int64_t stride)
    : backbone_(std::move(backbone)), patch_size_(patch_size), stride_(stride) {
  register_module("backbone", backbone_);
}

torch::Tensor PatchGridEncoder::patches(const torch::Tensor& x, int64_t shift, at::Generator* gen) const {
  if (x.size(2) < patch_size_ || x.size(3) < patch_size_)
    throw Error("cpc: image " + std::to_string(x.size(2)) + "x" + std::to_string(x.size(3)) +
                " is smaller than a patch (" + std::to_string(patch_size_) + ")");
  if (shift == 0) return x.unfold(2, patch_size_, stride_).unfold(3, patch_size_, stride_).permute({0, 2, 3, 1, 4, 5});
  if (gen == nullptr) throw Error("cpc: shifted patches need a random generator");
  // Cut windows enlarged by shift on each side around the same grid positions, then a p x p
  // patch at a random offset inside each window.
  const int64_t window = patch_size_ + 2 * shift;
  const auto padded = F::pad(x, F::PadFuncOptions({shift, shift, shift, shift}).mode(torch::kReplicate));
  const auto w = padded.unfold(2, window, stride_).unfold(3, window, stride_).permute({0, 2, 3, 1, 4, 5});
  const int64_t n = w.size(0), rows = w.size(1), cols = w.size(2), c = w.size(3);
  const auto long_opts = torch::TensorOptions().dtype(torch::kLong);
  const auto draw = [&] { return torch::randint(2 * shift + 1, {n, rows, cols, 1, 1, 1}, *gen, long_opts).to(x.device()); };
  const auto steps = torch::arange(patch_size_, long_opts.device(x.device()));
  const auto ys = (draw() + steps.view({1, 1, 1, 1, -1, 1})).expand({n, rows, cols, c, patch_size_, window});
  const auto xs = (draw() + steps.view({1, 1, 1, 1, 1, -1})).expand({n, rows, cols, c, patch_size_, patch_size_});
  return w.gather(4, ys).gather(5, xs);
}

torch::Tensor PatchGridEncoder::encode(const torch::Tensor& patches) {
  const int64_t n = patches.size(0), rows = patches.size(1), cols = patches.size(2);
  const auto flat = patches.reshape({n * rows * cols, patches.size(3), patches.size(4), patches.size(5)});
  return backbone_->forward(flat).view({n, rows, cols, -1});
}

torch::Tensor jitter_patches(const torch::Tensor& patches, double strength, const std::vector<double>& mean,
                             const std::vector<double>& std, at::Generator& gen) {
  // The patches as a batch of images in pixel values, jittered by the augmentation's own
  // brightness and contrast operations with a factor per patch, then normalised again.
  const auto sizes = patches.sizes().vec();
  const auto images = patches.reshape({-1, sizes[3], sizes[4], sizes[5]});
  std::vector<double> inv_mean, inv_std;  // 1 or C values, as mean and std
  for (size_t i = 0; i < std::max(mean.size(), std.size()); ++i) {
    inv_mean.push_back(-mean[i % mean.size()] / std[i % std.size()]);
    inv_std.push_back(1.0 / std[i % std.size()]);
  }
  auto factors = [&] {
    const auto u = torch::rand({images.size(0)}, gen);
    return (1.0 + strength * (2.0 * u - 1.0)).to(patches.device());
  };
  auto pixels = augment::normalize(images, inv_mean, inv_std);  // (x - (-m/s)) * s = x * s + m
  pixels = augment::adjust_brightness(pixels, factors());
  pixels = augment::adjust_contrast(pixels, factors());
  return augment::normalize(pixels, mean, std).view(sizes);
}

Cpc::Cpc(const Recipe& recipe, int64_t in_channels)
    : config_(method_settings<CpcConfig>(recipe)), mean_(recipe.augment.views.at(0).mean), std_(recipe.augment.views.at(0).std) {
  encoder_ = register_module("encoder", models::make_backbone(recipe.model, in_channels));
  patches_ = std::make_shared<PatchGridEncoder>(encoder_, config_.patch_size, config_.patch_stride);
  const int64_t d = encoder_->output_dim();
  if (config_.context == "gru") {
    gru_ = register_module("context", torch::nn::GRU(torch::nn::GRUOptions(d, d)));
  } else {
    conv_ = register_module("context", torch::nn::ModuleList());
    for (int64_t i = 0; i < config_.context_layers; ++i)
      conv_->push_back(torch::nn::Conv2d(torch::nn::Conv2dOptions(d, d, {2, 3})));
  }
  predictors_ = register_module("predictors", torch::nn::ModuleList());
  for (int64_t k = 0; k < config_.directions * config_.predicted_steps(); ++k) predictors_->push_back(torch::nn::Linear(d, d));
}

torch::Tensor Cpc::context(const torch::Tensor& z) {
  const int64_t n = z.size(0), rows = z.size(1), cols = z.size(2), d = z.size(3);
  if (gru_) {
    auto seq = z.permute({1, 0, 2, 3}).reshape({rows, n * cols, d});  // rows are the time steps
    auto out = std::get<0>(gru_->forward(seq));
    return out.view({rows, n, cols, d}).permute({1, 0, 2, 3});
  }
  auto x = z.permute({0, 3, 1, 2});  // N x D x rows x cols
  for (const auto& layer : *conv_) {
    // One row of padding on top only: a 2x3 kernel at row i reads rows i-1 and i (masked conv).
    const auto y = layer->as<torch::nn::Conv2d>()->forward(F::pad(x, F::PadFuncOptions({1, 1, 1, 0})));
    x = x + torch::relu(y);
  }
  return x.permute({0, 2, 3, 1});
}

torch::Tensor Cpc::orient(const torch::Tensor& z, int64_t d) {
  switch (d) {
    case 0: return z;
    case 1: return z.flip(1);
    case 2: return z.transpose(1, 2);
    case 3: return z.transpose(1, 2).flip(1);
  }
  throw Error("cpc: direction " + std::to_string(d) + " is not one of 0..3");
}

torch::Tensor Cpc::prediction_loss(const torch::Tensor& z, int64_t predictor_offset) {
  const auto c = context(z);
  const int64_t rows = z.size(1), cols = z.size(2), d = z.size(3);
  const int64_t first = config_.skip_steps + 1, last = std::min<int64_t>(config_.predict_steps, rows - 1);
  if (last < first)
    throw Error("cpc: " + std::to_string(rows) + " rows of patches: nothing to predict " + std::to_string(first) + " rows ahead");
  torch::Tensor loss;
  for (int64_t k = first; k <= last; ++k) {
    // Several processes: negatives from the images of the global batch.
    const auto predictor = predictors_[predictor_offset + k - first]->as<torch::nn::Linear>();
    const auto pred = dist::gather_batch_with_grad(predictor->forward(c.slice(1, 0, rows - k)));  // N x (R-k) x Q x D
    const auto target = dist::gather_batch_with_grad(z.slice(1, k, rows));
    auto by_position = [&](const torch::Tensor& t) {  // (R-k)*Q positions x N images x D
      return l2_normalize(t.reshape({-1, d})).view({t.size(0), (rows - k) * cols, d}).transpose(0, 1);
    };
    const auto term = config_.negatives == "all_patches"
                          ? info_nce_in_batch(l2_normalize(pred.reshape({-1, d})), l2_normalize(target.reshape({-1, d})),
                                              config_.temperature)
                          : info_nce_positions(by_position(pred), by_position(target), config_.temperature);
    loss = k == first ? term : loss + term;
  }
  return loss / static_cast<double>(last - first + 1);
}

StepOutput Cpc::training_step(const data::Batch& batch, StepContext& ctx) {
  auto p = patches_->patches(batch.views.at(0), config_.patch_shift, &ctx.generator);  // N x R x Q x C x p x p
  if (config_.patch_jitter > 0) p = jitter_patches(p, config_.patch_jitter, mean_, std_, ctx.generator);
  const auto z = patches_->encode(p);  // N x R x Q x D
  auto loss = prediction_loss(z, 0);
  for (int64_t dir = 1; dir < config_.directions; ++dir)
    loss = loss + prediction_loss(orient(z, dir), dir * config_.predicted_steps());
  StepOutput out{loss / static_cast<double>(config_.directions), {}};
  out.logs["spread"] = embedding_spread(z.reshape({-1, z.size(3)}));
  return out;
}

}  // namespace selfsup::ssl
