#include "selfsup/diffusion/trained.h"

#include "selfsup/data/source.h"
#include "selfsup/diffusion/judge.h"
#include "selfsup/train/checkpoint.h"

namespace selfsup::diffusion {
namespace {

template <class M, class Make>
Trained<M> load_trained(const std::string& checkpoint, const std::string& task, const std::string& recipe_hint,
                        torch::Device device, Make make) {
  Trained<M> out;
  out.checkpoint = checkpoint;
  out.recipe = train::open_run(checkpoint, task, recipe_hint).recipe;
  out.test = data::load_dataset(out.recipe.data, /*train=*/false);
  check_dataset(out.test, task);
  out.model = make(out.recipe, out.test);
  train::load_checkpoint(checkpoint, *out.model, nullptr);
  out.model->to(device);
  out.model->eval();
  return out;
}

}  // namespace

Trained<DiffusionModel> load_diffusion(const std::string& checkpoint, torch::Device device) {
  return load_trained<DiffusionModel>(
      checkpoint, "diffusion", "recipes/diffusion_cfg_fmnist.yaml", device, [](const Recipe& r, const auto& test) {
        return std::make_shared<DiffusionModel>(diffusion_config(r), test.channels(), test.height(), test.num_classes());
      });
}

Trained<NoisyClassifier> load_noisy_classifier(const std::string& checkpoint, torch::Device device) {
  return load_trained<NoisyClassifier>(
      checkpoint, "noisy_classifier", "recipes/noisy_classifier_fmnist.yaml", device, [](const Recipe& r, const auto& test) {
        return std::make_shared<NoisyClassifier>(diffusion_config(r), test.channels(), test.height(), test.num_classes());
      });
}

Trained<ImageClassifier> load_classifier(const std::string& checkpoint, torch::Device device) {
  return load_trained<ImageClassifier>(
      checkpoint, "classifier", "recipes/judge_fmnist.yaml", device, [](const Recipe& r, const auto& test) {
        return std::make_shared<ImageClassifier>(r.model, test.channels(), test.num_classes());
      });
}

}  // namespace selfsup::diffusion
