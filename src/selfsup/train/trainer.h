// The training loop shared by every method: data → views → method loss → optimiser, with the
// lr schedule, gradient clipping, NaN guard, checkpoints, resume, progress, metrics files and the
// final evaluation. Outputs go to recipe.run_dir/recipe.name/:
//   recipe.yaml (resolved), metrics.csv (one row per epoch), metrics.json (final), checkpoint.pt
#pragma once

#include <nlohmann/json.hpp>

#include <stdexcept>
#include <string>

#include "selfsup/train/recipe.h"

namespace selfsup::train {

// Training stopped because the loss stopped being finite; the last good checkpoint is kept.
class Diverged : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Runs (or with `resume`, continues) the recipe's training; returns what metrics.json holds. A run
// folder that already holds a checkpoint is refused unless the run resumes it or `overwrite` says
// to start over (the old checkpoint and logs are then deleted first).
// Started by a launcher (torchrun, SLURM, scripts/launch.sh: core/distributed.h), the process joins
// the others and trains its part of every global batch; rank 0 prints, writes the run folder and
// evaluates. `timeout_seconds` bounds waiting for another process (rendezvous, every collective).
nlohmann::json run_training(const Recipe& recipe, bool resume, bool overwrite = false, int64_t timeout_seconds = 600);

// Prints "name  kNN  linear" rows for the final numbers in `metrics` (and baselines, if present).
std::string format_results(const nlohmann::json& metrics);

}  // namespace selfsup::train
