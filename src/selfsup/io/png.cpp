#include "selfsup/io/png.h"

#include "selfsup/core/error.h"
#include "selfsup/core/fs.h"

#include <stb_image_write.h>

#include <algorithm>
#include <filesystem>

namespace selfsup::io {

void write_png(const std::string& path, const torch::Tensor& image) { atomic_write(path, encode_png(image, path)); }

std::string encode_png(const torch::Tensor& image, const std::string& path) {
  if (image.dim() != 3 || (image.size(0) != 1 && image.size(0) != 3))
    throw Error(path + ": expected a 1 or 3 x H x W image to write");
  const auto hwc = (image.detach().to(torch::kCPU, torch::kFloat).clamp(0, 1) * 255).round().to(torch::kUInt8)
                       .permute({1, 2, 0}).contiguous();
  const int h = static_cast<int>(hwc.size(0)), w = static_cast<int>(hwc.size(1)), c = static_cast<int>(hwc.size(2));
  std::string png;
  const auto append = [](void* context, void* data, int size) {
    static_cast<std::string*>(context)->append(static_cast<const char*>(data), static_cast<size_t>(size));
  };
  if (!stbi_write_png_to_func(append, &png, w, h, c, hwc.data_ptr<uint8_t>(), w * c))
    throw Error(path + ": cannot encode PNG");
  return png;
}

torch::Tensor image_grid(const std::vector<torch::Tensor>& tiles, int64_t columns, int64_t pad) {
  if (tiles.empty()) throw Error("image grid: no images");
  const int64_t h = tiles[0].size(1), w = tiles[0].size(2), n = static_cast<int64_t>(tiles.size());
  columns = std::max<int64_t>(1, std::min(columns, n));
  const int64_t rows = (n + columns - 1) / columns;
  auto grid = torch::ones({3, rows * (h + pad) + pad, columns * (w + pad) + pad});
  for (int64_t i = 0; i < n; ++i) {
    const int64_t y = pad + (i / columns) * (h + pad), x = pad + (i % columns) * (w + pad);
    grid.slice(1, y, y + h).slice(2, x, x + w).copy_(tiles[i].to(torch::kCPU, torch::kFloat).expand({3, h, w}));
  }
  return grid;
}

torch::Tensor heat_overlay(const torch::Tensor& image, const torch::Tensor& heat) {
  const int64_t h = image.size(1), w = image.size(2);
  auto v = heat.detach().to(torch::kCPU, torch::kFloat);
  v = v / v.max().clamp_min(1e-12);
  v = torch::nn::functional::interpolate(v.view({1, 1, v.size(0), v.size(1)}),
                                         torch::nn::functional::InterpolateFuncOptions()
                                             .size(std::vector<int64_t>{h, w})
                                             .mode(torch::kNearest))
          .view({h, w});
  const auto hot = torch::stack({(3 * v).clamp(0, 1), (3 * v - 1).clamp(0, 1), (3 * v - 2).clamp(0, 1)});
  return 0.5 * image.to(torch::kCPU, torch::kFloat).expand({3, h, w}) + 0.5 * hot;
}

}  // namespace selfsup::io
