// One optimisation step exactly as the trainer runs it, shared by the training loop and by
// `selfsup bench step` so that what is benchmarked is what trains.
#pragma once

#include <functional>

#include "selfsup/train/data_parallel.h"
#include "selfsup/train/optimizer.h"
#include "selfsup/train/task.h"

namespace selfsup::train {

// The model's loss on `batch`, backward, optional gradient clipping (grad_clip > 0, logged as
// "grad_norm"), the optimiser step and the model's after_step. `after_backward` runs between the
// backward pass and clipping (the trainer's gradient-norm log). Returns the loss value and the
// model's logs. A non-finite loss throws `Diverged` before anything is updated. With `bf16` the
// forward pass runs under autocast (train/precision.h); backward follows the forward's dtypes.
// With several processes (core/distributed.h) the loss and logs are averaged over them before the
// finiteness check, so every process stops on the same step, and `averager` (constructed on the
// optimiser's parameters) averages the gradients before clipping and the step.
struct StepResult {
  double loss = 0;
  std::map<std::string, double> logs;
};
// The seed of a step's generator (StepContext::generator: BN shuffle, caption draws, noise): a pure
// function of the run's seed, the epoch and the step within it, so a resumed run draws the same.
uint64_t step_seed(int64_t seed, int64_t epoch, int64_t step);

StepResult optimisation_step(Model& model, Optimizer& optimizer, const data::Batch& batch, StepContext& ctx,
                             double grad_clip, bool bf16 = false, const std::function<void()>& after_backward = {},
                             GradientAverager* averager = nullptr);

}  // namespace selfsup::train
