// `selfsup eval samples`: the fidelity-diversity trade-off of guidance, measured. For each guidance
// setting (classifier-free scale s, or classifier guidance γ on the unconditional model), generate
// `per_class` images of every class and score them with a separately trained judge classifier:
//  - fidelity: the judge's accuracy on the samples w.r.t. the class they were asked for;
//  - quality + diversity: the Fréchet distance between the judge's penultimate features of the
//    samples and of the real test images (lower is better);
//  - diversity: the mean pairwise feature distance among the samples of one class, averaged over
//    classes (compare with the same number for real test images).
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "selfsup/diffusion/generate.h"
#include "selfsup/diffusion/judge.h"
#include "selfsup/diffusion/trained.h"

namespace selfsup::diffusion {

struct GuidanceSetting {
  std::string kind = "cfg";  // cfg (scale = s) | classifier (scale = γ, with s = 0: the unconditional model)
  double scale = 1;
  std::string name() const;  // "cfg_s3", "classifier_g10"
};

struct SweepOptions {
  std::vector<GuidanceSetting> settings;
  int64_t per_class = 100;
  int64_t batch_size = 250;
  SampleOptions sampling;  // sampler, steps, eta, seed (guidance fields are set per setting)
};

struct SettingResult {
  GuidanceSetting setting;
  double judge_accuracy = 0, frechet = 0, within_class = 0;
  std::vector<double> class_accuracy;
  double seconds = 0, images_per_second = 0;
  torch::Tensor images;  // uint8, class-major: per_class images of class 0, then class 1, ...
};

struct SweepReport {
  std::vector<SettingResult> results;
  double judge_test_accuracy = 0;   // the judge on the real test images
  double real_frechet = 0;          // real training images (same count as a setting's samples) vs test: the metric's floor
  double real_within_class = 0;     // the diversity of real test images, same protocol
  nlohmann::json to_json() const;
};

// `noisy_classifier` may be null when no setting is of kind classifier.
SweepReport guidance_sweep(Trained<DiffusionModel>& model, Trained<NoisyClassifier>* noisy_classifier,
                           Trained<ImageClassifier>& judge, const SweepOptions& options, torch::Device device);

// Writes DIR/samples.csv, samples.json, tradeoff.png (the three metrics against the scale) and
// one grid_<setting>.png per setting (10 samples per class, a row per class).
void write_sweep(const SweepReport& report, const std::string& dir, const std::vector<std::string>& class_names);

}  // namespace selfsup::diffusion
