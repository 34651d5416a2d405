#include "selfsup/train/step_bench.h"

#include <algorithm>
#include <chrono>
#include <iomanip>
#include <sstream>

#include "selfsup/core/error.h"
#include "selfsup/core/runtime.h"
#include "selfsup/data/loader.h"
#include "selfsup/io/safetensors.h"
#include "selfsup/models/state_dict.h"
#include "selfsup/train/precision.h"
#include "selfsup/train/step.h"

namespace selfsup::train {

namespace {

void dump(const std::string& path, const TensorMap& weights, const data::Batch& batch, double loss, uint64_t seed) {
  TensorMap tensors;
  for (const auto& [name, t] : weights) tensors["model." + name] = t;
  for (size_t v = 0; v < batch.views.size(); ++v) tensors["view." + std::to_string(v)] = batch.views[v];
  if (batch.labels.defined()) tensors["labels"] = batch.labels;
  if (batch.indices.defined()) tensors["indices"] = batch.indices;
  std::ostringstream loss_text;
  loss_text << std::setprecision(9) << loss;  // every digit a float32 loss has
  io::write_safetensors(path, tensors, {{"loss", loss_text.str()}, {"generator_seed", std::to_string(seed)}});
}

}  // namespace

StepBenchResult bench_training_step(const Recipe& recipe, const StepBenchOptions& o) {
  if (o.steps < 1 || o.warmup < 0) throw Error("bench step: expected steps >= 1 and warmup >= 0");
  const auto device = parse_device(recipe.device);
  const bool bf16 = resolve_precision(recipe.precision, device) == "bf16";
  auto task = make_task(recipe, device);
  auto model = task->model();
  Optimizer optimizer(model->optimizer_parameters(), recipe.train.optimizer);
  optimizer.set_lr(recipe.train.optimizer.lr);
  model->train();

  auto loader_options = training_loader_options(recipe, task->train_images());
  loader_options.workers = 0;
  data::Loader loader(task->train_images(), loader_options, augment::views_transform(recipe.augment.views, device));
  if (loader.batches_per_epoch() == 0) throw Error("train.batch_size: larger than the training set");
  loader.start_epoch(0);
  const auto batch = loader.next();

  StepBenchResult result;
  result.batch_size = loader_options.batch_size;
  for (const auto& p : optimizer.parameters()) result.parameters += p.tensor.numel();
  TensorMap before;
  if (!o.dump_path.empty())
    for (const auto& [name, t] : models::state_dict(*model)) before[name] = t.detach().clone();

  const int64_t total = o.warmup + o.steps;
  for (int64_t step = 0; step < total; ++step) {
    StepContext ctx;
    ctx.global_step = step;
    ctx.total_steps = std::max<int64_t>(total, 1000);  // momentum / temperature schedules stay near their start
    ctx.generator = at::make_generator<at::CPUGeneratorImpl>(step_seed(recipe.seed, 0, step));
    const auto start = std::chrono::steady_clock::now();
    const auto out = optimisation_step(*model, optimizer, *batch, ctx, recipe.train.grad_clip, bf16);
    if (device.is_cuda()) torch::cuda::synchronize();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (step == 0) {
      result.first_loss = out.loss;
      if (!o.dump_path.empty()) dump(o.dump_path, before, *batch, out.loss, step_seed(recipe.seed, 0, 0));
    }
    if (step >= o.warmup) result.step_seconds.push_back(seconds);
  }
  auto sorted = result.step_seconds;
  std::sort(sorted.begin(), sorted.end());
  result.median_seconds = sorted[sorted.size() / 2];
  result.images_per_second = static_cast<double>(result.batch_size) / result.median_seconds;
  return result;
}

}  // namespace selfsup::train
