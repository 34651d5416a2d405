#include "selfsup/ssl/common.h"

#include "selfsup/core/distributed.h"
#include "selfsup/core/error.h"

namespace selfsup::ssl {

torch::Tensor gather_views(const torch::Tensor& z, int64_t views, bool with_grad) {
  if (!dist::active()) return z;
  std::vector<torch::Tensor> parts;
  for (const auto& block : z.chunk(views, 0))
    parts.push_back(with_grad ? dist::gather_batch_with_grad(block) : dist::gather_batch(block));
  return torch::cat(parts);
}

models::MlpHead make_head(const HeadConfig& c, int64_t in_dim) {
  return models::MlpHead(models::MlpHeadOptions(in_dim, c.hidden_dim, c.out_dim)
                             .num_layers(c.layers)
                             .norm(c.norm)
                             .last_bn(c.last_bn));
}

torch::Tensor forward_multicrop(const std::function<torch::Tensor(const torch::Tensor&)>& net,
                                const std::vector<torch::Tensor>& views) {
  std::vector<torch::Tensor> outputs;
  for (size_t start = 0; start < views.size();) {
    size_t end = start + 1;
    while (end < views.size() && views[end].sizes().slice(2) == views[start].sizes().slice(2)) ++end;
    outputs.push_back(net(torch::cat(std::vector<torch::Tensor>(views.begin() + start, views.begin() + end))));
    start = end;
  }
  return torch::cat(outputs);
}

HeadPrefixEncoder::HeadPrefixEncoder(std::shared_ptr<models::Backbone> backbone, models::MlpHead head, int64_t layers)
    : backbone_(register_module("backbone", std::move(backbone))), output_dim_(head->options.hidden_dim()) {
  if (layers < 0 || layers >= head->options.num_layers())
    throw Error("evaluation from projector layer " + std::to_string(layers) + ": the projector has " +
                std::to_string(head->options.num_layers()) + " layers (expected 0 to " +
                std::to_string(head->options.num_layers() - 1) + ")");
  register_module("head", head);
  int64_t relus = 0;
  for (const auto& m : *head->layers) {
    if (relus == layers) break;
    blocks_.push_back(m);
    if (std::dynamic_pointer_cast<torch::nn::ReLUImpl>(m.ptr())) ++relus;
  }
  if (layers == 0) output_dim_ = backbone_->output_dim();
}

torch::Tensor HeadPrefixEncoder::forward(torch::Tensor x) {
  x = backbone_->forward(x);
  for (auto& block : blocks_) x = block.forward(x);
  return x;
}

}  // namespace selfsup::ssl
