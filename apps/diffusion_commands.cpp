#include "diffusion_commands.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <optional>
#include <sstream>

#include "selfsup/core/error.h"
#include "selfsup/core/fs.h"
#include "selfsup/core/runtime.h"
#include "selfsup/diffusion/evaluate.h"
#include "selfsup/diffusion/generate.h"
#include "selfsup/diffusion/judge.h"
#include "selfsup/diffusion/trained.h"
#include "selfsup/io/png.h"
#include "validators.h"

namespace selfsup::cli {

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// A class given by index ("7") or by name ("sneaker", any case).
int64_t parse_class(const std::string& text, const std::vector<std::string>& names) {
  for (size_t i = 0; i < names.size(); ++i)
    if (lower(names[i]) == lower(text)) return static_cast<int64_t>(i);
  std::string all;
  for (size_t i = 0; i < names.size(); ++i) all += (i ? ", " : "") + std::to_string(i) + " " + names[i];
  try {
    size_t used = 0;
    const int64_t k = std::stoll(text, &used);
    if (used == text.size() && k >= 0 && k < static_cast<int64_t>(names.size())) return k;
  } catch (const std::exception&) {
  }
  throw Error("--class: '" + text + "' is not a class of this model (" + all + ")");
}

std::vector<double> parse_scales(const std::string& text, const std::string& option) {
  std::vector<double> out;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    if (item.empty()) continue;
    try {
      size_t used = 0;
      out.push_back(std::stod(item, &used));
      if (used != item.size() || !std::isfinite(out.back()) || out.back() < 0) throw std::invalid_argument(item);
    } catch (const std::exception&) {
      throw Error(option + ": expected comma-separated finite numbers >= 0, got '" + text + "'");
    }
  }
  return out;
}

}  // namespace

DiffusionCommands::DiffusionCommands(CLI::App& app, CLI::App& eval_cmd) {
  sample_cmd_ = app.add_subcommand(
      "sample", "Generate images with a diffusion checkpoint (DDIM or DDPM) and write them as a PNG grid.\n"
                "Guidance scale s: 0 = unconditional, 1 = conditional, > 1 = classifier-free guidance (w = s - 1)");
  auto* s = sample_cmd_;
  s->add_option("--checkpoint", checkpoint_, "checkpoint.pt of a diffusion run (selfsup train recipes/diffusion_cfg_fmnist.yaml)")->required();
  s->add_option("--class", class_, "class index or name (e.g. 7 or sneaker); default: every class, one row each");
  s->add_option("--guidance", guidance_, "classifier-free guidance scale s")->check(finite_in(0, 100))->capture_default_str();
  s->add_option("--sampler", sampler_, "ddim or ddpm (ancestral)")->check(CLI::IsMember({"ddim", "ddpm"}))->capture_default_str();
  s->add_option("--steps", steps_, "denoising steps (at most the model's timesteps)")
      ->check(integer_in(1, 100000))
      ->capture_default_str();
  s->add_option("--eta", eta_, "DDIM noise: 0 deterministic, 1 DDPM-like")->check(finite_in(0, 1))->capture_default_str();
  s->add_option("--variance", variance_, "DDPM variance: small (posterior) or large (beta)")
      ->check(CLI::IsMember({"small", "large"}))
      ->capture_default_str();
  s->add_option("-n", n_, "images: with --class, that many (default 64); without, per class (default 10)")
      ->check(integer_in(1, 100000));
  s->add_option("--seed", seed_, "seed of the noise: the same seed gives the same images")->capture_default_str();
  s->add_option("--classifier", classifier_, "classifier guidance: checkpoint of a noisy_classifier run");
  s->add_option("--classifier-scale", classifier_scale_, "classifier guidance scale (gamma); with --classifier and no --guidance, the model runs unconditionally (s = 0)")
      ->check(finite_in(0, 1000));
  s->add_option("--batch-size", batch_size_, "images sampled at once")->check(integer_in(1, 100000))->capture_default_str();
  s->add_option("--scale", scale_, "enlarge every tile this many times in the PNG")->check(integer_in(1, 32))->capture_default_str();
  s->add_option("--out", out_, "output PNG")->capture_default_str();

  eval_cmd.add_option("--judge", judge_, "samples: checkpoint of the judge classifier (selfsup train recipes/judge_fmnist.yaml)");
  eval_cmd.add_option("--guidance", cfg_scales_, "samples: classifier-free guidance scales to sweep (comma-separated; empty = none)")
      ->capture_default_str();
  eval_cmd.add_option("--classifier", classifier_, "samples: noisy classifier checkpoint for classifier guidance");
  eval_cmd.add_option("--classifier-scales", classifier_scales_, "samples: classifier guidance scales to sweep, e.g. 1,3,10");
  eval_cmd.add_option("--per-class", per_class_, "samples: images generated per class and setting")
      ->check(integer_in(1, 100000))
      ->capture_default_str();
  eval_cmd.add_option("--sampler", sampler_, "samples: ddim or ddpm")->check(CLI::IsMember({"ddim", "ddpm"}))->capture_default_str();
  eval_cmd.add_option("--steps", steps_, "samples: denoising steps")->check(integer_in(1, 100000))->capture_default_str();
  eval_cmd.add_option("--seed", seed_, "samples: seed of the noise")->capture_default_str();
  eval_cmd.add_option("--batch-size", batch_size_, "samples: images sampled at once")
      ->check(integer_in(1, 100000))
      ->capture_default_str();
  eval_cmd.add_option("--out", sweep_out_, "samples: output folder (samples.csv, samples.json, tradeoff.png, grids)")
      ->capture_default_str();
}

bool DiffusionCommands::run(int& exit_code) {
  if (!*sample_cmd_) return false;
  exit_code = sample();
  return true;
}

int DiffusionCommands::sample() {
  const auto t = diffusion::load_diffusion(checkpoint_, parse_device("cpu"));
  configure_threads(t.recipe.threads);
  const auto device = parse_device(t.recipe.device);
  t.model->to(device);
  diffusion::SampleOptions o;
  o.sampler = sampler_;
  o.steps = steps_;
  o.eta = eta_;
  o.variance = variance_;
  o.guidance = guidance_;
  o.seed = static_cast<uint64_t>(seed_);
  std::optional<diffusion::Trained<diffusion::NoisyClassifier>> classifier;
  if (!classifier_.empty()) {
    classifier = diffusion::load_noisy_classifier(classifier_, device);
    o.classifier = classifier->model->classifier();
    o.classifier_scale = classifier_scale_;
    if (sample_cmd_->count("--guidance") == 0) o.guidance = 0;
  } else if (classifier_scale_ != 0) {
    throw Error("sample: --classifier-scale needs --classifier CHECKPOINT (a noisy_classifier run)");
  }
  const auto& names = t.test.class_names;
  torch::Tensor labels;
  int64_t columns;
  if (!class_.empty()) {
    const int64_t n = n_ > 0 ? n_ : 64;
    labels = torch::full({n}, parse_class(class_, names), torch::kLong);
    columns = static_cast<int64_t>(std::ceil(std::sqrt(static_cast<double>(n))));
  } else {
    const int64_t n = n_ > 0 ? n_ : 10;
    labels = torch::arange(static_cast<int64_t>(names.size())).repeat_interleave(n);
    columns = n;
  }
  const auto start = std::chrono::steady_clock::now();
  const auto images = diffusion::generate(*t.model, labels, o, batch_size_, device);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  io::write_png(out_, diffusion::sample_grid(images, columns, scale_));
  std::cout << "wrote " << out_ << ": " << labels.size(0) << " images"
            << (class_.empty() ? " (one row per class)" : " of class " + names[labels[0].item<int64_t>()]) << ", "
            << sampler_ << " " << steps_ << " steps, guidance s = " << o.guidance;
  if (classifier) std::cout << ", classifier guidance " << classifier_scale_;
  std::cout << " (" << std::fixed << std::setprecision(1) << labels.size(0) / seconds << " images/s)" << std::endl;
  return 0;
}

int DiffusionCommands::eval_samples(const std::string& checkpoint, const std::string& json_out) {
  if (checkpoint.empty()) throw Error("eval samples: give --checkpoint PATH of a diffusion run");
  if (judge_.empty()) throw Error("eval samples: give --judge PATH of a classifier run (recipes/judge_fmnist.yaml)");
  diffusion::SweepOptions o;  // the flags first: a typo is reported before minutes of loading
  for (double s : parse_scales(cfg_scales_, "--guidance")) o.settings.push_back({"cfg", s});
  for (double g : parse_scales(classifier_scales_, "--classifier-scales")) o.settings.push_back({"classifier", g});
  if (o.settings.empty()) throw Error("eval samples: nothing to measure (--guidance and --classifier-scales are empty)");
  auto model = diffusion::load_diffusion(checkpoint, parse_device("cpu"));
  configure_threads(model.recipe.threads);
  std::cout << runtime_summary() << std::endl;
  const auto device = parse_device(model.recipe.device);
  model.model->to(device);
  auto judge = diffusion::load_classifier(judge_, device);
  std::optional<diffusion::Trained<diffusion::NoisyClassifier>> noisy;
  if (!classifier_.empty()) noisy = diffusion::load_noisy_classifier(classifier_, device);
  o.per_class = per_class_;
  o.batch_size = batch_size_;
  o.sampling.sampler = sampler_;
  o.sampling.steps = steps_;
  o.sampling.seed = static_cast<uint64_t>(seed_);
  const auto report = diffusion::guidance_sweep(model, noisy ? &*noisy : nullptr, judge, o, device);
  diffusion::write_sweep(report, sweep_out_, model.test.class_names);
  std::cout << "\n" << std::left << std::setw(18) << "setting" << std::setw(16) << "judge accuracy" << std::setw(18)
            << "Frechet distance" << std::setw(22) << "within-class distance" << "images/s\n";
  for (const auto& r : report.results)
    std::cout << std::setw(18) << r.setting.name() << std::setw(16) << std::fixed << std::setprecision(2)
              << 100 * r.judge_accuracy << std::setw(18) << r.frechet << std::setw(22) << r.within_class
              << std::setprecision(1) << r.images_per_second << "\n";
  std::cout << std::setw(18) << "real images" << std::setw(16) << std::setprecision(2) << 100 * report.judge_test_accuracy
            << std::setw(18) << report.real_frechet << std::setw(22) << report.real_within_class << "\n";
  std::cout << "wrote " << sweep_out_ << "/{samples.csv,samples.json,tradeoff.png,grid_*.png}" << std::endl;
  if (!json_out.empty()) atomic_write(json_out, report.to_json().dump(2) + "\n");
  return 0;
}

}  // namespace selfsup::cli
