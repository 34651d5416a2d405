// Times the trainer's optimisation step for a recipe on one fixed batch of its real data: the
// figure `selfsup bench step` prints and bench/vs_pytorch.sh compares with a PyTorch script doing
// the same step. The loader is left out on purpose (`selfsup data bench` measures it), so the
// number is the compute of the method, its model and its optimiser.
#pragma once

#include <string>
#include <vector>

#include "selfsup/train/recipe.h"

namespace selfsup::train {

struct StepBenchOptions {
  int64_t steps = 20;   // timed steps
  int64_t warmup = 3;   // untimed steps first (oneDNN primitive creation, allocator warm-up)
  // When set: a safetensors file with the model's weights and buffers before the first step, the
  // batch's views ("view.0", ...), labels and indices, and the first step's loss and generator
  // seed in its metadata, so that a reference implementation can check it computes the same loss.
  std::string dump_path;
};

struct StepBenchResult {
  int64_t batch_size = 0;
  int64_t parameters = 0;  // trainable parameters (what the optimiser updates)
  double first_loss = 0;
  std::vector<double> step_seconds;  // the timed steps
  double median_seconds = 0;
  double images_per_second = 0;  // batch_size / median step time
};

StepBenchResult bench_training_step(const Recipe& recipe, const StepBenchOptions& options);

}  // namespace selfsup::train
