// `selfsup bench` (this machine's calibration figure and its GEMM / convolution peaks) and
// `selfsup bench step RECIPE` (the trainer's step time for a recipe) and `selfsup bench knn` (the kNN
// classifier's time on features of the size of Fashion-MNIST's). Parse, call the library, print.
#pragma once

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace selfsup::cli {

class BenchCommands {
 public:
  explicit BenchCommands(CLI::App& app);
  // Runs the bench command the command line chose; false when it chose none.
  bool run(int& exit_code);

 private:
  int calibration();
  int step();
  int knn();

  CLI::App *bench_cmd_, *step_cmd_, *knn_cmd_;
  std::string recipe_, dump_, json_;
  std::vector<std::string> overrides_;
  int64_t threads_ = 2, steps_ = 5, step_steps_ = 20, warmup_ = 3, knn_train_ = 60000, knn_test_ = 10000, knn_dim_ = 128;
  bool no_peaks_ = false;
};

}  // namespace selfsup::cli
