#include "selfsup/eval/finetune.h"

#include <cmath>

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

double finetune_accuracy(models::Backbone& encoder, const data::ImageDataset& train, const data::ImageDataset& test,
                         const augment::ViewConfig& view, torch::Device device, const FinetuneOptions& o) {
  const int64_t classes = train.num_classes();
  const auto subset = labelled_subset(train.labels, classes, o.label_fraction, o.seed);
  const auto images = train.images.index_select(0, subset);
  const auto labels = train.labels.index_select(0, subset);
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
  for (auto& p : train::trainable_parameters(*classifier)) params.push_back({"classifier." + p.name, p.tensor});
  train::OptimizerConfig oc;
  oc.name = "sgd";
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

  encoder.train();
  int64_t step = 0;
  for (int64_t epoch = 0; epoch < o.epochs; ++epoch) {
    const auto order = torch::randperm(n, at::make_generator<at::CPUGeneratorImpl>(data::mix_seed(o.seed, epoch, 7)), torch::kLong);
    Progress progress("fine-tune epoch " + std::to_string(epoch + 1) + "/" + std::to_string(o.epochs), steps_per_epoch, 1000);
    double loss_sum = 0;
    for (int64_t s = 0; s < steps_per_epoch; ++s, ++step) {
      const auto idx = order.narrow(0, s * o.batch_size, std::min(o.batch_size, n - s * o.batch_size));
      auto gen = at::make_generator<at::CPUGeneratorImpl>(data::mix_seed(o.seed, epoch, s + 1'000'003));
      const auto x = augment::apply_view(images.index_select(0, idx), augmentation, gen, device);
      const auto y = labels.index_select(0, idx).to(device);
      optimizer.set_lr(train::lr_at(schedule, o.lr, step, 0, o.epochs * steps_per_epoch));
      const auto loss = torch::nn::functional::cross_entropy(classifier->forward(encoder.forward(x)), y);
      optimizer.zero_grad();
      loss.backward();
      optimizer.step();
      loss_sum += loss.item<double>();
      progress.update(s + 1, "loss " + std::to_string(loss_sum / static_cast<double>(s + 1)));
    }
    progress.finish("loss " + std::to_string(loss_sum / static_cast<double>(steps_per_epoch)));
  }

  for (auto& [bn, s] : splits) bn->set_splits(s);
  torch::NoGradGuard no_grad;
  encoder.eval();
  int64_t correct = 0;
  for (int64_t start = 0; start < test.size(); start += o.batch_size) {
    const int64_t m = std::min(o.batch_size, test.size() - start);
    const auto x = augment::prepare_eval(test.images.narrow(0, start, m), view, device);
    const auto predicted = classifier->forward(encoder.forward(x)).argmax(1).cpu();
    correct += predicted.eq(test.labels.narrow(0, start, m)).sum().item<int64_t>();
  }
  return static_cast<double>(correct) / static_cast<double>(test.size());
}

}  // namespace selfsup::eval
