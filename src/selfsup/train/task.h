// What the trainer trains. A Model turns a batch into a loss (each self-supervised method, CLIP);
// a Task owns the training data, builds the Model and judges it during and after training. The
// trainer (trainer.cpp) owns everything else: loop, optimiser, schedule, checkpoints, metrics files.
#pragma once

#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "selfsup/data/loader.h"
#include "selfsup/train/optimizer.h"

namespace selfsup {
struct Recipe;
struct RecipeCheck;
}

namespace selfsup::train {

struct StepContext {
  int64_t epoch = 0;
  int64_t global_step = 0;
  int64_t total_steps = 1;
  at::Generator generator;  // seeded per (seed, epoch, step): model-side randomness (BN shuffle, captions)
  double progress() const { return static_cast<double>(global_step) / static_cast<double>(total_steps); }
};

struct StepOutput {
  torch::Tensor loss;
  std::map<std::string, double> logs;  // e.g. "spread" (collapse signal), "acc" (positive ranked first)
};

class Model : public torch::nn::Module {
 public:
  virtual StepOutput training_step(const data::Batch& batch, StepContext& ctx) = 0;
  // After optimizer.step(): momentum encoders, queues that must see the updated weights, clamps.
  virtual void after_step(StepContext& ctx) {}
  // What the optimiser updates (default: every parameter that requires grad).
  virtual std::vector<NamedParameter> optimizer_parameters() { return trainable_parameters(*this); }
};

class Task {
 public:
  virtual ~Task() = default;
  // The images the loader batches (each batch's views come from the recipe's augment.views).
  virtual const data::ImageDataset& train_images() const = 0;
  // One id per training image whose sharers the loader keeps in the same batch
  // (LoaderOptions::groups); undefined (the default): plain shuffling.
  virtual torch::Tensor batch_groups() const { return {}; }
  virtual std::shared_ptr<Model> model() = 0;
  virtual std::string describe_model() const = 0;  // one line for metrics.json
  virtual std::string method_name() const { return ""; }  // metrics.json's "method" (empty: the task's name)
  // Columns of the per-epoch evaluation in metrics.csv (SSL: knn_top1), and their values after
  // `epochs_done` epochs (empty when this epoch is not evaluated).
  virtual std::vector<std::string> epoch_metric_names() const = 0;
  virtual std::map<std::string, double> evaluate_epoch(int64_t epochs_done) = 0;
  // The final evaluation, merged into metrics.json (e.g. {"eval": ..., "baselines": ...}).
  virtual nlohmann::json evaluate_final() = 0;
  // Bytes a checkpoint must carry besides tensors to rebuild the model (CLIP: its tokenizer).
  virtual std::map<std::string, std::string> checkpoint_extras() const { return {}; }
};

// Bytes a checkpoint carries besides tensors (Task::checkpoint_extras).
using Extras = std::map<std::string, std::string>;

// A kind of task a recipe can name (recipe.task). Each task folder registers its own (ssl, clip,
// diffusion); the trainer knows only this interface.
struct TaskType {
  std::string name;
  // The task's checks of a recipe that names it (its section, views, data).
  std::function<void(const Recipe&, const RecipeCheck&)> validate;
  // `extras` come from a checkpoint being resumed (empty for a fresh run).
  std::function<std::unique_ptr<Task>(const Recipe&, torch::Device, const Extras& extras)> make;
};

void register_task_type(TaskType type);
// The registered task called `name`, or nullptr.
const TaskType* find_task_type(const std::string& name);
// "ssl, clip, ... or classifier", for messages.
std::string task_type_names();

// The task the recipe names.
std::unique_ptr<Task> make_task(const Recipe& recipe, torch::Device device, const Extras& extras = {});

}  // namespace selfsup::train
