// Target networks that follow online ones by an exponential moving average: MoCo's key encoder,
// BYOL's target, DINO's teacher, SimCLR v2's memory encoder, the diffusion model's EMA weights.
// θ_target ← m·θ_target + (1−m)·θ_online over parameters only. BatchNorm running statistics are
// not averaged (official MoCo, BYOL and solo-learn do the same; the target keeps its own).
#pragma once

#include <torch/torch.h>

#include <memory>
#include <utility>
#include <vector>

namespace selfsup::train {

class MomentumBranch {
 public:
  // m ramps from `start` (progress 0) to `end` (progress 1) on half a cosine (MoCo v3's
  // adjust_moco_momentum); start == end keeps it constant.
  explicit MomentumBranch(double start = 0.99, double end = 0.99) : start_(start), end_(end) {}

  // Copies every parameter and buffer of `online` into `target`, freezes `target`'s parameters,
  // and updates the pair on every update() from now on.
  void follow(std::shared_ptr<torch::nn::Module> target, std::shared_ptr<torch::nn::Module> online);

  double momentum(double progress) const;
  // Moves every target towards its online network with momentum m.
  void update(double m);
  // update(momentum(progress)); returns the m used.
  double update_at(double progress);

 private:
  double start_, end_;
  std::vector<std::pair<std::shared_ptr<torch::nn::Module>, std::shared_ptr<torch::nn::Module>>> pairs_;
};

}  // namespace selfsup::train
