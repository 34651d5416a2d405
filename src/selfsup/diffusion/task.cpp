#include "selfsup/diffusion/task.h"

#include <filesystem>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "selfsup/augment/pipeline.h"
#include "selfsup/core/error.h"
#include "selfsup/data/loader.h"
#include "selfsup/data/source.h"
#include "selfsup/diffusion/generate.h"
#include "selfsup/diffusion/judge.h"
#include "selfsup/io/png.h"

namespace selfsup::diffusion {
namespace fs = std::filesystem;

namespace {

int64_t parameter_count(const torch::nn::Module& m) {
  int64_t n = 0;
  for (const auto& p : m.parameters()) n += p.numel();
  return n;
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
    train_.require_in_memory("task " + r_.task);
    check_dataset(train_, r_.task);
    std::cout << "data: " << train_.size() << " training images " << train_.channels() << "x" << train_.height() << "x"
              << train_.width() << ", " << train_.num_classes() << " classes, from " << train_.source << std::endl;
    torch::manual_seed(static_cast<uint64_t>(r_.seed));
    model_ = std::make_shared<DiffusionModel>(diffusion_config(r_), train_.channels(), train_.height(), train_.num_classes());
    model_->to(device_);
  }

  const data::ImageDataset& train_images() const override { return train_; }
  std::shared_ptr<train::Model> model() override { return model_; }

  std::string describe_model() const override {
    const auto& d = diffusion_config(r_);
    std::ostringstream s;
    s << "U-Net (channels " << d.unet.channels << ", " << d.unet.channel_mult.size() << " levels, " << d.unet.res_blocks
      << " blocks/level, " << parameter_count(*model_->net) << " parameters), T " << d.timesteps << " " << d.schedule
      << ", " << d.prediction << "-prediction, p_uncond " << d.p_uncond;
    return s.str();
  }

  std::vector<std::string> epoch_metric_names() const override { return {}; }

  std::map<std::string, double> evaluate_epoch(int64_t epochs_done) override {
    const int64_t every = diffusion_config(r_).sample_every;
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
    o.steps = diffusion_config(r_).preview_steps;
    o.guidance = diffusion_config(r_).preview_guidance;
    o.seed = static_cast<uint64_t>(r_.seed);
    const auto labels = torch::arange(classes).repeat_interleave(per_class);
    const auto images = generate(*model_, labels, o, labels.size(0), device_);
    const auto path = (fs::path(r_.run_dir) / r_.name / file).string();
    io::write_png(path, sample_grid(images, per_class));
    std::cout << "wrote " << path << " (one row per class: " << diffusion_config(r_).preview_steps << " DDIM steps, guidance s = "
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
    train_.require_in_memory("task " + r_.task);
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
    model_ = std::make_shared<NoisyClassifier>(diffusion_config(r_), train_.channels(), train_.height(), train_.num_classes());
    model_->to(device_);
  }
  std::shared_ptr<train::Model> model() override { return model_; }
  std::string describe_model() const override {
    std::ostringstream s;
    s << "U-Net down path (channels " << diffusion_config(r_).unet.channels << ", " << parameter_count(*model_->net)
      << " parameters) + pooled linear head, on x_t, T " << diffusion_config(r_).timesteps << " " << diffusion_config(r_).schedule;
    return s.str();
  }
  std::vector<std::string> epoch_metric_names() const override { return {"test_top1_t0", "test_top1_thalf"}; }
  std::map<std::string, double> evaluate_epoch(int64_t epochs_done) override {
    const int64_t T = diffusion_config(r_).timesteps;
    const double clean = accuracy_at(0), half = accuracy_at(T / 2);
    std::cout << "epoch " << epochs_done << " test top-1 at t = 0: " << percent(clean) << ", at t = " << T / 2 << ": "
              << percent(half) << std::endl;
    return {{"test_top1_t0", clean}, {"test_top1_thalf", half}};
  }
  nlohmann::json evaluate_final() override {
    nlohmann::json by_t;
    const int64_t T = diffusion_config(r_).timesteps;
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

}  // namespace

void register_tasks() {
  register_recipe_section(DiffusionConfig::kSection,
                          "noise schedule, denoiser and sampling previews (tasks: diffusion, noisy_classifier)",
                          [] { return std::make_unique<DiffusionConfig>(); });
  const auto validate = [](const Recipe& r, const RecipeCheck& check) { diffusion_config(r).validate(r, check); };
  train::register_task_type({"diffusion", validate, [](const Recipe& r, torch::Device device, const train::Extras&) {
                               return std::unique_ptr<train::Task>(std::make_unique<DiffusionTask>(r, device));
                             }});
  train::register_task_type({"noisy_classifier", validate, [](const Recipe& r, torch::Device device, const train::Extras&) {
                               return std::unique_ptr<train::Task>(std::make_unique<NoisyClassifierTask>(r, device));
                             }});
  train::register_task_type({"classifier", validate, [](const Recipe& r, torch::Device device, const train::Extras&) {
                               return std::unique_ptr<train::Task>(std::make_unique<ClassifierTask>(r, device));
                             }});
}

}  // namespace selfsup::diffusion
