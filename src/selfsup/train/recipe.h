// The recipe: everything one experiment needs, as typed and validated structs read from YAML
// (recipes/*.yaml) plus key=value overrides. The resolved recipe is saved in the run folder and
// inside every checkpoint, so a checkpoint alone can rebuild its model.
//
// This file holds the sections every task shares (data, model, augment, train, eval). A task's own
// section (method for ssl, clip, diffusion) is defined by that task and registered with
// register_recipe_section(); selfsup::register_builtin() (selfsup/builtin.h) registers them all.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "selfsup/augment/pipeline.h"
#include "selfsup/data/loader.h"
#include "selfsup/data/source.h"
#include "selfsup/models/registry.h"
#include "selfsup/train/optimizer.h"
#include "selfsup/train/schedule.h"

namespace selfsup {

struct AugmentConfig {
  std::vector<augment::ViewConfig> views{2};
  void visit(config::Visitor& v);
};

struct TrainConfig {
  int64_t epochs = 100;
  int64_t batch_size = 256;
  train::OptimizerConfig optimizer;
  train::ScheduleConfig schedule;
  double grad_clip = 0;
  bool grad_norms = false;
  int64_t checkpoint_every = 10;
  int64_t knn_every = 0;
  int64_t log_every = 50;
  int64_t stop_after_epochs = 0;
  int64_t checkpoint_every_steps = 0;
  int64_t stop_after_steps = 0;
  void visit(config::Visitor& v);
};

struct KnnConfig {
  int64_t k = 200;
  double temperature = 0.1;
  void visit(config::Visitor& v);
};

struct LinearConfig {
  int64_t epochs = 100;
  int64_t batch_size = 1024;
  double lr = 1e-3;
  double weight_decay = 0;
  void visit(config::Visitor& v);
};

struct FinetuneConfig {
  bool at_end = false;
  double label_fraction = 0.1;
  int64_t epochs = 10;
  int64_t batch_size = 256;
  std::string optimizer = "sgd";  // sgd | adamw
  double lr = 0.05;
  double backbone_lr_scale = 1.0;
  double weight_decay = 5e-4;
  std::vector<std::string> classes;  // empty: every class
  int64_t seed = -1;                 // -1: the recipe's seed
  void visit(config::Visitor& v);
};

struct EvalConfig {
  KnnConfig knn;
  LinearConfig linear;
  FinetuneConfig finetune;
  bool at_end = true;
  bool baselines = false;
  std::vector<double> few_labels;  // also kNN and linear probe with these fractions of the labels
  int64_t batch_size = 512;
  int64_t image_size = 0;
  void visit(config::Visitor& v);
};

struct Recipe {
  std::string task = "ssl";  // a registered task: ssl | clip | diffusion | noisy_classifier | classifier
  std::string name = "run";
  int64_t seed = 0;
  int64_t threads = 0;
  std::string device = "cpu";
  std::string precision = "auto";  // fp32 | bf16 | auto (train/precision.h)
  std::string run_dir = "runs";
  data::DataConfig data;
  models::BackboneConfig model;
  AugmentConfig augment;
  config::SectionSet sections;  // every registered task section, with its defaults until read
  TrainConfig train;
  EvalConfig eval;

  Recipe();
  // A task's section by its type (T::kSection names it): recipe.section<ssl::MethodConfig>().
  template <class T>
  T& section() { return sections.get<T>(T::kSection); }
  template <class T>
  const T& section() const { return sections.get<T>(T::kSection); }
  void visit(config::Visitor& v);
};

// Registers a top-level section that every Recipe then carries (key: its YAML name). Tasks call
// this once, before any recipe is read.
void register_recipe_section(const std::string& key, const std::string& doc,
                             std::function<std::unique_ptr<config::DynamicSection>()> make);

// Validation failures name the recipe (`origin`) and the key: "recipes/x.yaml: train.epochs: ...".
struct RecipeCheck {
  std::string origin;
  [[noreturn]] void fail(const std::string& key, const std::string& what) const;
  void temperature(const std::string& key, double t) const;  // > 0
  void momentum(const std::string& key, double m) const;     // in [0, 1]
  void views(const Recipe& r, int64_t n, const std::string& who) const;  // exactly n augmented views
};

// Reads a recipe file, applies `key=value` overrides and validates the result.
// The training loader's options: batch, seed, workers, prefetch and, for streamed data, each view's
// crop and the bad-file policy.
data::LoaderOptions training_loader_options(const Recipe& r, const data::ImageDataset& train);

Recipe load_recipe(const std::string& path, const std::vector<std::string>& overrides = {});
// Parses recipe text (e.g. the copy stored in a checkpoint); `origin` names it in errors.
Recipe parse_recipe(const std::string& text, const std::string& origin, const std::vector<std::string>& overrides = {});
std::string recipe_to_yaml(Recipe recipe);
// The dotted keys whose values differ between two recipes as YAML text, each as
// "key: <value in a> -> <value in b>" (a key one side lacks shows as "(none)").
std::vector<std::string> recipe_differences(const std::string& a_yaml, const std::string& b_yaml);
// The shared checks, then the task's own (its method's, for ssl).
void validate(const Recipe& r, const std::string& origin);

}  // namespace selfsup
