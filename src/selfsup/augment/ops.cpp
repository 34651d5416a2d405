// Batched augmentation ops: parameters drawn per sample on the CPU, pixels transformed in one pass
// over the batch on its own device.
#include "selfsup/augment/ops.h"
#include "selfsup/augment/jitter_cpu.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "selfsup/core/error.h"

namespace selfsup::augment {
namespace {

namespace F = torch::nn::functional;

void require(bool ok, const std::string& message) {
  if (!ok) throw Error(message);
}

void check_image_batch(const torch::Tensor& x, const char* op) {
  require(x.defined() && x.dim() == 4 && x.is_floating_point(),
          std::string(op) + ": expected a float N x C x H x W tensor");
  require(x.size(1) == 1 || x.size(1) == 3,
          std::string(op) + ": expected 1 or 3 channels, got " + std::to_string(x.size(1)));
}

void check_probability(double p, const char* op) {
  require(p >= 0.0 && p <= 1.0, std::string(op) + ": probability must be in [0, 1]");
}

// n values ~ U[lo, hi), drawn on the CPU in double so the stream does not depend on the device.
torch::Tensor uniform(int64_t n, double lo, double hi, at::Generator& gen) {
  auto u = torch::rand({n}, gen, torch::TensorOptions().dtype(torch::kFloat64));  // N
  return u * (hi - lo) + lo;
}

// Per-sample selection with probability p, shaped N x 1 x 1 x 1 on x's device for torch::where.
torch::Tensor sample_mask(const torch::Tensor& x, double p, at::Generator& gen) {
  auto mask = uniform(x.size(0), 0.0, 1.0, gen) < p;  // N, CPU
  return mask.to(x.device()).view({-1, 1, 1, 1});
}

// CPU double parameters -> x's device and dtype.
torch::Tensor like(const torch::Tensor& params, const torch::Tensor& x) {
  return params.to(x.options());
}

torch::Tensor per_sample(const torch::Tensor& factor) { return factor.view({-1, 1, 1, 1}); }

// factor * a + (1 - factor) * b, clamped, as torchvision's _blend.
torch::Tensor blend(const torch::Tensor& a, const torch::Tensor& b, const torch::Tensor& factor) {
  auto f = per_sample(factor);
  return (f * a + (1 - f) * b).clamp(0.0, 1.0);
}

// Factors ~ U[max(0, 1 - s), 1 + s], as torchvision's ColorJitter.
torch::Tensor jitter_factor(const torch::Tensor& x, double strength, at::Generator& gen) {
  return like(uniform(x.size(0), std::max(0.0, 1.0 - strength), 1.0 + strength, gen), x);
}

// Normalised 1-D Gaussians, one per sigma: N -> N x k.
torch::Tensor gaussian_kernels(const torch::Tensor& sigma, int64_t k) {
  auto offsets = torch::arange(k, sigma.options()) - static_cast<double>(k / 2);  // k
  auto s = sigma.view({-1, 1});                                                    // N x 1
  auto kernel = torch::exp(-offsets.pow(2).view({1, -1}) / (2 * s * s));           // N x k
  return kernel / kernel.sum(1, true);
}

}  // namespace

torch::Tensor random_resized_crop(const torch::Tensor& x, int64_t out_h, int64_t out_w,
                                  double scale_min, double scale_max, double ratio_min,
                                  double ratio_max, double flip_p, at::Generator& gen) {
  check_image_batch(x, "random_resized_crop");
  require(out_h > 0 && out_w > 0, "random_resized_crop: output size must be positive");
  require(scale_min > 0 && scale_min <= scale_max && scale_max <= 1,
          "random_resized_crop: expected 0 < scale_min <= scale_max <= 1");
  require(ratio_min > 0 && ratio_min <= ratio_max,
          "random_resized_crop: expected 0 < ratio_min <= ratio_max");
  check_probability(flip_p, "random_resized_crop");
  const int64_t n = x.size(0);
  if (n == 0) return x.new_empty({0, x.size(1), out_h, out_w});  // affine_grid rejects N = 0
  const double height = static_cast<double>(x.size(2)), width = static_cast<double>(x.size(3));

  // Box in pixels (edges at 0..W), all N samples at once, on the CPU.
  auto area = uniform(n, scale_min, scale_max, gen) * (height * width);
  auto ratio = torch::exp(uniform(n, std::log(ratio_min), std::log(ratio_max), gen));
  auto w = torch::sqrt(area * ratio), h = torch::sqrt(area / ratio);
  // Shrink (keeping the aspect ratio) boxes that do not fit instead of retrying.
  auto shrink = torch::minimum(torch::minimum(width / w, height / h), torch::ones_like(w));
  w = w * shrink;
  h = h * shrink;
  auto x0 = uniform(n, 0.0, 1.0, gen) * (width - w);
  auto y0 = uniform(n, 0.0, 1.0, gen) * (height - h);
  auto flip = uniform(n, 0.0, 1.0, gen) < flip_p;

  // theta maps output coords in [-1, 1] to input coords: scale = box side / image side,
  // shift = box centre; a negative x scale mirrors the crop.
  auto sx = torch::where(flip, -w / width, w / width);
  auto sy = h / height;
  auto tx = (2 * x0 + w) / width - 1, ty = (2 * y0 + h) / height - 1;
  auto zero = torch::zeros_like(sx);
  auto theta = torch::stack({sx, zero, tx, zero, sy, ty}, 1).view({n, 2, 3});  // N x 2 x 3

  auto grid = F::affine_grid(like(theta, x), {n, x.size(1), out_h, out_w}, false);  // N x h x w x 2
  return F::grid_sample(x, grid,
                        F::GridSampleFuncOptions()
                            .mode(torch::kBilinear)
                            .padding_mode(torch::kBorder)
                            .align_corners(false));  // N x C x out_h x out_w
}

torch::Tensor horizontal_flip(const torch::Tensor& x) { return x.flip({-1}); }

torch::Tensor to_grayscale(const torch::Tensor& x) {
  if (x.size(1) == 1) return x;
  auto rgb = x.unbind(1);
  return (0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]).unsqueeze(1);  // N x 1 x H x W
}

torch::Tensor adjust_brightness(const torch::Tensor& x, const torch::Tensor& factor) {
  return (x * per_sample(factor)).clamp(0.0, 1.0);
}

torch::Tensor adjust_contrast(const torch::Tensor& x, const torch::Tensor& factor) {
  auto mean = to_grayscale(x).mean({1, 2, 3}, true);  // N x 1 x 1 x 1
  return blend(x, mean, factor);
}

torch::Tensor adjust_saturation(const torch::Tensor& x, const torch::Tensor& factor) {
  if (x.size(1) == 1) return x;
  return blend(x, to_grayscale(x), factor);  // gray broadcasts over the 3 channels
}

// Same formulas as torchvision's _rgb2hsv (hue in [0, 1), no division by zero on gray pixels).
torch::Tensor rgb_to_hsv(const torch::Tensor& x) {
  auto rgb = x.unbind(1);  // 3 x (N x H x W)
  const auto &r = rgb[0], &g = rgb[1], &b = rgb[2];
  auto maxc = x.amax(1), minc = x.amin(1);  // N x H x W
  auto gray = maxc == minc;
  auto range = maxc - minc;
  auto ones = torch::ones_like(maxc);
  auto s = range / torch::where(gray, ones, maxc);
  auto divisor = torch::where(gray, ones, range);
  auto rc = (maxc - r) / divisor, gc = (maxc - g) / divisor, bc = (maxc - b) / divisor;
  auto is_r = maxc == r, is_g = (maxc == g).logical_and(maxc != r);
  auto is_b = (maxc != g).logical_and(maxc != r);
  auto h = is_r * (bc - gc) + is_g * (2.0 + rc - bc) + is_b * (4.0 + gc - rc);
  h = torch::fmod(h / 6.0 + 1.0, 1.0);
  return torch::stack({h, s, maxc}, 1);  // N x 3 x H x W
}

// Closed form per channel: c = v - v * s * clamp(min(k, 4 - k), 0, 1), k = (n + 6h) mod 6 with
// n = 5, 3, 1 for R, G, B; avoids the six-way sector select.
torch::Tensor hsv_to_rgb(const torch::Tensor& x) {
  auto hsv = x.unbind(1);  // 3 x (N x H x W)
  auto h6 = hsv[0] * 6.0;
  auto channel = [&](double n) {
    auto k = torch::remainder(h6 + n, 6.0);
    auto w = torch::minimum(k, 4.0 - k).clamp(0.0, 1.0);
    return hsv[2] - hsv[2] * hsv[1] * w;
  };
  return torch::stack({channel(5.0), channel(3.0), channel(1.0)}, 1);  // N x 3 x H x W
}

torch::Tensor adjust_hue(const torch::Tensor& x, const torch::Tensor& shift) {
  if (x.size(1) == 1) return x;
  auto hsv = rgb_to_hsv(x).unbind(1);
  auto h = torch::remainder(hsv[0] + shift.view({-1, 1, 1}), 1.0);  // N x H x W
  return hsv_to_rgb(torch::stack({h, hsv[1], hsv[2]}, 1)).clamp(0.0, 1.0);
}

torch::Tensor color_jitter(const torch::Tensor& x, double brightness, double contrast,
                           double saturation, double hue, double p, at::Generator& gen) {
  check_image_batch(x, "color_jitter");
  require(brightness >= 0 && contrast >= 0 && saturation >= 0,
          "color_jitter: brightness, contrast and saturation must be >= 0");
  require(hue >= 0 && hue <= 0.5, "color_jitter: hue must be in [0, 0.5]");
  check_probability(p, "color_jitter");
  if (p == 0.0) return x;
  auto mask = sample_mask(x, p, gen);
  torch::Tensor fb, fc, fs, fh;  // drawn in this order whichever path runs
  if (brightness > 0) fb = jitter_factor(x, brightness, gen);
  if (contrast > 0) fc = jitter_factor(x, contrast, gen);
  if (saturation > 0) fs = jitter_factor(x, saturation, gen);
  if (hue > 0) fh = like(uniform(x.size(0), -hue, hue, gen), x);
  if (x.device().is_cpu() && x.scalar_type() == torch::kFloat)
    return color_jitter_cpu(x, mask.view(-1), fb, fc, fs, fh);  // one fused pass per image
  auto y = x;
  if (fb.defined()) y = adjust_brightness(y, fb);
  if (fc.defined()) y = adjust_contrast(y, fc);
  if (fs.defined()) y = adjust_saturation(y, fs);
  if (fh.defined()) y = adjust_hue(y, fh);
  return torch::where(mask, y, x);
}

torch::Tensor random_grayscale(const torch::Tensor& x, double p, at::Generator& gen) {
  check_image_batch(x, "random_grayscale");
  check_probability(p, "random_grayscale");
  if (p == 0.0 || x.size(1) == 1) return x;
  auto mask = sample_mask(x, p, gen);
  return torch::where(mask, to_grayscale(x).expand_as(x), x);
}

int64_t auto_kernel_size(int64_t height, int64_t width) {
  int64_t k = static_cast<int64_t>(0.1 * static_cast<double>(std::min(height, width)));
  if (k % 2 == 0) ++k;
  return std::max<int64_t>(k, 3);
}

torch::Tensor gaussian_blur(const torch::Tensor& x, double p, double sigma_min, double sigma_max,
                            int64_t kernel_size, at::Generator& gen) {
  check_image_batch(x, "gaussian_blur");
  check_probability(p, "gaussian_blur");
  require(sigma_min > 0 && sigma_min <= sigma_max,
          "gaussian_blur: expected 0 < sigma_min <= sigma_max");
  require(kernel_size >= 0 && (kernel_size == 0 || kernel_size % 2 == 1),
          "gaussian_blur: kernel_size must be odd (or 0 for auto)");
  if (p == 0.0 || x.numel() == 0) return x;
  const int64_t n = x.size(0), c = x.size(1), height = x.size(2), width = x.size(3);
  const int64_t k = kernel_size == 0 ? auto_kernel_size(height, width) : kernel_size;
  const int64_t pad = k / 2;
  require(pad < std::min(height, width),
          "gaussian_blur: kernel_size " + std::to_string(k) + " too large for a " +
              std::to_string(height) + " x " + std::to_string(width) + " image");

  auto mask = sample_mask(x, p, gen);
  auto sigma = uniform(n, sigma_min, sigma_max, gen);
  // One kernel per (sample, channel), matching the N*C groups of the reshaped batch.
  auto kernel = like(gaussian_kernels(sigma, k), x).repeat_interleave(c, 0);  // NC x k
  auto y = x.reshape({1, n * c, height, width});                                // 1 x NC x H x W
  y = F::pad(y, F::PadFuncOptions({pad, pad, 0, 0}).mode(torch::kReflect));
  y = F::conv2d(y, kernel.view({n * c, 1, 1, k}), F::Conv2dFuncOptions().groups(n * c));
  y = F::pad(y, F::PadFuncOptions({0, 0, pad, pad}).mode(torch::kReflect));
  y = F::conv2d(y, kernel.view({n * c, 1, k, 1}), F::Conv2dFuncOptions().groups(n * c));
  return torch::where(mask, y.view({n, c, height, width}), x);  // N x C x H x W
}

torch::Tensor solarize(const torch::Tensor& x, double p, double threshold, at::Generator& gen) {
  check_image_batch(x, "solarize");
  check_probability(p, "solarize");
  if (p == 0.0) return x;
  auto mask = sample_mask(x, p, gen);
  return torch::where(mask.logical_and(x >= threshold), 1.0 - x, x);
}

torch::Tensor normalize(const torch::Tensor& x, const std::vector<double>& mean,
                        const std::vector<double>& std) {
  check_image_batch(x, "normalize");
  const auto c = static_cast<size_t>(x.size(1));
  auto fits = [&](const std::vector<double>& v) { return v.size() == 1 || v.size() == c; };
  require(fits(mean) && fits(std), "normalize: mean and std need 1 or " + std::to_string(c) +
                                       " values for a " + std::to_string(c) + "-channel image");
  require(std::all_of(std.begin(), std.end(), [](double s) { return s > 0; }),
          "normalize: std values must be > 0");
  auto as_channels = [&](const std::vector<double>& v) {
    return torch::tensor(v, torch::kFloat64).to(x.options()).view({1, -1, 1, 1});  // 1 x C x 1 x 1
  };
  return (x - as_channels(mean)) / as_channels(std);
}

torch::Tensor rgb_to_lab(const torch::Tensor& x) {
  if (x.dim() != 4 || x.size(1) != 3) throw Error("rgb_to_lab: expected N x 3 x H x W");
  // sRGB -> linear RGB -> XYZ (D65), normalised by the white point.
  const auto lin = torch::where(x > 0.04045, torch::pow((x + 0.055) / 1.055, 2.4), x / 12.92);
  const auto m = torch::tensor({{0.412453, 0.357580, 0.180423}, {0.212671, 0.715160, 0.072169}, {0.019334, 0.119193, 0.950227}},
                               x.options());
  const auto white = torch::tensor({0.950456, 1.0, 1.088754}, x.options()).view({1, 3, 1, 1});
  const auto xyz = torch::einsum("ij,njhw->nihw", {m, lin}) / white;
  const double e = 216.0 / 24389.0, k = 24389.0 / 27.0;
  const auto f = torch::where(xyz > e, torch::pow(xyz.clamp_min(1e-12), 1.0 / 3.0), (k * xyz + 16.0) / 116.0);
  const auto fx = f.select(1, 0), fy = f.select(1, 1), fz = f.select(1, 2);
  return torch::stack({(116.0 * fy - 16.0) / 100.0, 500.0 * (fx - fy) / 110.0, 200.0 * (fy - fz) / 110.0}, 1);
}

}  // namespace selfsup::augment
