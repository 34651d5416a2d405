// Self-supervised pretraining as a trainer task: the recipe's image dataset, the method it names,
// kNN during training and kNN / linear probe (/ fine-tuning, baselines) at the end.
#pragma once

#include <memory>

#include "selfsup/train/task.h"

namespace selfsup::ssl {

std::unique_ptr<train::Task> make_ssl_task(const Recipe& recipe, torch::Device device);

}  // namespace selfsup::ssl
