#include "selfsup/eval/evaluate.h"

#include <chrono>
#include <cstdio>
#include <iostream>

#include "selfsup/core/error.h"
#include "selfsup/eval/features.h"
#include "selfsup/eval/finetune.h"
#include "selfsup/models/state_dict.h"
#include "selfsup/eval/knn.h"
#include "selfsup/eval/linear_probe.h"

namespace selfsup::eval {

std::string percent_label(double fraction) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g%%", 100 * fraction);
  return buf;
}

EvalResult evaluate(models::Backbone* backbone, const Recipe& recipe, const data::ImageDataset& train,
                    const data::ImageDataset& test, torch::Device device, bool knn, bool linear, bool finetune,
                    bool finetune_test_every_epoch) {
  const auto start = std::chrono::steady_clock::now();
  if (train.num_classes() == 0 || train.labels.lt(0).any().item<bool>())
    throw Error(train.source + ": evaluation needs labelled training images");
  // The first view's normalisation, without its randomness, at the evaluation resolution.
  auto view = recipe.augment.views.at(0);
  // Streamed images differ in size: without eval.image_size they are evaluated at the crop size.
  if (recipe.eval.image_size > 0 || !train.streamed()) view.crop.size = recipe.eval.image_size;
  const EvalCrop crop{recipe.data.eval_crop, recipe.data.on_bad_file == "skip"};
  const auto features = [&](const data::ImageDataset& ds) {
    return backbone ? extract_features(*backbone, ds, view, device, recipe.eval.batch_size, crop)
                    : pixel_features(ds, view, crop);
  };
  EvalResult r;
  if (finetune && backbone) {
    train.require_in_memory("fine-tuning (eval.finetune)");
    const auto& c = recipe.eval.finetune;
    FinetuneOptions o;
    o.label_fraction = c.label_fraction;
    o.epochs = c.epochs;
    o.batch_size = c.batch_size;
    o.optimizer = c.optimizer;
    o.lr = c.lr;
    o.backbone_lr_scale = c.backbone_lr_scale;
    o.weight_decay = c.weight_decay;
    o.classes = c.classes;
    o.seed = static_cast<uint64_t>(c.seed >= 0 ? c.seed : recipe.seed);
    o.test_every_epoch = finetune_test_every_epoch;
    models::StateDict saved;
    for (const auto& [name, t] : models::state_dict(*backbone)) saved[name] = t.clone();
    r.finetune_run = eval::finetune(*backbone, train, test, view, device, o);
    r.finetune = r.finetune_run.top1;
    models::load_state_dict(*backbone, saved, /*strict=*/true, "fine-tuning");
  }
  if (!knn && !linear) {
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return r;
  }
  const auto f_train = features(train), f_test = features(test);
  const int64_t classes = train.num_classes();
  LinearProbeOptions probe;
  probe.epochs = recipe.eval.linear.epochs;
  probe.batch_size = recipe.eval.linear.batch_size;
  probe.lr = recipe.eval.linear.lr;
  probe.weight_decay = recipe.eval.linear.weight_decay;
  probe.seed = static_cast<uint64_t>(recipe.seed);
  const auto knn_top1 = [&](const torch::Tensor& f, const torch::Tensor& labels) {
    if (recipe.eval.knn.k > f.size(0))  // the vote then uses every training image: say so
      std::cerr << "note: eval.knn.k = " << recipe.eval.knn.k << " is more than the " << f.size(0)
                << " training images: all of them vote" << std::endl;
    return knn_accuracy(f, labels, f_test, test.labels, classes, recipe.eval.knn.k, recipe.eval.knn.temperature);
  };
  if (knn) r.knn = knn_top1(f_train, train.labels);
  if (linear) r.linear = linear_probe_accuracy(f_train, train.labels, f_test, test.labels, classes, probe);
  for (const double fraction : recipe.eval.few_labels) {
    if (!(fraction > 0 && fraction <= 1)) throw Error("eval.few_labels: expected fractions in (0, 1], got " + std::to_string(fraction));
    const auto subset = labelled_subset(train.labels, classes, fraction, static_cast<uint64_t>(recipe.seed));
    const auto f = f_train.index_select(0, subset), labels = train.labels.index_select(0, subset);
    // As many optimiser steps as the probe on all labels takes: fewer labels, not less training.
    const auto steps = [](int64_t n, int64_t batch) { return (n + batch - 1) / batch; };
    LinearProbeOptions few = probe;
    few.batch_size = std::min(probe.batch_size, f.size(0));
    few.epochs = (steps(f_train.size(0), probe.batch_size) * probe.epochs + steps(f.size(0), few.batch_size) - 1) /
                 steps(f.size(0), few.batch_size);
    r.few_labels.push_back({fraction, f.size(0), knn_top1(f, labels),
                            linear_probe_accuracy(f, labels, f_test, test.labels, classes, few)});
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

}  // namespace selfsup::eval
