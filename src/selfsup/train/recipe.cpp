#include "selfsup/train/recipe.h"

#include <yaml-cpp/yaml.h>

#include <fstream>
#include <sstream>

#include "selfsup/core/config.h"
#include "selfsup/core/error.h"

namespace selfsup {

void HeadConfig::visit(config::Visitor& v) {
  v("layers", layers, "Linear layers: 1 = a single Linear (MoCo v1), 2 = Linear-ReLU-Linear (MoCo v2 / SimCLR)");
  v("hidden_dim", hidden_dim, "width of the hidden layers");
  v("out_dim", out_dim, "embedding dimension the loss sees");
  v("batch_norm", batch_norm, "BatchNorm after each hidden Linear");
}

void MocoConfig::visit(config::Visitor& v) {
  v("queue_size", queue_size, "K, keys in the FIFO dictionary (a multiple of the batch size)");
  v("temperature", temperature, "tau of the InfoNCE softmax (v1: 0.07, v2: 0.2)");
  v("momentum", momentum, "m of the key encoder EMA at the start of training");
  v("momentum_final", momentum_final, "m at the end; values above `momentum` ramp on a cosine (MoCo v3 style)");
  v("symmetric", symmetric, "also swap the views and average the two losses (MoCo CIFAR demo: +2-3% kNN)");
  v("shuffle_bn", shuffle_bn, "shuffle the key batch across BN splits so BN cannot leak the positive pair");
  v("bn_splits", bn_splits, "BatchNorm sub-batches simulating that many GPUs (1 = ordinary BN)");
}

void MethodConfig::visit(config::Visitor& v) {
  v("name", name, "self-supervised method: moco");
  v.section("projector", projector, "projection head on top of the backbone (used for the loss only)");
  v.section("moco", moco, "MoCo v1/v2 settings");
}

void AugmentConfig::visit(config::Visitor& v) {
  v.list("views", views, "one augmentation pipeline per view (MoCo uses two; the first one's mean/std also normalise evaluation images)");
}

void TrainConfig::visit(config::Visitor& v) {
  v("epochs", epochs, "passes over the training set");
  v("batch_size", batch_size, "images per step (the last incomplete batch of an epoch is dropped)");
  v.section("optimizer", optimizer, "optimiser");
  v.section("schedule", schedule, "learning-rate schedule");
  v("grad_clip", grad_clip, "clip the global gradient norm to this value (0 = off)");
  v("checkpoint_every", checkpoint_every, "write runs/NAME/checkpoint.pt every N epochs (and always at the end)");
  v("knn_every", knn_every, "run the kNN evaluation every N epochs and log it (0 = only at the end)");
  v("log_every", log_every, "steps between progress lines when the output is not a terminal");
  v("stop_after_epochs", stop_after_epochs, "stop (with a checkpoint) after this many epochs of this invocation, keeping the schedule of `epochs` (0 = run to the end); for time-sliced training");
}

void KnnConfig::visit(config::Visitor& v) {
  v("k", k, "neighbours that vote (InstDisc / MoCo protocol: 200)");
  v("temperature", temperature, "votes are weighted by exp(cosine / temperature) (0.1)");
}

void LinearConfig::visit(config::Visitor& v) {
  v("epochs", epochs, "epochs of logistic regression on the frozen, standardised features");
  v("batch_size", batch_size, "mini-batch size of the logistic regression");
  v("lr", lr, "Adam learning rate (cosine-decayed)");
  v("weight_decay", weight_decay, "L2 penalty on the classifier weights");
}

void EvalConfig::visit(config::Visitor& v) {
  v.section("knn", knn, "weighted kNN on L2-normalised backbone features");
  v.section("linear", linear, "linear probe on frozen backbone features");
  v("at_end", at_end, "evaluate (kNN + linear) when training ends");
  v("baselines", baselines, "at the end, also evaluate raw pixels and the randomly initialised network");
  v("batch_size", batch_size, "images per forward pass when extracting features");
  v("image_size", image_size, "evaluate at this square size (0 = the dataset's own size, whatever the training crops were)");
}

void Recipe::visit(config::Visitor& v) {
  v("name", name, "run name: outputs go to run_dir/name/");
  v("seed", seed, "seed of every random choice (init, shuffling, augmentation, BN shuffle)");
  v("threads", threads, "LibTorch intra-op threads (0 = all cores)");
  v("device", device, "cpu, cuda or cuda:N");
  v("run_dir", run_dir, "folder holding one sub-folder per run");
  v.section("data", data, "training and evaluation data");
  v.section("model", model, "backbone network");
  v.section("augment", augment, "augmentation pipelines");
  v.section("method", method, "self-supervised method and its heads");
  v.section("train", train, "optimisation");
  v.section("eval", eval, "evaluation protocol");
}

void validate(const Recipe& r, const std::string& origin) {
  auto fail = [&](const std::string& key, const std::string& what) { throw Error(origin + ": " + key + ": " + what); };
  if (r.train.epochs <= 0) fail("train.epochs", "expected a positive number of epochs");
  if (r.train.batch_size <= 1) fail("train.batch_size", "expected at least 2 images per batch");
  if (r.train.checkpoint_every <= 0) fail("train.checkpoint_every", "expected a positive number of epochs");
  if (r.augment.views.empty()) fail("augment.views", "expected at least one view");
  for (size_t i = 0; i < r.augment.views.size(); ++i)
    augment::validate(r.augment.views[i], "augment.views." + std::to_string(i));
  if (r.method.name == "moco") {
    const auto& m = r.method.moco;
    if (r.augment.views.size() != 2) fail("augment.views", "moco needs exactly two views");
    if (m.queue_size <= 0 || m.queue_size % r.train.batch_size != 0)
      fail("method.moco.queue_size", "expected a positive multiple of train.batch_size (" +
                                          std::to_string(r.train.batch_size) + ")");
    if (m.bn_splits <= 0 || r.train.batch_size % m.bn_splits != 0)
      fail("method.moco.bn_splits", "expected a divisor of train.batch_size");
    if (m.momentum < 0 || m.momentum > 1 || m.momentum_final < 0 || m.momentum_final > 1)
      fail("method.moco.momentum", "expected values in [0, 1]");
    if (m.temperature <= 0) fail("method.moco.temperature", "expected a positive temperature");
  } else {
    fail("method.name", "unknown method '" + r.method.name + "' (expected moco)");
  }
  if (r.method.projector.layers < 1) fail("method.projector.layers", "expected at least 1");
  if (r.eval.knn.k <= 0) fail("eval.knn.k", "expected a positive k");
}

Recipe parse_recipe(const std::string& text, const std::string& origin, const std::vector<std::string>& overrides) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw Error(origin + ": line " + std::to_string(e.mark.line + 1) + ": invalid YAML: " + e.msg);
  }
  if (!root || root.IsNull()) root = YAML::Node(YAML::NodeType::Map);
  for (const auto& o : overrides) config::apply_override(root, o);
  Recipe recipe;
  config::from_yaml(root, recipe, origin);
  validate(recipe, origin);
  return recipe;
}

Recipe load_recipe(const std::string& path, const std::vector<std::string>& overrides) {
  std::ifstream in(path);
  if (!in) throw Error(path + ": cannot open recipe file");
  std::stringstream text;
  text << in.rdbuf();
  return parse_recipe(text.str(), path, overrides);
}

std::string recipe_to_yaml(Recipe recipe) { return config::to_yaml(recipe); }

}  // namespace selfsup
