#include "selfsup/train/recipe.h"

#include <yaml-cpp/yaml.h>

#include <functional>
#include <map>
#include <sstream>

#include "selfsup/core/config.h"
#include "selfsup/core/error.h"
#include "selfsup/core/fs.h"
#include "selfsup/train/task.h"

namespace selfsup {

void AugmentConfig::visit(config::Visitor& v) {
  v.list("views", views, "one augmentation pipeline per view (MoCo uses two; the first one's mean/std also normalise evaluation images)");
}

void TrainConfig::visit(config::Visitor& v) {
  v("epochs", epochs, "passes over the training set", config::at_least_one);
  v("batch_size", batch_size, "images per step (the last incomplete batch of an epoch is dropped)", config::at_least(2));
  v.section("optimizer", optimizer, "optimiser");
  v.section("schedule", schedule, "learning-rate schedule");
  v("grad_clip", grad_clip, "clip the global gradient norm to this value (0 = off)", config::non_negative);
  v("grad_norms", grad_norms, "write each step's gradient norm per layer group (before clipping) to runs/NAME/grad_norms.csv");
  v("checkpoint_every", checkpoint_every, "write runs/NAME/checkpoint.pt every N epochs (and always at the end)", config::at_least_one);
  v("knn_every", knn_every, "run the kNN evaluation every N epochs and log it (0 = only at the end)", config::non_negative);
  v("log_every", log_every, "steps between progress lines when the output is not a terminal", config::at_least_one);
  v("checkpoint_every_steps", checkpoint_every_steps, "also write the checkpoint every N steps inside an epoch (0 = only at epoch ends); --resume then continues mid-epoch, with the same batches", config::non_negative);
  v("stop_after_steps", stop_after_steps, "stop (with a checkpoint) after this many steps of this invocation, even mid-epoch (0 = no limit); for time-limited jobs", config::non_negative);
  v("stop_after_epochs", stop_after_epochs, "stop (with a checkpoint) after this many epochs of this invocation, keeping the schedule of `epochs` (0 = run to the end); for time-sliced training", config::non_negative);
}

void KnnConfig::visit(config::Visitor& v) {
  v("k", k, "neighbours that vote (InstDisc / MoCo protocol: 200)", config::at_least_one);
  v("temperature", temperature, "votes are weighted by exp(cosine / temperature) (0.1)", config::positive);
}

void LinearConfig::visit(config::Visitor& v) {
  v("epochs", epochs, "epochs of logistic regression on the frozen, standardised features", config::at_least_one);
  v("batch_size", batch_size, "mini-batch size of the logistic regression", config::at_least_one);
  v("lr", lr, "Adam learning rate (cosine-decayed)", config::positive);
  v("weight_decay", weight_decay, "L2 penalty on the classifier weights", config::non_negative);
}

void FinetuneConfig::visit(config::Visitor& v) {
  v("at_end", at_end, "also fine-tune when training ends (and the random-init baseline: supervised training from scratch on the same labels)");
  v("label_fraction", label_fraction, "fraction of each class's training labels used (SimCLR: 0.01 and 0.1)", config::Range{0, 1, true, false});
  v("epochs", epochs, "epochs over the labelled subset", config::at_least_one);
  v("batch_size", batch_size, "images per step", config::at_least(2));
  v("optimizer", optimizer, "sgd (momentum 0.9, Nesterov) or adamw (betas 0.9, 0.999)");
  v("lr", lr, "learning rate of the classifier (and of the encoder times backbone_lr_scale), cosine-decayed to 0", config::positive);
  v("backbone_lr_scale", backbone_lr_scale, "the encoder's learning rate relative to lr (a pretrained encoder often gets less)",
    config::positive);
  v("weight_decay", weight_decay, "weight decay on weights (not biases / norms)", config::non_negative);
  v("classes", classes, "fine-tune and test on these classes only (names of the dataset's classes, e.g. [Shirt, Coat]); [] = all");
  v("seed", seed, "seed of the labelled subset, classifier and augmentation; -1 = the recipe's seed", config::at_least(-1));
}

void EvalConfig::visit(config::Visitor& v) {
  v.section("knn", knn, "weighted kNN on L2-normalised backbone features");
  v.section("linear", linear, "linear probe on frozen backbone features");
  v.section("finetune", finetune, "fine-tuning of the whole encoder + a linear classifier on a fraction of the labels (selfsup eval finetune)");
  v("at_end", at_end, "evaluate (kNN + linear) when training ends");
  v("baselines", baselines, "at the end, also evaluate raw pixels and the randomly initialised network (CLIP on emoji: raw pixels on the label protocol)");
  v("few_labels", few_labels, "also run kNN and the linear probe with only these fractions of the training labels, e.g. [0.01] "
                              "(a class-balanced subset chosen by the recipe's seed; the probe takes as many steps as with all "
                              "labels): where pretraining matters most");
  v("batch_size", batch_size, "images per forward pass when extracting features", config::at_least_one);
  v("image_size", image_size, "evaluate at this square size (0 = the dataset's own size, whatever the training crops were)", config::non_negative);
}

void Recipe::visit(config::Visitor& v) {
  v("task", task, "what to train: ssl (self-supervised image pretraining, method section), clip (image-text, clip section), diffusion (class-conditional DDPM with classifier-free training, diffusion section), noisy_classifier (p(y | x_t, t) for classifier guidance) or classifier (a supervised classifier, e.g. the judge of generated samples)");
  v("name", name, "run name: outputs go to run_dir/name/");
  v("seed", seed, "seed of every random choice (init, shuffling, augmentation, BN shuffle)");
  v("threads", threads, "LibTorch intra-op threads (0 = all cores)", config::non_negative);
  v("device", device, "cpu, cuda or cuda:N");
  v("precision", precision, "training arithmetic: fp32, bf16 (autocast: matrix products and convolutions in bfloat16, weights, "
                            "optimiser and losses in fp32) or auto (bf16 where it is measured faster: CUDA, CPUs with AMX, AMD "
                            "CPUs with AVX512-BF16; fp32 elsewhere, e.g. an Intel Xeon with AVX512-BF16 but no AMX, where "
                            "it was slower: docs/performance.md)");
  v("run_dir", run_dir, "folder holding one sub-folder per run");
  v.section("data", data, "training and evaluation data");
  v.section("model", model, "backbone network");
  v.section("augment", augment, "augmentation pipelines");
  sections.visit(v);
  v.section("train", train, "optimisation");
  v.section("eval", eval, "evaluation protocol");
}

namespace {

struct SectionType {
  std::string key, doc;
  std::function<std::unique_ptr<config::DynamicSection>()> make;
};

std::vector<SectionType>& section_types() {
  static std::vector<SectionType> types;
  return types;
}

}  // namespace

void register_recipe_section(const std::string& key, const std::string& doc,
                             std::function<std::unique_ptr<config::DynamicSection>()> make) {
  for (const auto& t : section_types())
    if (t.key == key) throw Error("recipe section '" + key + "' is registered twice");
  section_types().push_back({key, doc, std::move(make)});
}

Recipe::Recipe() {
  for (const auto& t : section_types()) sections.add(t.key, t.doc, t.make());
}

void RecipeCheck::fail(const std::string& key, const std::string& what) const {
  throw Error(origin + ": " + key + ": " + what);
}

void RecipeCheck::temperature(const std::string& key, double t) const {
  if (t <= 0) fail(key, "expected a positive temperature");
}

void RecipeCheck::momentum(const std::string& key, double m) const {
  if (m < 0 || m > 1) fail(key, "expected a value in [0, 1]");
}

void RecipeCheck::views(const Recipe& r, int64_t n, const std::string& who) const {
  if (augment::count_views(r.augment.views) != n)
    fail("augment.views", who + " needs exactly " + std::to_string(n) + (n == 1 ? " view" : " views"));
}

void validate(const Recipe& r, const std::string& origin) {
  const RecipeCheck check{origin};
  // The run folder is run_dir/name: a name that is not one plain folder name would write elsewhere.
  if (r.name.empty() || r.name == "." || r.name == ".." || r.name.find('/') != std::string::npos)
    check.fail("name", "expected one plain folder name (no '/', not '.' or '..'), got '" + r.name + "'");
  if (r.precision != "fp32" && r.precision != "bf16" && r.precision != "auto")
    check.fail("precision", "expected fp32, bf16 or auto, got '" + r.precision + "'");
  if (r.train.epochs <= 0) check.fail("train.epochs", "expected a positive number of epochs");
  if (r.train.batch_size <= 1) check.fail("train.batch_size", "expected at least 2 images per batch");
  if (r.train.checkpoint_every <= 0) check.fail("train.checkpoint_every", "expected a positive number of epochs");
  if (r.augment.views.empty()) check.fail("augment.views", "expected at least one view");
  for (size_t i = 0; i < r.augment.views.size(); ++i)
    augment::validate(r.augment.views[i], "augment.views." + std::to_string(i));
  const auto* task = train::find_task_type(r.task);
  if (!task) check.fail("task", "expected " + train::task_type_names() + ", got '" + r.task + "'");
  task->validate(r, check);
}

Recipe parse_recipe(const std::string& text, const std::string& origin, const std::vector<std::string>& overrides) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw Error(origin + ": line " + std::to_string(e.mark.line + 1) + ": invalid YAML: " + e.msg);
  }
  if (!root || root.IsNull()) root = YAML::Node(YAML::NodeType::Map);
  if (!overrides.empty()) root = config::expand_aliases(root);
  for (const auto& o : overrides) config::apply_override(root, o);
  Recipe recipe;
  config::from_yaml(root, recipe, origin);
  validate(recipe, origin);
  return recipe;
}

Recipe load_recipe(const std::string& path, const std::vector<std::string>& overrides) {
  const auto text = read_file(path, "recipe file");
  // An empty or comment-only file would silently run the built-in defaults.
  const YAML::Node root = [&] {
    try {
      return YAML::Load(text);
    } catch (const YAML::Exception&) {
      return YAML::Node(YAML::NodeType::Map);  // parse_recipe reports the syntax error with its line
    }
  }();
  if (!root || root.IsNull()) throw Error(path + ": empty recipe: expected YAML sections (task, data, model, ...)");
  return parse_recipe(text, path, overrides);
}

std::string recipe_to_yaml(Recipe recipe) { return config::to_yaml(recipe); }

namespace {

// Every scalar of a YAML tree under its dotted key (list items by index), as flow text.
void flatten(const YAML::Node& node, const std::string& key, std::map<std::string, std::string>& out) {
  if (node.IsMap()) {
    for (const auto& kv : node) flatten(kv.second, (key.empty() ? "" : key + ".") + kv.first.as<std::string>(), out);
  } else if (node.IsSequence() && !node.IsNull()) {
    bool scalars = true;
    for (const auto& item : node) scalars = scalars && item.IsScalar();
    if (scalars) {  // a list of numbers or names is one value: [0.2, 1]
      YAML::Emitter e;
      e << YAML::Flow << node;
      out[key] = e.c_str();
    } else {
      for (size_t i = 0; i < node.size(); ++i) flatten(node[i], key + "." + std::to_string(i), out);
    }
  } else {
    out[key] = node.IsNull() ? "null" : node.Scalar();
  }
}

}  // namespace

std::vector<std::string> recipe_differences(const std::string& a_yaml, const std::string& b_yaml) {
  std::map<std::string, std::string> a, b;
  flatten(YAML::Load(a_yaml), "", a);
  flatten(YAML::Load(b_yaml), "", b);
  std::vector<std::string> out;
  auto value = [](const std::map<std::string, std::string>& m, const std::string& key) {
    const auto it = m.find(key);
    return it == m.end() ? std::string("(none)") : it->second;
  };
  std::map<std::string, bool> keys;
  for (const auto& kv : a) keys[kv.first] = true;
  for (const auto& kv : b) keys[kv.first] = true;
  for (const auto& [key, unused] : keys)
    if (value(a, key) != value(b, key)) out.push_back(key + ": " + value(a, key) + " -> " + value(b, key));
  return out;
}

data::LoaderOptions training_loader_options(const Recipe& r, const data::ImageDataset& train) {
  data::LoaderOptions o;
  o.batch_size = r.train.batch_size;
  o.seed = static_cast<uint64_t>(r.seed);
  o.workers = r.data.workers;
  o.prefetch = r.data.prefetch;
  if (train.streamed()) {
    o.crops = augment::crop_specs(r.augment.views);
    o.skip_bad_files = r.data.on_bad_file == "skip";
  }
  return o;
}

}  // namespace selfsup
