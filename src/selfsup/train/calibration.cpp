#include "selfsup/train/calibration.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <vector>

#include "selfsup/models/resnet.h"

namespace selfsup::train {

namespace {

double gemm_gflops(torch::Dtype dtype) {
  const int64_t n = 2048;
  const auto a = torch::randn({n, n}).to(dtype), b = torch::randn({n, n}).to(dtype);
  return 2.0 * n * n * n / median_seconds([&] { torch::mm(a, b); }, 5) / 1e9;
}

double conv_gflops(torch::Dtype dtype) {
  const int64_t batch = 256, c = 64, hw = 14;
  const auto x = torch::randn({batch, c, hw, hw}).to(dtype).contiguous(at::MemoryFormat::ChannelsLast);
  const auto w = torch::randn({c, c, 3, 3}).to(dtype).contiguous(at::MemoryFormat::ChannelsLast);
  const double flops = 2.0 * batch * c * c * 9 * hw * hw;
  return flops / median_seconds([&] { torch::conv2d(x, w, {}, 1, 1); }, 5) / 1e9;
}

}  // namespace

double median_seconds(const std::function<void()>& f, int64_t repeats) {
  f();
  std::vector<double> times;
  for (int64_t i = 0; i < repeats; ++i) {
    const auto start = std::chrono::steady_clock::now();
    f();
    times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

Calibration calibrate(int64_t steps, bool peaks) {
  torch::NoGradGuard outside;  // the step below turns gradients back on for itself
  torch::manual_seed(0);
  models::ResNet model(models::ResNetOptions().depth(18).stem("small").width(0.25).in_channels(1).num_classes(10));
  model.train();
  torch::optim::SGD sgd(model.parameters(), torch::optim::SGDOptions(0.01).momentum(0.9));
  const auto x = torch::randn({256, 1, 28, 28});
  const auto y = torch::randint(0, 10, {256}, torch::kLong);
  auto step = [&] {
    torch::AutoGradMode grad(true);
    sgd.zero_grad();
    torch::nn::functional::cross_entropy(model.forward(x), y).backward();
    sgd.step();
  };
  step();  // two warm-up steps: median_seconds adds the second
  Calibration c;
  c.images_per_second = 256.0 / median_seconds(step, steps);
  c.step_gflops = c.images_per_second * kCalibrationFlopsPerImage / 1e9;
  if (peaks) {
    c.gemm_fp32 = gemm_gflops(torch::kFloat32);
    c.gemm_bf16 = gemm_gflops(torch::kBFloat16);
    c.conv_fp32 = conv_gflops(torch::kFloat32);
    c.conv_bf16 = conv_gflops(torch::kBFloat16);
  }
  return c;
}

}  // namespace selfsup::train
