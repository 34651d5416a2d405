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

// kNN and linear probe with a fraction of the training labels (eval.few_labels).
struct FewLabelResult {
  double fraction = 0;
  int64_t labelled_images = 0;
  double knn = 0, linear = 0;  // top-1 in [0, 1]
};

// "1%" for 0.01, "0.5%" for 0.005: the key of a FewLabelResult in metrics.json.
std::string percent_label(double fraction);

struct EvalResult {
  double knn = std::numeric_limits<double>::quiet_NaN();     // top-1 in [0, 1]; NaN = not run
  double linear = std::numeric_limits<double>::quiet_NaN();  // top-1 in [0, 1]; NaN = not run
  double finetune = std::numeric_limits<double>::quiet_NaN();  // top-1 in [0, 1]; NaN = not run
  FinetuneResult finetune_run;  // per-epoch curves and counts of the fine-tuning
  std::vector<FewLabelResult> few_labels;  // with knn and linear only
  double seconds = 0;
};

// backbone == nullptr evaluates the raw-pixel baseline (no fine-tuning). Fine-tuning trains a
// copy of the weights: the backbone is unchanged afterwards.
EvalResult evaluate(models::Backbone* backbone, const Recipe& recipe, const data::ImageDataset& train,
                    const data::ImageDataset& test, torch::Device device, bool knn, bool linear,
                    bool finetune = false, bool finetune_test_every_epoch = false);

}  // namespace selfsup::eval
