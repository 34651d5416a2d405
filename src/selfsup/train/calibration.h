// `selfsup bench`: how fast this machine trains, as one number comparable across machines and
// days, plus the peaks a roofline needs. The yardstick is the project's time-budget calibration:
// ResNet-18 with the small stem at width 0.25 (16-32-64-128), batch 256 of 1x28x28, forward +
// cross-entropy + backward + SGD step; the reference machine does 1,273 images/s on 2 threads.
#pragma once

#include <cstdint>
#include <functional>

namespace selfsup::train {

// Forward + backward FLOPs of one calibration image, counted layer by layer by
// bench/reference/flops.py (57.1 M forward, 114.1 M backward).
inline constexpr double kCalibrationFlopsPerImage = 171.213312e6;
inline constexpr double kReferenceImagesPerSecond = 1273;

struct Calibration {
  double images_per_second = 0;  // the calibration step (median of the timed steps)
  double step_gflops = 0;        // its achieved GFLOP/s
  // Peaks for the roofline (GFLOP/s, median of repeats): a 2048^3 matrix product and a 3x3
  // convolution (64 -> 64 channels, 14x14, batch 256, channels-last) forward, fp32 and bf16.
  double gemm_fp32 = 0, gemm_bf16 = 0, conv_fp32 = 0, conv_bf16 = 0;
  double budget_factor() const { return kReferenceImagesPerSecond / images_per_second; }
};

// Median seconds of `repeats` calls of `f` after one untimed call (every benchmark here times so).
double median_seconds(const std::function<void()>& f, int64_t repeats);

// Runs the calibration step (`steps` timed after 2 warm-up steps) and, with `peaks`, the
// microbenchmarks; on the threads LibTorch currently uses.
Calibration calibrate(int64_t steps = 5, bool peaks = true);

}  // namespace selfsup::train
