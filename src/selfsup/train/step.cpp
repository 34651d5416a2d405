#include "selfsup/train/step.h"

#include <cmath>
#include <string>

#include "selfsup/train/precision.h"
#include "selfsup/train/trainer.h"

namespace selfsup::train {

uint64_t step_seed(int64_t seed, int64_t epoch, int64_t step) {
  return data::mix_seed(static_cast<uint64_t>(seed), static_cast<uint64_t>(epoch), static_cast<uint64_t>(step) + 2'000'003);
}

StepResult optimisation_step(Model& model, Optimizer& optimizer, const data::Batch& batch, StepContext& ctx,
                             double grad_clip, bool bf16, const std::function<void()>& after_backward) {
  StepOutput out;
  {
    AutocastGuard autocast(bf16, batch.views.empty() ? torch::Device(torch::kCPU) : batch.views[0].device());
    out = model.training_step(batch, ctx);
  }
  StepResult result{out.loss.item<double>(), std::move(out.logs)};
  if (!std::isfinite(result.loss)) throw Diverged("loss became " + std::to_string(result.loss));
  optimizer.zero_grad();
  out.loss.backward();
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
