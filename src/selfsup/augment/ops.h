// Batched image augmentations (the Kornia idea): each op transforms a whole N x C x H x W float
// batch on its device, with per-sample random parameters drawn on the CPU from `gen`.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <vector>

namespace selfsup::augment {

// Conventions for every op below:
// - x is a float tensor N x C x H x W with values in [0, 1] and C = 1 or 3.
// - Random parameters are drawn on the CPU from `gen` (a CPU generator) and then moved to
//   x.device(), so the result depends only on the generator state, not on the device.
// - A probability p selects each sample independently; unselected samples pass through unchanged.
// - Bad arguments throw selfsup::Error.

// Random resized crop plus horizontal flip, as one affine warp over the batch (one affine_grid +
// grid_sample, bilinear, align_corners=false, border padding). Per sample: area fraction
// ~ U[scale_min, scale_max], aspect ratio w/h log-uniform in [ratio_min, ratio_max], position
// uniform. Deviation from torchvision (which retries 10 times, then falls back to a centre crop):
// a box that does not fit is shrunk, keeping its aspect ratio, until it fits, so there is no retry
// loop; box sides are real-valued (sub-pixel), not rounded. Each sample is flipped left-right with
// probability flip_p. Returns N x C x out_h x out_w.
torch::Tensor random_resized_crop(const torch::Tensor& x, int64_t out_h, int64_t out_w,
                                  double scale_min, double scale_max, double ratio_min,
                                  double ratio_max, double flip_p, at::Generator& gen);

// Mirrors every image left-right.
torch::Tensor horizontal_flip(const torch::Tensor& x);

// torchvision ColorJitter semantics, but in the fixed order brightness, contrast, saturation, hue
// (torchvision permutes the order per call). Factors per sample: brightness and contrast and
// saturation ~ U[max(0, 1 - b), 1 + b], hue shift ~ U[-hue, hue] (fraction of the colour circle,
// hue <= 0.5). A zero strength skips that step. Saturation and hue do nothing for C = 1. Each
// sample is jittered with probability p; values are clamped to [0, 1] after every step.
torch::Tensor color_jitter(const torch::Tensor& x, double brightness, double contrast,
                           double saturation, double hue, double p, at::Generator& gen);

// Building blocks of color_jitter; `factor` is a float tensor of N values on x's device.
torch::Tensor adjust_brightness(const torch::Tensor& x, const torch::Tensor& factor);
torch::Tensor adjust_contrast(const torch::Tensor& x, const torch::Tensor& factor);
torch::Tensor adjust_saturation(const torch::Tensor& x, const torch::Tensor& factor);
torch::Tensor adjust_hue(const torch::Tensor& x, const torch::Tensor& shift);

// sRGB in [0, 1] -> CIE L*a*b* (D65 white), scaled to about [0, 1] for L (L*/100) and [-1, 1] for
// a, b (a*/110, b*/110): N x 3 x H x W -> N x 3 x H x W (CMC's luminance / chrominance views).
torch::Tensor rgb_to_lab(const torch::Tensor& x);

// ITU-R 601 luma (0.299 R + 0.587 G + 0.114 B): N x 3 x H x W -> N x 1 x H x W; C = 1 passes.
torch::Tensor to_grayscale(const torch::Tensor& x);
// N x 3 x H x W RGB <-> HSV, all channels in [0, 1] (hue as a fraction of the circle).
torch::Tensor rgb_to_hsv(const torch::Tensor& x);
torch::Tensor hsv_to_rgb(const torch::Tensor& x);

// Replaces each selected sample (probability p) by its luma, repeated over the C channels.
torch::Tensor random_grayscale(const torch::Tensor& x, double p, at::Generator& gen);

// Kernel side used by gaussian_blur when kernel_size = 0: odd, about 10% of the shorter image
// side, at least 3 (as SimCLR: int(0.1 * side), made odd).
int64_t auto_kernel_size(int64_t height, int64_t width);

// Gaussian blur of each selected sample (probability p) with sigma ~ U[sigma_min, sigma_max]
// pixels: separable, one grouped convolution per axis with per-sample kernels, reflect padding.
// kernel_size must be odd (0 = auto_kernel_size) and kernel_size / 2 < min(H, W).
torch::Tensor gaussian_blur(const torch::Tensor& x, double p, double sigma_min, double sigma_max,
                            int64_t kernel_size, at::Generator& gen);

// For each selected sample (probability p): pixels >= threshold become 1 - x.
torch::Tensor solarize(const torch::Tensor& x, double p, double threshold, at::Generator& gen);

// (x - mean[c]) / std[c]. A single value applies to every channel; otherwise each vector needs
// exactly C values.
torch::Tensor normalize(const torch::Tensor& x, const std::vector<double>& mean,
                        const std::vector<double>& std);

}  // namespace selfsup::augment
