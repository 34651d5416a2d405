// The small model behind the checkpoint seeds and fuzz target: a Linear and a BatchNorm (parameters
// and buffers), with an SGD optimiser that has taken one step (so its momentum state is saved too).
#pragma once

#include <torch/torch.h>

#include "selfsup/train/optimizer.h"

namespace selfsup::fuzz {

struct CheckpointModelImpl : torch::nn::Module {
  CheckpointModelImpl() {
    linear = register_module("linear", torch::nn::Linear(4, 3));
    norm = register_module("norm", torch::nn::BatchNorm1d(3));
  }
  torch::Tensor forward(const torch::Tensor& x) { return norm(linear(x)); }
  torch::nn::Linear linear{nullptr};
  torch::nn::BatchNorm1d norm{nullptr};
};
TORCH_MODULE(CheckpointModel);

struct CheckpointState {
  CheckpointModel model;
  train::Optimizer optimizer;
  CheckpointState() : model(), optimizer(train::trainable_parameters(*model), {}) {
    model->forward(torch::randn({8, 4})).square().sum().backward();
    optimizer.step();
  }
};

}  // namespace selfsup::fuzz
