// The trainable models of the diffusion tasks:
//  - DiffusionModel: a class-conditional U-Net trained on the ε / x₀ / v objective with the label
//    replaced by the null class with probability p_uncond (classifier-free training), plus the EMA
//    copy of its weights that sampling uses;
//  - NoisyClassifier: p(y | x_t, t) trained on noised images, for classifier guidance;
//  - ImageClassifier: a plain supervised classifier on clean images (the judge of generated
//    samples: its accuracy on them measures fidelity, its penultimate features the Fréchet distance).
#pragma once

#include <torch/torch.h>

#include <memory>

#include "selfsup/diffusion/sampler.h"
#include "selfsup/diffusion/schedule.h"
#include "selfsup/models/backbone.h"
#include "selfsup/models/unet.h"
#include "selfsup/train/momentum.h"
#include "selfsup/diffusion/config.h"
#include "selfsup/train/task.h"

namespace selfsup::diffusion {

NoiseSchedule make_schedule(const DiffusionConfig& c);

class DiffusionModel : public train::Model {
 public:
  DiffusionModel(const DiffusionConfig& config, int64_t channels, int64_t image_side, int64_t num_classes);
  // batch.views[0]: images in [-1, 1]; batch.labels: their classes.
  train::StepOutput training_step(const data::Batch& batch, train::StepContext& ctx) override;
  void after_step(train::StepContext& ctx) override;  // EMA update (the EMA copy is frozen: not optimised)

  // The EMA network as a sampler's denoiser (switches it to eval mode).
  DenoiseFn denoiser();
  int64_t null_class() const { return num_classes; }

  DiffusionConfig config;
  NoiseSchedule schedule;
  int64_t channels, image_side, num_classes;
  models::UNet net{nullptr}, ema{nullptr};

 private:
  train::MomentumBranch ema_branch_;  // ema follows net
};

class NoisyClassifier : public train::Model {
 public:
  NoisyClassifier(const DiffusionConfig& config, int64_t channels, int64_t image_side, int64_t num_classes);
  // t uniform over 0..T-1, x_t = q_sample(views[0]); cross-entropy on the labels. Logs "acc".
  train::StepOutput training_step(const data::Batch& batch, train::StepContext& ctx) override;
  ClassifierFn classifier();  // eval mode
  DiffusionConfig config;
  NoiseSchedule schedule;
  models::NoisyClassifierNet net{nullptr};
};

class ImageClassifier : public train::Model {
 public:
  ImageClassifier(const models::BackboneConfig& config, int64_t channels, int64_t num_classes);
  train::StepOutput training_step(const data::Batch& batch, train::StepContext& ctx) override;
  torch::Tensor features(const torch::Tensor& x) { return backbone->forward(x); }  // penultimate layer
  torch::Tensor logits(const torch::Tensor& x) { return head(backbone->forward(x)); }
  std::shared_ptr<models::Backbone> backbone;
  torch::nn::Linear head{nullptr};
};

}  // namespace selfsup::diffusion
