#include "bench_commands.h"

#include <nlohmann/json.hpp>

#include <iomanip>
#include <iostream>
#include <sstream>

#include "selfsup/clip/embed.h"
#include "selfsup/core/fs.h"
#include "selfsup/core/runtime.h"
#include "selfsup/diffusion/config.h"
#include "selfsup/diffusion/model.h"
#include "selfsup/diffusion/sampler.h"
#include "selfsup/eval/knn.h"
#include "selfsup/io/safetensors.h"
#include "selfsup/train/calibration.h"
#include "selfsup/train/step_bench.h"

namespace selfsup::cli {
namespace {

std::string decimals(double v, int digits) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(digits) << v;
  return s.str();
}

void write_json(const std::string& path, const nlohmann::json& j) {
  if (!path.empty()) atomic_write(path, j.dump(2) + "\n");
}

}  // namespace

BenchCommands::BenchCommands(CLI::App& app) {
  bench_cmd_ = app.add_subcommand(
      "bench", "Calibrate this machine: images/s of a fixed ResNet-18 training step (the yardstick of every time\n"
               "budget in docs/results.md; the reference machine does 1273) and the GEMM / convolution peaks, ~15 s");
  bench_cmd_->add_option("--threads", threads_, "LibTorch threads (the yardstick is defined on 2)")->capture_default_str();
  bench_cmd_->add_option("--steps", steps_, "timed calibration steps")->capture_default_str()->check(CLI::Range(1, 1000));
  bench_cmd_->add_flag("--no-peaks", no_peaks_, "skip the GEMM and convolution microbenchmarks");
  bench_cmd_->add_option("--json", json_, "also write the figures to this JSON file");

  step_cmd_ = bench_cmd_->add_subcommand(
      "step", "Time the trainer's optimisation step for a recipe (model, loss, backward, optimiser, momentum and\n"
              "queue updates) on one fixed batch of its data, without the loader; prints the median images/s");
  step_cmd_->add_option("recipe", recipe_, "recipe YAML file")->required();
  step_cmd_->add_option("overrides", overrides_, "key=value overrides, e.g. threads=2 train.batch_size=128");
  step_cmd_->add_option("--steps", step_steps_, "timed steps")->capture_default_str()->check(CLI::Range(1, 100000));
  step_cmd_->add_option("--warmup", warmup_, "untimed steps first")->capture_default_str()->check(CLI::Range(0, 1000));
  step_cmd_->add_option("--dump", dump_,
                        "write the weights before the first step, the batch and the first loss to this safetensors file\n"
                        "(bench/reference/*.py --check reads it and recomputes the loss)");
  step_cmd_->add_option("--json", json_, "also write the result to this JSON file");

  knn_cmd_ = bench_cmd_->add_subcommand(
      "knn", "Time the weighted kNN classifier (k=200, T=0.1, 10 classes) on random features, by default the size of\n"
             "Fashion-MNIST's: 60000 train and 10000 test features of dimension 128");
  knn_cmd_->add_option("--threads", threads_, "LibTorch threads")->capture_default_str();
  knn_cmd_->add_option("--train", knn_train_, "train features")->capture_default_str()->check(CLI::Range(200, 100000000));
  knn_cmd_->add_option("--test", knn_test_, "test features")->capture_default_str()->check(CLI::Range(1, 100000000));
  knn_cmd_->add_option("--dim", knn_dim_, "feature dimension")->capture_default_str()->check(CLI::Range(1, 100000));
  knn_cmd_->add_option("--repeats", repeats_, "timed runs")->capture_default_str()->check(CLI::Range(1, 1000));
  knn_cmd_->add_option("--dump", dump_, "write the features, labels and predictions to this safetensors file\n"
                                        "(bench/reference/knn.py --check reads it)");
  knn_cmd_->add_option("--json", json_, "also write the result to this JSON file");

  embed_cmd_ = bench_cmd_->add_subcommand(
      "embed", "Time CLIP image embedding (image tower, projection, normalisation; evaluation mode, no gradients) for a\n"
               "CLIP recipe's model on random images, weights as initialised");
  sample_cmd_ = bench_cmd_->add_subcommand(
      "sample", "Time DDIM sampling steps with classifier-free guidance (scale 3: conditional and unconditional passes in\n"
                "one batch) for a diffusion recipe's U-Net, weights as initialised");
  for (auto* cmd : {embed_cmd_, sample_cmd_}) {
    cmd->add_option("recipe", recipe_, "recipe YAML file")->required();
    cmd->add_option("overrides", overrides_, "key=value overrides, e.g. threads=2");
    cmd->add_option("--repeats", repeats_, "timed runs")->capture_default_str()->check(CLI::Range(1, 1000));
    cmd->add_option("--json", json_, "also write the result to this JSON file");
  }
  embed_cmd_->add_option("--batch-size", embed_batch_, "images per forward pass")->capture_default_str()->check(CLI::Range(1, 100000));
  sample_cmd_->add_option("--batch-size", sample_batch_, "images sampled at once")->capture_default_str()->check(CLI::Range(1, 100000));
  sample_cmd_->add_option("--steps", sample_steps_, "DDIM steps per timed run")->capture_default_str()->check(CLI::Range(1, 1000));
}

bool BenchCommands::run(int& exit_code) {
  if (!*bench_cmd_) return false;
  exit_code = *step_cmd_ ? step() : *knn_cmd_ ? knn() : *embed_cmd_ ? embed() : *sample_cmd_ ? sample() : calibration();
  return true;
}

int BenchCommands::calibration() {
  configure_threads(threads_);
  std::cout << runtime_summary() << std::endl;
  const auto c = train::calibrate(steps_, !no_peaks_);
  std::cout << "calibration: " << decimals(c.images_per_second, 0) << " images/s (reference machine "
            << decimals(train::kReferenceImagesPerSecond, 0) << "; budget factor " << decimals(c.budget_factor(), 2) << "), "
            << decimals(c.step_gflops, 1) << " GFLOP/s on the step" << std::endl;
  nlohmann::json j{{"threads", threads_}, {"images_per_second", c.images_per_second}, {"step_gflops", c.step_gflops},
                   {"budget_factor", c.budget_factor()}, {"runtime", runtime_summary()}};
  if (!no_peaks_) {
    std::cout << "peaks: GEMM 2048^3 fp32 " << decimals(c.gemm_fp32, 1) << " GFLOP/s, bf16 " << decimals(c.gemm_bf16, 1)
              << " | conv 3x3 64ch 14x14 fp32 " << decimals(c.conv_fp32, 1) << " GFLOP/s, bf16 " << decimals(c.conv_bf16, 1)
              << std::endl;
    j["gemm_fp32_gflops"] = c.gemm_fp32;
    j["gemm_bf16_gflops"] = c.gemm_bf16;
    j["conv_fp32_gflops"] = c.conv_fp32;
    j["conv_bf16_gflops"] = c.conv_bf16;
  }
  write_json(json_, j);
  return 0;
}

int BenchCommands::step() {
  const Recipe recipe = load_recipe(recipe_, overrides_);
  configure_threads(recipe.threads);
  std::cout << runtime_summary() << std::endl;
  train::StepBenchOptions o;
  o.steps = step_steps_;
  o.warmup = warmup_;
  o.dump_path = dump_;
  const auto r = train::bench_training_step(recipe, o);
  std::cout << recipe.name << ": " << decimals(r.images_per_second, 1) << " images/s (median of " << r.step_seconds.size()
            << " steps, " << decimals(r.median_seconds * 1000, 1) << " ms/step, batch " << r.batch_size << ", "
            << r.parameters << " trainable parameters, first loss " << decimals(r.first_loss, 6) << ")" << std::endl;
  if (!dump_.empty()) std::cout << "dumped weights, batch and first loss to " << dump_ << std::endl;
  write_json(json_, {{"recipe", recipe.name},
                     {"images_per_second", r.images_per_second},
                     {"median_seconds", r.median_seconds},
                     {"step_seconds", r.step_seconds},
                     {"batch_size", r.batch_size},
                     {"parameters", r.parameters},
                     {"first_loss", r.first_loss},
                     {"threads", at::get_num_threads()}});
  return 0;
}

int BenchCommands::knn() {
  configure_threads(threads_);
  std::cout << runtime_summary() << std::endl;
  torch::manual_seed(0);
  const auto train = torch::randn({knn_train_, knn_dim_}), test = torch::randn({knn_test_, knn_dim_});
  const auto labels = torch::randint(0, 10, {knn_train_}, torch::kLong);
  auto predict = [&] { return eval::knn_predict(train, labels, test, 10, 200, 0.1); };
  if (!dump_.empty())
    io::write_safetensors(dump_, {{"train", train}, {"test", test}, {"train_labels", labels}, {"predictions", predict()}});
  const double median = train::median_seconds([&] { predict(); }, repeats_);
  std::cout << "knn: " << decimals(knn_test_ / median, 1) << " test features/s (" << knn_test_ << " against "
            << knn_train_ << " of dimension " << knn_dim_ << " in " << decimals(median * 1000, 1) << " ms, median of "
            << repeats_ << ")" << std::endl;
  write_json(json_, {{"images_per_second", knn_test_ / median}, {"median_seconds", median}, {"threads", threads_}});
  return 0;
}

std::unique_ptr<train::Task> BenchCommands::open_task(const std::string& task, Recipe& recipe, torch::Device& device) const {
  recipe = load_recipe(recipe_, overrides_);
  if (recipe.task != task)
    throw Error(recipe_ + ": this benchmark needs a recipe with task: " + task + ", got task " + recipe.task);
  configure_threads(recipe.threads);
  std::cout << runtime_summary() << std::endl;
  device = parse_device(recipe.device);
  return train::make_task(recipe, device);
}

int BenchCommands::embed() {
  Recipe recipe;
  torch::Device device(torch::kCPU);
  const auto task = open_task("clip", recipe, device);
  auto& model = dynamic_cast<clip::ClipModel&>(*task->model());
  const auto& view = recipe.augment.views.at(0);
  const auto& train = task->train_images();
  torch::manual_seed(0);
  const auto images = torch::randint(0, 256, {embed_batch_, train.channels(), view.crop.size, view.crop.size}, torch::kUInt8);
  const double median = train::median_seconds([&] { clip::embed_images(model, images, view, device, embed_batch_); }, repeats_);
  std::cout << recipe.name << " embed: " << decimals(embed_batch_ / median, 1) << " images/s (batch " << embed_batch_
            << " in " << decimals(median * 1000, 1) << " ms, median of " << repeats_ << ")" << std::endl;
  write_json(json_, {{"images_per_second", embed_batch_ / median}, {"median_seconds", median}, {"threads", at::get_num_threads()}});
  return 0;
}

int BenchCommands::sample() {
  Recipe recipe;
  torch::Device device(torch::kCPU);
  const auto task = open_task("diffusion", recipe, device);
  auto& model = dynamic_cast<diffusion::DiffusionModel&>(*task->model());
  const auto labels = torch::arange(sample_batch_, torch::kLong).remainder(model.num_classes);
  diffusion::SampleOptions o;
  o.steps = sample_steps_;
  o.guidance = 3;
  o.progress = false;
  const auto net = model.denoiser();
  const std::vector<int64_t> shape{model.channels, model.image_side, model.image_side};
  const double median = train::median_seconds([&] {
    diffusion::sample(net, model.schedule, model.config.prediction, model.null_class(), labels, shape, o, device);
  }, repeats_);
  const double per_step = median / static_cast<double>(sample_steps_);
  std::cout << recipe.name << " sample: " << decimals(sample_batch_ / per_step, 1) << " images/s per DDIM step (batch "
            << sample_batch_ << ", " << decimals(per_step * 1000, 1) << " ms a step, guidance 3, median of " << repeats_
            << " runs of " << sample_steps_ << " steps)" << std::endl;
  write_json(json_, {{"images_per_second", sample_batch_ / per_step}, {"median_seconds", per_step}, {"threads", at::get_num_threads()}});
  return 0;
}

}  // namespace selfsup::cli
