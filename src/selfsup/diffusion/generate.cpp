#include "selfsup/diffusion/generate.h"

#include "selfsup/core/progress.h"
#include "selfsup/data/loader.h"
#include "selfsup/io/png.h"

namespace selfsup::diffusion {

torch::Tensor to_uint8(const torch::Tensor& x) {
  return ((x.detach().cpu().clamp(-1, 1) + 1) * 127.5).round().to(torch::kUInt8);
}

torch::Tensor generate(DiffusionModel& model, const torch::Tensor& labels, const SampleOptions& options,
                       int64_t batch_size, torch::Device device) {
  const auto net = model.denoiser();
  const int64_t n = labels.size(0), chunks = (n + batch_size - 1) / batch_size;
  const std::vector<int64_t> shape{model.channels, model.image_side, model.image_side};
  std::vector<torch::Tensor> out;
  Progress progress("sampling " + std::to_string(n) + " images", chunks, 1);
  for (int64_t i = 0; i < chunks; ++i) {
    SampleOptions o = options;
    o.seed = data::mix_seed(options.seed, static_cast<uint64_t>(i));
    o.progress = options.progress && chunks == 1;
    const auto images = sample(net, model.schedule, model.config.prediction, model.null_class(),
                               labels.slice(0, i * batch_size, (i + 1) * batch_size), shape, o, device);
    out.push_back(to_uint8(images));
    if (options.progress && chunks > 1) progress.update(i + 1, std::to_string(out.size() * batch_size) + " images");
  }
  if (options.progress && chunks > 1) progress.finish(std::to_string(n) + " images");
  return torch::cat(out);
}

torch::Tensor sample_grid(const torch::Tensor& images_u8, int64_t columns, int64_t scale) {
  std::vector<torch::Tensor> tiles;
  for (int64_t i = 0; i < images_u8.size(0); ++i) {
    auto tile = images_u8[i].to(torch::kFloat) / 255.0;
    if (tile.size(0) == 1) tile = tile.expand({3, tile.size(1), tile.size(2)});
    if (scale > 1) tile = tile.repeat_interleave(scale, 1).repeat_interleave(scale, 2);
    tiles.push_back(tile.contiguous());
  }
  return io::image_grid(tiles, columns);
}

}  // namespace selfsup::diffusion
