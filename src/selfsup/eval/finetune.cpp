#include "selfsup/eval/finetune.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "selfsup/core/error.h"
#include "selfsup/core/progress.h"
#include "selfsup/data/loader.h"
#include "selfsup/models/batch_norm.h"
#include "selfsup/train/optimizer.h"
#include "selfsup/train/schedule.h"

namespace selfsup::eval {

torch::Tensor labelled_subset(const torch::Tensor& labels, int64_t num_classes, double fraction, uint64_t seed) {
  if (fraction <= 0 || fraction > 1) throw Error("eval.finetune.label_fraction: expected a value in (0, 1]");
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  std::vector<torch::Tensor> picked;
  for (int64_t c = 0; c < num_classes; ++c) {
    const auto members = labels.eq(c).nonzero().flatten();
    if (members.numel() == 0) continue;
    const auto take = static_cast<int64_t>(std::ceil(fraction * static_cast<double>(members.numel())));
    picked.push_back(members.index_select(0, torch::randperm(members.numel(), gen, torch::kLong).narrow(0, 0, take)));
  }
  return std::get<0>(torch::cat(picked).sort());
}

namespace {

// The images and labels of `dataset` whose class is one of `classes` (names), relabelled 0..K-1 in
// that order; all of them when `classes` is empty.
std::pair<torch::Tensor, torch::Tensor> select_classes(const data::ImageDataset& dataset, const std::vector<std::string>& classes) {
  if (classes.empty()) return {dataset.images, dataset.labels};
  auto relabelled = torch::full_like(dataset.labels, -1);
  for (size_t k = 0; k < classes.size(); ++k) {
    const auto it = std::find(dataset.class_names.begin(), dataset.class_names.end(), classes[k]);
    if (it == dataset.class_names.end()) {
      std::string known;
      for (const auto& name : dataset.class_names) known += (known.empty() ? "" : ", ") + name;
      throw Error("eval.finetune.classes: no class '" + classes[k] + "' in " + dataset.source + " (its classes: " + known + ")");
    }
    relabelled.masked_fill_(dataset.labels.eq(it - dataset.class_names.begin()), static_cast<int64_t>(k));
  }
  const auto keep = relabelled.ge(0).nonzero().flatten();
  return {dataset.images.index_select(0, keep), relabelled.index_select(0, keep)};
}

}  // namespace

FinetuneResult finetune(models::Backbone& encoder, const data::ImageDataset& train_set, const data::ImageDataset& test_set,
                        const augment::ViewConfig& view, torch::Device device, const FinetuneOptions& o) {
  if (o.optimizer != "sgd" && o.optimizer != "adamw")
    throw Error("eval.finetune.optimizer: expected sgd or adamw, got '" + o.optimizer + "'");
  // Plain references, not structured bindings: C++17 lambdas cannot capture those (test_accuracy).
  const auto train_selected = select_classes(train_set, o.classes), test_selected = select_classes(test_set, o.classes);
  const torch::Tensor &train_images = train_selected.first, &train_labels = train_selected.second;
  const torch::Tensor &test_images = test_selected.first, &test_labels = test_selected.second;
  const int64_t classes = o.classes.empty() ? train_set.num_classes() : static_cast<int64_t>(o.classes.size());
  const auto subset = labelled_subset(train_labels, classes, o.label_fraction, o.seed);
  const auto images = train_images.index_select(0, subset);
  const auto labels = train_labels.index_select(0, subset);
  const int64_t n = images.size(0), steps_per_epoch = (n + o.batch_size - 1) / o.batch_size;

  // Light augmentation: the evaluation view plus random resized crops and flips, nothing else.
  auto augmentation = view;
  augmentation.crop.scale = {0.5, 1.0};
  augmentation.flip = 0.5;
  augmentation.jitter.p = 0;
  augmentation.grayscale = 0;
  augmentation.blur.p = 0;
  augmentation.solarize.p = 0;

  torch::manual_seed(o.seed);
  torch::nn::Linear classifier(encoder.output_dim(), classes);
  classifier->to(device);
  auto params = train::trainable_parameters(encoder);
  for (auto& p : params) p.lr_scale = o.backbone_lr_scale;
  for (auto& p : train::trainable_parameters(*classifier)) params.push_back({"classifier." + p.name, p.tensor});
  train::OptimizerConfig oc;
  oc.name = o.optimizer;
  oc.lr = o.lr;
  oc.momentum = 0.9;
  oc.nesterov = true;
  oc.weight_decay = o.weight_decay;
  train::Optimizer optimizer(params, oc);
  train::ScheduleConfig schedule;  // cosine, no warm-up

  // Ordinary BatchNorm while fine-tuning (MoCo's split BN simulates GPUs for its key batches);
  // each layer's split count is restored at the end.
  std::vector<std::pair<models::BatchNorm2dImpl*, int64_t>> splits;
  encoder.apply([&](torch::nn::Module& m) {
    if (auto* bn = dynamic_cast<models::BatchNorm2dImpl*>(&m)) splits.emplace_back(bn, bn->splits());
  });
  for (auto& [bn, s] : splits) bn->set_splits(1);

  const auto test_accuracy = [&] {
    torch::NoGradGuard no_grad;
    encoder.eval();
    int64_t correct = 0;
    for (int64_t start = 0; start < test_images.size(0); start += o.batch_size) {
      const int64_t m = std::min(o.batch_size, test_images.size(0) - start);
      const auto x = augment::prepare_eval(test_images.narrow(0, start, m), view, device);
      const auto predicted = classifier->forward(encoder.forward(x)).argmax(1).cpu();
      correct += predicted.eq(test_labels.narrow(0, start, m)).sum().item<int64_t>();
    }
    encoder.train();
    return static_cast<double>(correct) / static_cast<double>(std::max<int64_t>(1, test_images.size(0)));
  };

  FinetuneResult result;
  result.train_images = n;
  result.test_images = test_images.size(0);
  result.classes = classes;
  encoder.train();
  int64_t step = 0;
  for (int64_t epoch = 0; epoch < o.epochs; ++epoch) {
    const auto order = torch::randperm(n, at::make_generator<at::CPUGeneratorImpl>(data::mix_seed(o.seed, epoch, 7)), torch::kLong);
    Progress progress("fine-tune epoch " + std::to_string(epoch + 1) + "/" + std::to_string(o.epochs), steps_per_epoch, 1000);
    double loss_sum = 0;
    int64_t correct = 0;
    for (int64_t s = 0; s < steps_per_epoch; ++s, ++step) {
      const auto idx = order.narrow(0, s * o.batch_size, std::min(o.batch_size, n - s * o.batch_size));
      auto gen = at::make_generator<at::CPUGeneratorImpl>(data::mix_seed(o.seed, epoch, s + 1'000'003));
      const auto x = augment::apply_view(images.index_select(0, idx), augmentation, gen, device);
      const auto y = labels.index_select(0, idx).to(device);
      optimizer.set_lr(train::lr_at(schedule, o.lr, step, 0, o.epochs * steps_per_epoch));
      const auto logits = classifier->forward(encoder.forward(x));
      const auto loss = torch::nn::functional::cross_entropy(logits, y);
      optimizer.zero_grad();
      loss.backward();
      optimizer.step();
      loss_sum += loss.item<double>() * static_cast<double>(idx.size(0));
      correct += logits.argmax(1).eq(y).sum().item<int64_t>();
      progress.update(s + 1, "loss " + std::to_string(loss_sum / static_cast<double>(std::min(n, (s + 1) * o.batch_size))));
    }
    FinetuneEpoch e;
    e.epoch = epoch + 1;
    e.train_loss = loss_sum / static_cast<double>(n);
    e.train_acc = static_cast<double>(correct) / static_cast<double>(n);
    e.lr = optimizer.lr();
    const bool last = epoch + 1 == o.epochs;
    if (o.test_every_epoch || last) {
      if (last)
        for (auto& [bn, s] : splits) bn->set_splits(s);
      e.test_acc = test_accuracy();
      result.best_top1 = std::max(result.best_top1, e.test_acc);
    }
    char stats[96];
    std::snprintf(stats, sizeof stats, "loss %.4f train acc %.2f%%", e.train_loss, 100 * e.train_acc);
    progress.finish(std::string(stats) + (std::isnan(e.test_acc) ? "" : " test acc " + std::to_string(100 * e.test_acc).substr(0, 5) + "%"));
    result.epochs.push_back(e);
  }
  if (o.epochs < 1)
    for (auto& [bn, s] : splits) bn->set_splits(s);
  result.top1 = result.epochs.empty() ? test_accuracy() : result.epochs.back().test_acc;
  encoder.eval();
  return result;
}

}  // namespace selfsup::eval
