#include "selfsup/train/momentum.h"

#include "selfsup/core/error.h"
#include "selfsup/train/schedule.h"

namespace selfsup::train {
namespace {

void check_same_size(size_t target, size_t online) {
  if (target != online) throw Error("momentum network: online and target networks differ in structure");
}

}  // namespace

void MomentumBranch::follow(std::shared_ptr<torch::nn::Module> target, std::shared_ptr<torch::nn::Module> online) {
  torch::NoGradGuard no_grad;
  auto tp = target->named_parameters(), op = online->named_parameters();
  check_same_size(tp.size(), op.size());
  for (size_t i = 0; i < tp.size(); ++i) {
    tp[i].value().copy_(op[i].value());
    tp[i].value().set_requires_grad(false);
  }
  auto tb = target->named_buffers(), ob = online->named_buffers();
  check_same_size(tb.size(), ob.size());
  for (size_t i = 0; i < tb.size(); ++i) tb[i].value().copy_(ob[i].value());
  pairs_.emplace_back(std::move(target), std::move(online));
}

double MomentumBranch::momentum(double progress) const { return cosine_ramp(start_, end_, progress); }

void MomentumBranch::update(double m) {
  torch::NoGradGuard no_grad;
  for (auto& [target, online] : pairs_) {
    auto tp = target->parameters(), op = online->parameters();
    check_same_size(tp.size(), op.size());
    for (size_t i = 0; i < tp.size(); ++i) tp[i].mul_(m).add_(op[i], 1.0 - m);
  }
}

double MomentumBranch::update_at(double progress) {
  const double m = momentum(progress);
  update(m);
  return m;
}

}  // namespace selfsup::train
