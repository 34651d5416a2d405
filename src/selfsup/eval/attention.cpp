#include "selfsup/eval/attention.h"

#include "selfsup/io/png.h"

namespace selfsup::eval {

torch::Tensor attention_figure(models::Vit& vit, const torch::Tensor& images_u8, const augment::ViewConfig& view,
                               int64_t scale, torch::Device device) {
  torch::NoGradGuard no_grad;
  const bool was_training = vit.is_training();
  vit.eval();
  const auto x = augment::prepare_eval(images_u8, view, device);
  const auto attention = vit.last_attention(x).to(torch::kCPU);  // N x heads x gh x gw
  vit.train(was_training);
  // What the network saw, without the normalisation, enlarged for the eye.
  auto shown = x.to(torch::kCPU);
  const auto mean = torch::tensor(view.mean).view({1, -1, 1, 1}), std = torch::tensor(view.std).view({1, -1, 1, 1});
  shown = (shown * std.to(torch::kFloat) + mean.to(torch::kFloat)).clamp(0, 1);
  shown = torch::nn::functional::interpolate(
      shown, torch::nn::functional::InterpolateFuncOptions().scale_factor(std::vector<double>{1.0 * scale, 1.0 * scale})
                 .mode(torch::kNearest));
  std::vector<torch::Tensor> tiles;
  const int64_t heads = attention.size(1);
  for (int64_t i = 0; i < x.size(0); ++i) {
    const auto image = shown[i].expand({3, -1, -1});
    tiles.push_back(image);
    tiles.push_back(io::heat_overlay(image, attention[i].mean(0)));
    for (int64_t h = 0; h < heads; ++h) tiles.push_back(io::heat_overlay(image, attention[i][h]));
  }
  return io::image_grid(tiles, heads + 2);
}

}  // namespace selfsup::eval
