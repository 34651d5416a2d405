// Self-supervised pretraining as a trainer task: the recipe's image dataset, the method it names,
// kNN during training and kNN / linear probe (/ fine-tuning, baselines) at the end.
#pragma once

#include <memory>

#include "selfsup/ssl/method.h"
#include "selfsup/train/checkpoint.h"
#include "selfsup/train/task.h"

namespace selfsup::ssl {

// Registers the recipe's method section and task ssl (selfsup::register_builtin() calls it).
void register_task();

// The method of a trained SSL run, rebuilt from its stored recipe with its weights loaded (on CPU).
std::shared_ptr<Method> load_trained_method(const train::StoredRun& run, int64_t in_channels);

}  // namespace selfsup::ssl
