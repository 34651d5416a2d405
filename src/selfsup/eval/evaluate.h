// The evaluation protocol applied to a backbone (or to raw pixels): kNN and linear probe on the
// recipe's train/test splits, with the recipe's settings.
#pragma once

#include <limits>
#include <memory>

#include "selfsup/data/dataset.h"
#include "selfsup/eval/finetune.h"
#include "selfsup/models/backbone.h"
#include "selfsup/train/recipe.h"

namespace selfsup::eval {

struct EvalResult {
  double knn = std::numeric_limits<double>::quiet_NaN();     // top-1 in [0, 1]; NaN = not run
  double linear = std::numeric_limits<double>::quiet_NaN();  // top-1 in [0, 1]; NaN = not run
  double finetune = std::numeric_limits<double>::quiet_NaN();  // top-1 in [0, 1]; NaN = not run
  FinetuneResult finetune_run;  // per-epoch curves and counts of the fine-tuning
  double seconds = 0;
};

// backbone == nullptr evaluates the raw-pixel baseline (no fine-tuning). Fine-tuning trains a
// copy of the weights: the backbone is unchanged afterwards.
EvalResult evaluate(models::Backbone* backbone, const Recipe& recipe, const data::ImageDataset& train,
                    const data::ImageDataset& test, torch::Device device, bool knn, bool linear,
                    bool finetune = false, bool finetune_test_every_epoch = false);

}  // namespace selfsup::eval
