// SGD (momentum), AdamW and LARS over named parameters. Biases and normalisation parameters
// (every tensor with ndim <= 1) are excluded from weight decay and from LARS's trust-ratio
// adaptation, as the Barlow Twins / solo-learn / VISSL LARS do. The state is saved into and
// restored from a torch archive so a resumed run continues bit-for-bit.
#pragma once

#include <torch/torch.h>

#include <string>
#include <vector>

namespace selfsup::config {
class Visitor;
}

namespace selfsup::train {

struct OptimizerConfig {
  std::string name = "sgd";  // sgd | adamw | lars
  double lr = 0.06;
  double momentum = 0.9;
  double weight_decay = 5e-4;
  bool nesterov = false;
  std::vector<double> betas{0.9, 0.999};
  double eps = 1e-8;
  double lars_eta = 0.02;
  bool lars_clip = true;
  void visit(config::Visitor& v);
};

struct NamedParameter {
  std::string name;
  torch::Tensor tensor;
  double lr_scale = 1.0;
  bool fixed_lr = false;  // ignore the schedule: always the configured base lr (SimSiam's predictor)
};

class Optimizer {
 public:
  Optimizer(std::vector<NamedParameter> params, OptimizerConfig config);

  void set_lr(double lr) { lr_ = lr; }
  double lr() const { return lr_; }
  void zero_grad();
  void step();

  void save(torch::serialize::OutputArchive& archive) const;
  void load(torch::serialize::InputArchive& archive);

  const std::vector<NamedParameter>& parameters() const { return params_; }

 private:
  struct State {
    torch::Tensor buf1, buf2;  // momentum / Adam first moment; Adam second moment
  };
  void sgd_like(NamedParameter& p, State& s, const torch::Tensor& grad, bool lars);
  void adamw(NamedParameter& p, State& s, const torch::Tensor& grad);
  static std::string state_key(size_t index, int which);
  double lr_for(const NamedParameter& p) const { return (p.fixed_lr ? config_.lr : lr_) * p.lr_scale; }

  std::vector<NamedParameter> params_;
  std::vector<State> state_;
  OptimizerConfig config_;
  double lr_;
  int64_t steps_ = 0;
};

// Every parameter of `module` that requires grad, with its dotted name.
std::vector<NamedParameter> trainable_parameters(const torch::nn::Module& module);

}  // namespace selfsup::train
