#include "selfsup/ssl/momentum.h"

#include "selfsup/core/error.h"

namespace selfsup::ssl {
namespace {

void check_same(const torch::OrderedDict<std::string, torch::Tensor>& a,
                const torch::OrderedDict<std::string, torch::Tensor>& b) {
  if (a.size() != b.size()) throw Error("momentum encoder: online and target networks differ in structure");
}

}  // namespace

void init_momentum_copy(torch::nn::Module& target, const torch::nn::Module& online) {
  torch::NoGradGuard no_grad;
  auto tp = target.named_parameters(), op = online.named_parameters();
  check_same(tp, op);
  for (size_t i = 0; i < tp.size(); ++i) {
    tp[i].value().copy_(op[i].value());
    tp[i].value().set_requires_grad(false);
  }
  auto tb = target.named_buffers(), ob = online.named_buffers();
  check_same(tb, ob);
  for (size_t i = 0; i < tb.size(); ++i) tb[i].value().copy_(ob[i].value());
}

void momentum_update(torch::nn::Module& target, const torch::nn::Module& online, double m) {
  torch::NoGradGuard no_grad;
  auto tp = target.parameters(), op = online.parameters();
  if (tp.size() != op.size()) throw Error("momentum encoder: online and target networks differ in structure");
  for (size_t i = 0; i < tp.size(); ++i) tp[i].mul_(m).add_(op[i], 1.0 - m);
}

}  // namespace selfsup::ssl
