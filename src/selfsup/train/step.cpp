#include "selfsup/train/step.h"

#include <cmath>
#include <string>

#include "selfsup/core/distributed.h"
#include "selfsup/train/precision.h"
#include "selfsup/train/trainer.h"

namespace selfsup::train {

uint64_t step_seed(int64_t seed, int64_t epoch, int64_t step) {
  return data::mix_seed(static_cast<uint64_t>(seed), static_cast<uint64_t>(epoch), static_cast<uint64_t>(step) + 2'000'003);
}

namespace {

// The loss and logs of the global batch: the mean of the processes' values (each a mean over its
// part, or the same global value on all of them when the method gathered its embeddings).
void average_over_processes(StepResult& r) {
  if (!dist::active()) return;
  std::vector<double> values{r.loss};
  for (const auto& kv : r.logs) values.push_back(kv.second);
  auto t = torch::tensor(values, torch::kFloat64);
  dist::all_reduce_sum_(t);
  t.div_(static_cast<double>(dist::world_size()));
  r.loss = t[0].item<double>();
  int64_t i = 1;
  for (auto& kv : r.logs) kv.second = t[i++].item<double>();
}

}  // namespace

StepResult optimisation_step(Model& model, Optimizer& optimizer, const data::Batch& batch, StepContext& ctx,
                             double grad_clip, bool bf16, const std::function<void()>& after_backward,
                             GradientAverager* averager) {
  StepOutput out;
  {
    AutocastGuard autocast(bf16, batch.views.empty() ? torch::Device(torch::kCPU) : batch.views[0].device());
    out = model.training_step(batch, ctx);
  }
  StepResult result{out.loss.item<double>(), std::move(out.logs)};
  average_over_processes(result);
  if (!std::isfinite(result.loss)) throw Diverged("loss became " + std::to_string(result.loss));
  optimizer.zero_grad();
  if (averager) averager->begin();
  out.loss.backward();
  if (averager) averager->finish();
  if (after_backward) after_backward();
  if (grad_clip > 0) {
    std::vector<torch::Tensor> params;
    for (const auto& p : optimizer.parameters()) params.push_back(p.tensor);
    result.logs["grad_norm"] = torch::nn::utils::clip_grad_norm_(params, grad_clip);
  }
  optimizer.step();
  model.after_step(ctx);
  return result;
}

}  // namespace selfsup::train
