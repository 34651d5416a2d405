#include "selfsup/models/dino_head.h"

#include "selfsup/core/error.h"

namespace selfsup::models {

namespace nn = torch::nn;

WeightNormLinearImpl::WeightNormLinearImpl(int64_t in, int64_t out) {
  auto v = torch::empty({out, in});
  nn::init::kaiming_uniform_(v, std::sqrt(5.0));  // nn.Linear's default initialisation
  weight_v = register_parameter("weight_v", v);
  weight_g = register_parameter("weight_g", torch::ones({out, 1}));  // DINO fills g with 1
}

torch::Tensor WeightNormLinearImpl::forward(const torch::Tensor& x, bool frozen) {
  const auto v = frozen ? weight_v.detach() : weight_v;
  const auto g = frozen ? weight_g.detach() : weight_g;
  return torch::mm(x, (g * v / v.norm(2, {1}, /*keepdim=*/true)).t());
}

DinoHeadImpl::DinoHeadImpl(const DinoHeadOptions& o) : options(o) {
  if (o.layers() < 1 || o.out_dim() < 1 || o.bottleneck_dim() < 1 || (o.layers() > 1 && o.hidden_dim() < 1))
    throw Error("DINO head: layers, out_dim, bottleneck_dim and hidden_dim must be positive");
  mlp = register_module("mlp", nn::Sequential());
  int64_t in = o.in_dim();
  for (int64_t i = 0; i + 1 < o.layers(); ++i) {
    mlp->push_back(nn::Linear(in, o.hidden_dim()));
    if (o.batch_norm()) mlp->push_back(BatchNorm2d(o.hidden_dim()));
    mlp->push_back(nn::GELU());
    in = o.hidden_dim();
  }
  mlp->push_back(nn::Linear(in, o.bottleneck_dim()));
  torch::NoGradGuard no_grad;
  for (auto& m : mlp->children())
    if (auto* linear = m->as<nn::Linear>()) {
      linear->weight.normal_(0, 0.02);  // DINO: trunc_normal_(std=.02), which at this std never truncates
      linear->bias.zero_();
    }
  last_layer = register_module("last_layer", WeightNormLinear(o.bottleneck_dim(), o.out_dim()));
  if (o.norm_last_layer()) last_layer->weight_g.set_requires_grad(false);
}

torch::Tensor DinoHeadImpl::bottleneck(const torch::Tensor& x) {
  return torch::nn::functional::normalize(mlp->forward(x), torch::nn::functional::NormalizeFuncOptions().dim(1));
}

torch::Tensor DinoHeadImpl::prototypes(const torch::Tensor& z, bool freeze_last_layer) {
  return last_layer->forward(z, freeze_last_layer);
}

torch::Tensor DinoHeadImpl::forward(const torch::Tensor& x, bool freeze_last_layer) {
  return prototypes(bottleneck(x), freeze_last_layer);
}

}  // namespace selfsup::models
