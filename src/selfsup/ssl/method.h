// The interface every self-supervised method implements. The trainer owns the loop; a method
// turns a batch of augmented views into a loss (plus numbers worth logging) and updates its
// momentum networks after the optimiser step. backbone() is what evaluation uses.
#pragma once

#include <torch/torch.h>

#include <map>
#include <memory>
#include <string>

#include "selfsup/data/loader.h"
#include "selfsup/models/backbone.h"
#include "selfsup/train/optimizer.h"

namespace selfsup {
struct Recipe;
}

namespace selfsup::ssl {

struct StepContext {
  int64_t epoch = 0;
  int64_t global_step = 0;
  int64_t total_steps = 1;
  at::Generator generator;  // seeded per (seed, epoch, step): method-side randomness (BN shuffle)
  double progress() const { return static_cast<double>(global_step) / static_cast<double>(total_steps); }
};

struct StepOutput {
  torch::Tensor loss;
  std::map<std::string, double> logs;  // e.g. "spread" (collapse signal), "acc" (positive ranked first)
};

class Method : public torch::nn::Module {
 public:
  virtual StepOutput training_step(const data::Batch& batch, StepContext& ctx) = 0;
  // After optimizer.step(): momentum encoders, queues that must see the updated weights, ...
  virtual void after_step(StepContext& ctx) {}
  virtual std::shared_ptr<models::Backbone> backbone() = 0;
  // The network kNN / linear / fine-tune evaluation uses (SimCLR v2: backbone + first projector
  // layer). backbone() stays the plain encoder that `selfsup export` writes.
  virtual std::shared_ptr<models::Backbone> eval_encoder() { return backbone(); }
  // What the optimiser updates (default: every parameter that requires grad).
  virtual std::vector<train::NamedParameter> optimizer_parameters() { return train::trainable_parameters(*this); }
};

// Builds the method named in the recipe for images with `in_channels` channels; `train_images` is
// the size of the training set (InstDisc keeps one memory-bank row per image; others ignore it).
std::shared_ptr<Method> make_method(const Recipe& recipe, int64_t in_channels, int64_t train_images = 0);

}  // namespace selfsup::ssl
