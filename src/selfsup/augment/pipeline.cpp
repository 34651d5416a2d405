// Per-view augmentation recipe: field reference (visit), range checks (validate) and the batched
// pipeline that turns a uint8 batch into a normalised training or evaluation view.
#include "selfsup/augment/pipeline.h"

#include <algorithm>
#include <cmath>

#include "selfsup/augment/ops.h"
#include "selfsup/core/error.h"

namespace selfsup::augment {

void CropConfig::visit(config::Visitor& v) {
  v("size", size,
    "output side in pixels (square output); 0 keeps the input height and width", config::non_negative);
  v("scale", scale,
    "[min, max] fraction of the image area covered by the random crop, drawn uniformly; "
    "[1, 1] takes the whole image (a plain resize when the ratio also allows the image's shape)");
  v("ratio", ratio,
    "[min, max] aspect ratio (width / height) of the crop, drawn log-uniformly; a crop that does "
    "not fit the image is shrunk, keeping its ratio");
}

void JitterConfig::visit(config::Visitor& v) {
  v("brightness", brightness,
    "brightness strength b: pixels multiplied by a factor ~ U[max(0, 1 - b), 1 + b]; 0 = off", config::non_negative);
  v("contrast", contrast,
    "contrast strength c: blend with the image's mean gray level, factor ~ U[max(0, 1 - c), 1 + c]"
    "; 0 = off", config::non_negative);
  v("saturation", saturation,
    "saturation strength s: blend with the grayscale image, factor ~ U[max(0, 1 - s), 1 + s]; "
    "0 = off; no effect on 1-channel images", config::non_negative);
  v("hue", hue,
    "hue strength h in [0, 0.5]: hue shifted by ~ U[-h, h] turns of the colour circle; 0 = off; "
    "no effect on 1-channel images", config::between(0, 0.5));
  v("p", p,
    "probability that a sample is jittered (steps applied in the fixed order brightness, "
    "contrast, saturation, hue); 0 disables jitter", config::unit_interval);
}

void BlurConfig::visit(config::Visitor& v) {
  v("p", p, "probability that a sample is Gaussian-blurred; 0 disables blur", config::unit_interval);
  v("sigma", sigma, "[min, max] blur standard deviation in pixels, drawn uniformly per sample");
  v("kernel_size", kernel_size,
    "odd kernel side in pixels; 0 = auto (about 10% of the shorter image side, odd, at least 3)", config::non_negative);
}

void SolarizeConfig::visit(config::Visitor& v) {
  v("p", p, "probability that a sample is solarized; 0 disables solarization", config::unit_interval);
  v("threshold", threshold,
    "pixel values >= threshold (on the [0, 1] scale) are inverted to 1 - value", config::unit_interval);
}

void ViewConfig::visit(config::Visitor& v) {
  v.section("crop", crop, "random resized crop, always applied (first step)");
  v("flip", flip, "probability of a horizontal (left-right) flip; 0 disables flipping", config::unit_interval);
  v.section("jitter", jitter, "colour jitter (after the crop)");
  v("grayscale", grayscale,
    "probability of converting a sample to grayscale (ITU-R 601 luma, channel count kept); "
    "no effect on 1-channel images", config::unit_interval);
  v.section("blur", blur, "Gaussian blur (after grayscale)");
  v.section("solarize", solarize, "solarization (after blur)");
  v("mean", mean,
    "per-channel mean subtracted last, on the [0, 1] scale; one value applies to every channel");
  v("std", std,
    "per-channel standard deviation divided by last, on the [0, 1] scale; one value applies to "
    "every channel");
  v("repeat", repeat,
    "number of views drawn from this pipeline (multi-crop: list the global crops first, then one "
    "entry for the local crops with repeat: 6)", config::at_least_one);
}

namespace {

void check(bool ok, const std::string& key, const std::string& expected) {
  if (!ok) throw Error(key + ": expected " + expected);
}

bool is_probability(double p) { return p >= 0.0 && p <= 1.0; }

bool is_range(const std::vector<double>& r, double lo, double hi) {
  return r.size() == 2 && r[0] > lo && r[0] <= r[1] && r[1] <= hi;
}

bool all_positive(const std::vector<double>& v) {
  return std::all_of(v.begin(), v.end(), [](double x) { return x > 0; });
}

void validate_crop(const CropConfig& c, const std::string& path) {
  check(c.size >= 0, path + ".size", "an integer >= 0");
  check(is_range(c.scale, 0.0, 1.0), path + ".scale", "two numbers 0 < min <= max <= 1");
  check(is_range(c.ratio, 0.0, HUGE_VAL), path + ".ratio", "two numbers 0 < min <= max");
}

void validate_jitter(const JitterConfig& j, const std::string& path) {
  check(j.brightness >= 0, path + ".brightness", "a number >= 0");
  check(j.contrast >= 0, path + ".contrast", "a number >= 0");
  check(j.saturation >= 0, path + ".saturation", "a number >= 0");
  check(j.hue >= 0 && j.hue <= 0.5, path + ".hue", "a number in [0, 0.5]");
  check(is_probability(j.p), path + ".p", "a probability in [0, 1]");
}

void validate_blur(const BlurConfig& b, const std::string& path) {
  check(is_probability(b.p), path + ".p", "a probability in [0, 1]");
  check(is_range(b.sigma, 0.0, HUGE_VAL), path + ".sigma", "two numbers 0 < min <= max");
  check(b.kernel_size == 0 || (b.kernel_size > 0 && b.kernel_size % 2 == 1),
        path + ".kernel_size", "0 (auto) or an odd positive integer");
}

// uint8 N x C x H x W on any device -> float in [0, 1] on `device` (copy as uint8: 4x less data).
torch::Tensor to_unit_float(const torch::Tensor& images_u8, torch::Device device) {
  if (!images_u8.defined() || images_u8.dim() != 4 || images_u8.scalar_type() != torch::kUInt8 ||
      (images_u8.size(1) != 1 && images_u8.size(1) != 3))
    throw Error("augment: expected a uint8 N x C x H x W image batch with C = 1 or 3");
  return images_u8.to(device).to(torch::kFloat32).div_(255.0);  // N x C x H x W
}

}  // namespace

void validate(const ViewConfig& view, const std::string& path) {
  validate_crop(view.crop, path + ".crop");
  check(is_probability(view.flip), path + ".flip", "a probability in [0, 1]");
  validate_jitter(view.jitter, path + ".jitter");
  check(is_probability(view.grayscale), path + ".grayscale", "a probability in [0, 1]");
  validate_blur(view.blur, path + ".blur");
  check(is_probability(view.solarize.p), path + ".solarize.p", "a probability in [0, 1]");
  check(view.solarize.threshold >= 0 && view.solarize.threshold <= 1,
        path + ".solarize.threshold", "a number in [0, 1]");
  check(view.mean.size() == 1 || view.mean.size() == 3, path + ".mean", "1 or 3 numbers");
  check((view.std.size() == 1 || view.std.size() == 3) && all_positive(view.std), path + ".std",
        "1 or 3 numbers > 0");
  check(view.repeat >= 1, path + ".repeat", "a count >= 1");
}

std::vector<torch::Tensor> apply_views(const torch::Tensor& images_u8, const std::vector<ViewConfig>& views,
                                       at::Generator& gen, torch::Device device) {
  std::vector<torch::Tensor> out;
  for (const auto& view : views)
    for (int64_t i = 0; i < view.repeat; ++i) out.push_back(apply_view(images_u8, view, gen, device));
  return out;
}

int64_t count_views(const std::vector<ViewConfig>& views) {
  int64_t n = 0;
  for (const auto& view : views) n += view.repeat;
  return n;
}

namespace {

// Everything of a view after its crop and flip: jitter, grayscale, blur, solarize, normalise.
torch::Tensor finish_view(torch::Tensor x, const ViewConfig& view, at::Generator& gen) {
  const auto& j = view.jitter;
  x = color_jitter(x, j.brightness, j.contrast, j.saturation, j.hue, j.p, gen);
  x = random_grayscale(x, view.grayscale, gen);
  const auto& b = view.blur;
  x = gaussian_blur(x, b.p, b.sigma[0], b.sigma[1], b.kernel_size, gen);
  x = solarize(x, view.solarize.p, view.solarize.threshold, gen);
  return normalize(x, view.mean, view.std);
}

void check_pairs(const ViewConfig& view) {
  const auto& c = view.crop;
  if (c.scale.size() != 2 || c.ratio.size() != 2 || view.blur.sigma.size() != 2)
    throw Error("augment: crop.scale, crop.ratio and blur.sigma need two numbers each");
}

}  // namespace

torch::Tensor apply_view(const torch::Tensor& images_u8, const ViewConfig& view,
                         at::Generator& gen, torch::Device device) {
  check_pairs(view);
  auto x = to_unit_float(images_u8, device);  // N x C x H x W
  const auto& c = view.crop;
  const int64_t out_h = c.size > 0 ? c.size : x.size(2), out_w = c.size > 0 ? c.size : x.size(3);
  x = random_resized_crop(x, out_h, out_w, c.scale[0], c.scale[1], c.ratio[0], c.ratio[1],
                          view.flip, gen);  // N x C x out_h x out_w
  return finish_view(x, view, gen);
}

std::vector<torch::Tensor> apply_views_to_crops(const std::vector<torch::Tensor>& crops_u8,
                                                const std::vector<ViewConfig>& views, at::Generator& gen,
                                                torch::Device device) {
  std::vector<torch::Tensor> out;
  size_t next = 0;
  for (const auto& view : views) {
    check_pairs(view);
    for (int64_t r = 0; r < view.repeat; ++r) out.push_back(finish_view(to_unit_float(crops_u8.at(next++), device), view, gen));
  }
  return out;
}

std::vector<data::CropSpec> crop_specs(const std::vector<ViewConfig>& views) {
  std::vector<data::CropSpec> specs;
  for (const auto& view : views) {
    check_pairs(view);
    const auto& c = view.crop;
    for (int64_t r = 0; r < view.repeat; ++r) specs.push_back({c.size, c.scale[0], c.scale[1], c.ratio[0], c.ratio[1], view.flip});
  }
  return specs;
}

torch::Tensor prepare_eval(const torch::Tensor& images_u8, const ViewConfig& view,
                           torch::Device device) {
  namespace F = torch::nn::functional;
  auto x = to_unit_float(images_u8, device);  // N x C x H x W
  const int64_t size = view.crop.size;
  if (size > 0 && (x.size(2) != size || x.size(3) != size)) {
    x = F::interpolate(x, F::InterpolateFuncOptions()
                              .size(std::vector<int64_t>{size, size})
                              .mode(torch::kBilinear)
                              .align_corners(false));  // N x C x size x size
  }
  return normalize(x, view.mean, view.std);
}

data::BatchTransform views_transform(std::vector<ViewConfig> views, torch::Device device) {
  return [views = std::move(views), device](data::Batch& b, at::Generator& gen) {
    b.views = b.crops.empty() ? apply_views(b.images, views, gen, device) : apply_views_to_crops(b.crops, views, gen, device);
  };
}

}  // namespace selfsup::augment
