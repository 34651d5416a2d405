// Small pieces every method file uses: heads built from the recipe, L2 normalisation, and the
// evaluation encoder that keeps the first projector layers (SimCLR v2).
#pragma once

#include <torch/torch.h>

#include <functional>
#include <memory>
#include <vector>

#include "selfsup/core/tensor.h"
#include "selfsup/models/backbone.h"
#include "selfsup/models/heads.h"
#include "selfsup/ssl/config.h"

namespace selfsup::ssl {

// The MLP a recipe head section describes, on top of `in_dim` features.
models::MlpHead make_head(const HeadConfig& config, int64_t in_dim);

// Multi-crop batching (DINO's MultiCropWrapper): runs `net` once per run of consecutive views with
// the same resolution (the global crops together, then the local crops together) and returns the
// outputs in view order, concatenated: (V*N) x D for V views of N images.
torch::Tensor forward_multicrop(const std::function<torch::Tensor(const torch::Tensor&)>& net,
                                const std::vector<torch::Tensor>& views);

// Several processes (core/distributed.h): the global batch of each of `views` consecutive blocks
// of rows ((V*N) x ... -> (V*N_global) x ...), differentiable or not. Losses computed on the result
// are the single-process losses of the global batch. One process: `z` itself.
torch::Tensor gather_views(const torch::Tensor& z, int64_t views, bool with_grad = true);

// backbone followed by the first `layers` hidden blocks (Linear [+ norm] + ReLU) of `head`: the
// network SimCLR v2 evaluates and fine-tunes ("from the middle layer of the projection head").
// Shares the weights of both; output_dim is the head's hidden width.
class HeadPrefixEncoder : public models::Backbone {
 public:
  HeadPrefixEncoder(std::shared_ptr<models::Backbone> backbone, models::MlpHead head, int64_t layers);
  torch::Tensor forward(torch::Tensor x) override;
  int64_t output_dim() const override { return output_dim_; }

 private:
  std::shared_ptr<models::Backbone> backbone_;
  std::vector<torch::nn::AnyModule> blocks_;
  int64_t output_dim_;
};

}  // namespace selfsup::ssl
