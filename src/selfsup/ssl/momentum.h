// Momentum (EMA) encoders: θk ← m·θk + (1−m)·θq over parameters only. BatchNorm running
// statistics are not averaged (official MoCo, BYOL and solo-learn do the same; the key/target
// network keeps its own batch statistics).
#pragma once

#include <torch/torch.h>

namespace selfsup::ssl {

// Copies every parameter and buffer of `online` into `target` and freezes `target`'s parameters.
void init_momentum_copy(torch::nn::Module& target, const torch::nn::Module& online);

// θ_target ← m·θ_target + (1−m)·θ_online for each parameter (names must match).
void momentum_update(torch::nn::Module& target, const torch::nn::Module& online, double m);

}  // namespace selfsup::ssl
