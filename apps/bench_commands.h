// `selfsup bench` (this machine's calibration figure and its GEMM / convolution peaks) and
// `selfsup bench step RECIPE` (the trainer's step time for a recipe), `selfsup bench knn` (the kNN
// classifier on features of the size of Fashion-MNIST's), `bench embed` (CLIP image embedding) and
// `bench sample` (DDIM steps with classifier-free guidance). Parse, call the library, print.
#pragma once

#include <CLI/CLI.hpp>

#include <memory>
#include <string>
#include <vector>

#include "selfsup/train/recipe.h"
#include "selfsup/train/task.h"

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
  int embed();
  int sample();
  // The recipe, set up for a benchmark of its model: threads, the start-up line, the task. `task`
  // is the recipe task the command needs.
  std::unique_ptr<train::Task> open_task(const std::string& task, Recipe& recipe, torch::Device& device) const;

  CLI::App *bench_cmd_, *step_cmd_, *knn_cmd_, *embed_cmd_, *sample_cmd_;
  std::string recipe_, dump_, json_;
  std::vector<std::string> overrides_;
  int64_t threads_ = 2, steps_ = 5, step_steps_ = 20, warmup_ = 3, repeats_ = 5;
  int64_t knn_train_ = 60000, knn_test_ = 10000, knn_dim_ = 128, embed_batch_ = 512,
          sample_batch_ = 64, sample_steps_ = 10;
  bool no_peaks_ = false;
};

}  // namespace selfsup::cli
