#include "selfsup/train/optimizer.h"

#include <cmath>

#include "selfsup/core/config.h"
#include "selfsup/core/error.h"

namespace selfsup::train {

void OptimizerConfig::visit(config::Visitor& v) {
  v("name", name, "sgd (momentum), adamw, or lars (SGD + layer-wise trust ratio, for large batches)");
  v("lr", lr, "base learning rate (peak value after warm-up); not rescaled by batch size", config::positive);
  v("momentum", momentum, "sgd/lars momentum", config::probability);
  v("weight_decay", weight_decay, "L2 (sgd/lars) or decoupled (adamw) weight decay; never applied to biases and norm parameters", config::non_negative);
  v("nesterov", nesterov, "sgd: Nesterov momentum");
  v("betas", betas, "adamw: [beta1, beta2]");
  v("eps", eps, "adamw: denominator epsilon", config::positive);
  v("lars_eta", lars_eta, "lars: trust coefficient eta (solo-learn uses 0.02 on small datasets)", config::positive);
  v("lars_clip", lars_clip, "lars: clip the adaptive lr at the global lr (solo-learn clip_lr)");
}

std::vector<NamedParameter> trainable_parameters(const torch::nn::Module& module) {
  std::vector<NamedParameter> out;
  for (const auto& item : module.named_parameters(/*recurse=*/true))
    if (item.value().requires_grad()) out.push_back({item.key(), item.value()});
  return out;
}

Optimizer::Optimizer(std::vector<NamedParameter> params, OptimizerConfig config)
    : params_(std::move(params)), state_(params_.size()), config_(std::move(config)), lr_(config_.lr) {
  if (config_.name != "sgd" && config_.name != "adamw" && config_.name != "lars")
    throw Error("train.optimizer.name: unknown optimizer '" + config_.name + "' (expected sgd, adamw or lars)");
  if (config_.betas.size() != 2) throw Error("train.optimizer.betas: expected two numbers [beta1, beta2]");
}

void Optimizer::zero_grad() {
  for (auto& p : params_) {
    auto& g = p.tensor.mutable_grad();
    if (g.defined()) g.zero_();
  }
}

void Optimizer::step() {
  torch::NoGradGuard no_grad;
  ++steps_;
  for (size_t i = 0; i < params_.size(); ++i) {
    const auto& grad = params_[i].tensor.grad();
    if (!grad.defined()) continue;
    if (config_.name == "adamw")
      adamw(params_[i], state_[i], grad);
    else
      sgd_like(params_[i], state_[i], grad, config_.name == "lars");
  }
}

void Optimizer::sgd_like(NamedParameter& p, State& s, const torch::Tensor& grad, bool lars) {
  const bool is_weight = p.tensor.dim() > 1;  // biases and norm parameters: no decay, no adaptation
  const double lr = lr_for(p);
  torch::Tensor d = grad;
  if (is_weight && config_.weight_decay != 0) d = d.add(p.tensor, config_.weight_decay);
  if (lars && is_weight) {
    const double p_norm = p.tensor.norm().item<double>();
    const double g_norm = grad.norm().item<double>();
    if (p_norm > 0 && g_norm > 0) {
      double local = config_.lars_eta * p_norm / (g_norm + p_norm * config_.weight_decay + 1e-8);
      if (config_.lars_clip) local = std::min(local / lr, 1.0);
      d = d.mul(local);
    }
  }
  if (config_.momentum != 0) {
    if (!s.buf1.defined())
      s.buf1 = d.clone();
    else
      s.buf1.mul_(config_.momentum).add_(d);
    d = config_.nesterov ? d.add(s.buf1, config_.momentum) : s.buf1;
  }
  p.tensor.add_(d, -lr);
}

void Optimizer::adamw(NamedParameter& p, State& s, const torch::Tensor& grad) {
  const double lr = lr_for(p);
  const double b1 = config_.betas[0], b2 = config_.betas[1];
  if (p.tensor.dim() > 1 && config_.weight_decay != 0) p.tensor.mul_(1.0 - lr * config_.weight_decay);
  if (!s.buf1.defined()) {
    s.buf1 = torch::zeros_like(p.tensor);
    s.buf2 = torch::zeros_like(p.tensor);
  }
  s.buf1.mul_(b1).add_(grad, 1 - b1);
  s.buf2.mul_(b2).addcmul_(grad, grad, 1 - b2);
  const double c1 = 1 - std::pow(b1, static_cast<double>(steps_));
  const double c2 = 1 - std::pow(b2, static_cast<double>(steps_));
  const auto denom = (s.buf2 / c2).sqrt_().add_(config_.eps);
  p.tensor.addcdiv_(s.buf1, denom, -lr / c1);
}

// Archive keys cannot hold the dots of parameter names; the parameter order is fixed by the model.
std::string Optimizer::state_key(size_t index, int which) {
  return "state_" + std::to_string(index) + "_buf" + std::to_string(which);
}

void Optimizer::save(torch::serialize::OutputArchive& archive) const {
  archive.write("steps", torch::tensor(steps_));
  archive.write("lr", torch::tensor(lr_, torch::kFloat64));
  archive.write("parameters", torch::tensor(static_cast<int64_t>(params_.size())));
  for (size_t i = 0; i < params_.size(); ++i) {
    if (state_[i].buf1.defined()) archive.write(state_key(i, 1), state_[i].buf1, /*is_buffer=*/true);
    if (state_[i].buf2.defined()) archive.write(state_key(i, 2), state_[i].buf2, /*is_buffer=*/true);
  }
}

void Optimizer::load(torch::serialize::InputArchive& archive) {
  // A fresh tensor per read: reading into a defined tensor re-points it without converting dtype.
  torch::Tensor t;
  archive.read("steps", t);
  steps_ = t.item<int64_t>();
  t = torch::Tensor();
  archive.read("lr", t);
  lr_ = t.item<double>();
  t = torch::Tensor();
  archive.read("parameters", t);
  if (t.item<int64_t>() != static_cast<int64_t>(params_.size()))
    throw Error("optimiser state holds " + std::to_string(t.item<int64_t>()) + " parameters, the model has " +
                std::to_string(params_.size()));
  for (size_t i = 0; i < params_.size(); ++i) {
    for (int which : {1, 2}) {
      torch::Tensor value;
      if (!archive.try_read(state_key(i, which), value, /*is_buffer=*/true)) continue;
      if (value.sizes() != params_[i].tensor.sizes())
        throw Error("optimiser state of '" + params_[i].name + "' has the wrong shape");
      (which == 1 ? state_[i].buf1 : state_[i].buf2) = value.to(params_[i].tensor.device());
    }
  }
}

}  // namespace selfsup::train
