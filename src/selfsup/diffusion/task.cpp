#include "selfsup/diffusion/task.h"

#include <filesystem>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "selfsup/augment/pipeline.h"
#include "selfsup/core/error.h"
#include "selfsup/core/progress.h"
#include "selfsup/data/loader.h"
#include "selfsup/data/source.h"
#include "selfsup/io/png.h"
#include "selfsup/train/checkpoint.h"

namespace selfsup::diffusion {
namespace fs = std::filesystem;

namespace {

int64_t parameter_count(const torch::nn::Module& m) {
  int64_t n = 0;
  for (const auto& p : m.parameters()) n += p.numel();
  return n;
}

// Square, labelled images: what every task of this family needs.
void check_dataset(const data::ImageDataset& ds, const std::string& task) {
  if (ds.height() != ds.width())
    throw Error(ds.source + ": task " + task + " needs square images, got " + std::to_string(ds.height()) + "x" +
                std::to_string(ds.width()));
  if (ds.num_classes() < 2 || ds.labels.min().item<int64_t>() < 0)
    throw Error(ds.source + ": task " + task + " needs class labels for every image");
}

// Accuracy of `logits_of` (batch of prepared images -> logits) over a whole dataset.
template <class F>
double dataset_accuracy(const torch::Tensor& images_u8, const torch::Tensor& labels, const augment::ViewConfig& view,
                        torch::Device device, int64_t batch_size, F logits_of) {
  torch::NoGradGuard no_grad;
  int64_t correct = 0;
  for (int64_t i = 0; i < images_u8.size(0); i += batch_size) {
    const auto x = augment::prepare_eval(images_u8.slice(0, i, i + batch_size), view, device);
    const auto y = labels.slice(0, i, i + batch_size).to(device);
    correct += logits_of(x, i).argmax(1).eq(y).sum().template item<int64_t>();
  }
  return static_cast<double>(correct) / static_cast<double>(images_u8.size(0));
}

std::string percent(double v) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(2) << 100 * v << "%";
  return s.str();
}

class DiffusionTask : public train::Task {
 public:
  DiffusionTask(const Recipe& recipe, torch::Device device) : r_(recipe), device_(device) {
    train_ = data::load_dataset(r_.data, /*train=*/true);
    check_dataset(train_, r_.task);
    std::cout << "data: " << train_.size() << " training images " << train_.channels() << "x" << train_.height() << "x"
              << train_.width() << ", " << train_.num_classes() << " classes, from " << train_.source << std::endl;
    torch::manual_seed(static_cast<uint64_t>(r_.seed));
    model_ = std::make_shared<DiffusionModel>(r_.diffusion, train_.channels(), train_.height(), train_.num_classes());
    model_->to(device_);
  }

  const data::ImageDataset& train_images() const override { return train_; }
  std::shared_ptr<train::Model> model() override { return model_; }

  std::string describe_model() const override {
    const auto& d = r_.diffusion;
    std::ostringstream s;
    s << "U-Net (channels " << d.unet.channels << ", " << d.unet.channel_mult.size() << " levels, " << d.unet.res_blocks
      << " blocks/level, " << parameter_count(*model_->net) << " parameters), T " << d.timesteps << " " << d.schedule
      << ", " << d.prediction << "-prediction, p_uncond " << d.p_uncond;
    return s.str();
  }

  std::vector<std::string> epoch_metric_names() const override { return {}; }

  std::map<std::string, double> evaluate_epoch(int64_t epochs_done) override {
    const int64_t every = r_.diffusion.sample_every;
    if (every > 0 && epochs_done % every == 0 && epochs_done < r_.train.epochs)
      write_preview("samples_epoch_" + std::to_string(epochs_done) + ".png");
    return {};
  }

  nlohmann::json evaluate_final() override { return {{"samples", write_preview("samples.png")}}; }

 private:
  // One row per class, 8 samples each, DDIM at the recipe's preview guidance.
  std::string write_preview(const std::string& file) {
    const int64_t per_class = 8, classes = model_->num_classes;
    SampleOptions o;
    o.steps = r_.diffusion.preview_steps;
    o.guidance = r_.diffusion.preview_guidance;
    o.seed = static_cast<uint64_t>(r_.seed);
    const auto labels = torch::arange(classes).repeat_interleave(per_class);
    const auto images = generate(*model_, labels, o, labels.size(0), device_);
    const auto path = (fs::path(r_.run_dir) / r_.name / file).string();
    io::write_png(path, sample_grid(images, per_class));
    std::cout << "wrote " << path << " (one row per class: " << r_.diffusion.preview_steps << " DDIM steps, guidance s = "
              << o.guidance << ")" << std::endl;
    return path;
  }

  Recipe r_;
  torch::Device device_;
  data::ImageDataset train_;
  std::shared_ptr<DiffusionModel> model_;
};

// Shared by the judge and the noisy classifier: test accuracy after every epoch and at the end.
class ClassifierTaskBase : public train::Task {
 public:
  ClassifierTaskBase(const Recipe& recipe, torch::Device device) : r_(recipe), device_(device) {
    train_ = data::load_dataset(r_.data, /*train=*/true);
    check_dataset(train_, r_.task);
    test_ = data::load_dataset(r_.data, /*train=*/false);
    std::cout << "data: " << train_.size() << " training / " << test_.size() << " test images, "
              << train_.num_classes() << " classes, from " << train_.source << std::endl;
    torch::manual_seed(static_cast<uint64_t>(r_.seed));
  }
  const data::ImageDataset& train_images() const override { return train_; }

 protected:
  Recipe r_;
  torch::Device device_;
  data::ImageDataset train_, test_;
};

class ClassifierTask : public ClassifierTaskBase {
 public:
  ClassifierTask(const Recipe& recipe, torch::Device device) : ClassifierTaskBase(recipe, device) {
    model_ = std::make_shared<ImageClassifier>(r_.model, train_.channels(), train_.num_classes());
    model_->to(device_);
  }
  std::shared_ptr<train::Model> model() override { return model_; }
  std::string describe_model() const override {
    std::ostringstream s;
    s << r_.model.name << " (width " << r_.model.width << ") + linear classifier";
    return s.str();
  }
  std::vector<std::string> epoch_metric_names() const override { return {"test_top1"}; }
  std::map<std::string, double> evaluate_epoch(int64_t epochs_done) override {
    const double acc = test_accuracy();
    std::cout << "epoch " << epochs_done << " test top-1 " << percent(acc) << std::endl;
    return {{"test_top1", acc}};
  }
  nlohmann::json evaluate_final() override {
    return {{"eval", {{"test_top1", test_accuracy()}, {"test_images", test_.size()}}}};
  }

 private:
  double test_accuracy() {
    model_->eval();
    return dataset_accuracy(test_.images, test_.labels, r_.augment.views[0], device_, r_.eval.batch_size,
                            [&](const torch::Tensor& x, int64_t) { return model_->logits(x); });
  }
  std::shared_ptr<ImageClassifier> model_;
};

class NoisyClassifierTask : public ClassifierTaskBase {
 public:
  NoisyClassifierTask(const Recipe& recipe, torch::Device device) : ClassifierTaskBase(recipe, device) {
    model_ = std::make_shared<NoisyClassifier>(r_.diffusion, train_.channels(), train_.height(), train_.num_classes());
    model_->to(device_);
  }
  std::shared_ptr<train::Model> model() override { return model_; }
  std::string describe_model() const override {
    std::ostringstream s;
    s << "U-Net down path (channels " << r_.diffusion.unet.channels << ", " << parameter_count(*model_->net)
      << " parameters) + pooled linear head, on x_t, T " << r_.diffusion.timesteps << " " << r_.diffusion.schedule;
    return s.str();
  }
  std::vector<std::string> epoch_metric_names() const override { return {"test_top1_t0", "test_top1_thalf"}; }
  std::map<std::string, double> evaluate_epoch(int64_t epochs_done) override {
    const int64_t T = r_.diffusion.timesteps;
    const double clean = accuracy_at(0), half = accuracy_at(T / 2);
    std::cout << "epoch " << epochs_done << " test top-1 at t = 0: " << percent(clean) << ", at t = " << T / 2 << ": "
              << percent(half) << std::endl;
    return {{"test_top1_t0", clean}, {"test_top1_thalf", half}};
  }
  nlohmann::json evaluate_final() override {
    nlohmann::json by_t;
    const int64_t T = r_.diffusion.timesteps;
    for (int64_t t : {int64_t{0}, T / 4, T / 2, 3 * T / 4, T - 1}) by_t[std::to_string(t)] = accuracy_at(t);
    return {{"eval", {{"test_top1_by_t", by_t}, {"test_images", test_.size()}}}};
  }

 private:
  // Test accuracy on images noised to timestep t (the noise drawn from a fixed seed).
  double accuracy_at(int64_t t) {
    model_->net->eval();
    const int64_t batch = r_.eval.batch_size;
    return dataset_accuracy(test_.images, test_.labels, r_.augment.views[0], device_, batch,
                            [&](const torch::Tensor& x, int64_t first) {
                              auto gen = at::make_generator<at::CPUGeneratorImpl>(
                                  data::mix_seed(static_cast<uint64_t>(r_.seed), static_cast<uint64_t>(t),
                                                 static_cast<uint64_t>(first)));
                              const auto noise = torch::randn(x.sizes(), gen, torch::kFloat).to(x.device());
                              const auto tt = torch::full({x.size(0)}, t, torch::TensorOptions().dtype(torch::kLong).device(x.device()));
                              return model_->net->forward(model_->schedule.q_sample(x, tt, noise), tt);
                            });
  }
  std::shared_ptr<NoisyClassifier> model_;
};

// Reads a checkpoint of the given task: its stored recipe, the test split it was made for, and the
// model (built by make from the recipe and that split) with the weights loaded, in eval mode.
template <class M, class Make>
Trained<M> load_trained(const std::string& checkpoint, const std::string& task, const std::string& recipe_hint,
                        torch::Device device, Make make) {
  const auto info = train::read_checkpoint_info(checkpoint);
  Trained<M> out;
  out.checkpoint = checkpoint;
  out.recipe = parse_recipe(info.recipe_yaml, checkpoint + " (stored recipe)");
  if (out.recipe.task != task)
    throw Error(checkpoint + ": a '" + out.recipe.task + "' checkpoint where a '" + task + "' one is needed (train " +
                recipe_hint + ")");
  out.test = data::load_dataset(out.recipe.data, /*train=*/false);
  check_dataset(out.test, task);
  out.model = make(out.recipe, out.test);
  train::load_checkpoint(checkpoint, *out.model, nullptr);
  out.model->to(device);
  out.model->eval();
  return out;
}

}  // namespace

std::unique_ptr<train::Task> make_diffusion_task(const Recipe& recipe, torch::Device device) {
  if (recipe.task == "diffusion") return std::make_unique<DiffusionTask>(recipe, device);
  if (recipe.task == "noisy_classifier") return std::make_unique<NoisyClassifierTask>(recipe, device);
  if (recipe.task == "classifier") return std::make_unique<ClassifierTask>(recipe, device);
  throw Error("task: '" + recipe.task + "' is not one of diffusion, noisy_classifier, classifier");
}

Trained<DiffusionModel> load_diffusion(const std::string& checkpoint, torch::Device device) {
  return load_trained<DiffusionModel>(
      checkpoint, "diffusion", "recipes/diffusion_cfg_fmnist.yaml", device, [](const Recipe& r, const auto& test) {
        return std::make_shared<DiffusionModel>(r.diffusion, test.channels(), test.height(), test.num_classes());
      });
}

Trained<NoisyClassifier> load_noisy_classifier(const std::string& checkpoint, torch::Device device) {
  return load_trained<NoisyClassifier>(
      checkpoint, "noisy_classifier", "recipes/noisy_classifier_fmnist.yaml", device, [](const Recipe& r, const auto& test) {
        return std::make_shared<NoisyClassifier>(r.diffusion, test.channels(), test.height(), test.num_classes());
      });
}

Trained<ImageClassifier> load_classifier(const std::string& checkpoint, torch::Device device) {
  return load_trained<ImageClassifier>(
      checkpoint, "classifier", "recipes/judge_fmnist.yaml", device, [](const Recipe& r, const auto& test) {
        return std::make_shared<ImageClassifier>(r.model, test.channels(), test.num_classes());
      });
}

torch::Tensor to_uint8(const torch::Tensor& x) {
  return ((x.detach().cpu().clamp(-1, 1) + 1) * 127.5).round().to(torch::kUInt8);
}

torch::Tensor generate(DiffusionModel& model, const torch::Tensor& labels, const SampleOptions& options,
                       int64_t batch_size, torch::Device device) {
  const auto net = model.denoiser();
  const int64_t n = labels.size(0), chunks = (n + batch_size - 1) / batch_size;
  const std::vector<int64_t> shape{model.channels, model.image_side, model.image_side};
  std::vector<torch::Tensor> out;
  Progress progress("sampling " + std::to_string(n) + " images", chunks, 1);
  for (int64_t i = 0; i < chunks; ++i) {
    SampleOptions o = options;
    o.seed = data::mix_seed(options.seed, static_cast<uint64_t>(i));
    o.progress = options.progress && chunks == 1;
    const auto images = sample(net, model.schedule, model.config.prediction, model.null_class(),
                               labels.slice(0, i * batch_size, (i + 1) * batch_size), shape, o, device);
    out.push_back(to_uint8(images));
    if (options.progress && chunks > 1) progress.update(i + 1, std::to_string(out.size() * batch_size) + " images");
  }
  return torch::cat(out);
}

torch::Tensor sample_grid(const torch::Tensor& images_u8, int64_t columns, int64_t scale) {
  std::vector<torch::Tensor> tiles;
  for (int64_t i = 0; i < images_u8.size(0); ++i) {
    auto tile = images_u8[i].to(torch::kFloat) / 255.0;
    if (tile.size(0) == 1) tile = tile.expand({3, tile.size(1), tile.size(2)});
    if (scale > 1) tile = tile.repeat_interleave(scale, 1).repeat_interleave(scale, 2);
    tiles.push_back(tile.contiguous());
  }
  return io::image_grid(tiles, columns);
}

torch::Tensor judge_features(ImageClassifier& judge, const Recipe& judge_recipe, const torch::Tensor& images_u8,
                             torch::Device device) {
  torch::NoGradGuard no_grad;
  judge.eval();
  std::vector<torch::Tensor> out;
  const int64_t batch = judge_recipe.eval.batch_size;
  for (int64_t i = 0; i < images_u8.size(0); i += batch)
    out.push_back(judge.features(augment::prepare_eval(images_u8.slice(0, i, i + batch), judge_recipe.augment.views[0], device)).cpu());
  return torch::cat(out);
}

double judge_accuracy(ImageClassifier& judge, const Recipe& judge_recipe, const torch::Tensor& images_u8,
                      const torch::Tensor& labels, torch::Device device) {
  judge.eval();
  return dataset_accuracy(images_u8, labels, judge_recipe.augment.views[0], device, judge_recipe.eval.batch_size,
                          [&](const torch::Tensor& x, int64_t) { return judge.logits(x); });
}

}  // namespace selfsup::diffusion
