// CPC for images: predict the embeddings of patches further down the image from a context
// summarising the patches above.
#pragma once

#include "selfsup/ssl/method.h"
#include "selfsup/train/recipe.h"

namespace selfsup::ssl {

// The backbone applied to every patch of a grid of overlapping square patches. forward() pools
// the patch embeddings (mean over the grid), which is how CPC's features are evaluated.
class PatchGridEncoder : public models::Backbone {
 public:
  PatchGridEncoder(std::shared_ptr<models::Backbone> backbone, int64_t patch_size, int64_t stride);
  // N x C x H x W -> N x rows x cols x D.
  torch::Tensor grid(const torch::Tensor& x);
  torch::Tensor forward(torch::Tensor x) override { return grid(x).mean({1, 2}); }
  int64_t output_dim() const override { return backbone_->output_dim(); }

 private:
  std::shared_ptr<models::Backbone> backbone_;
  int64_t patch_size_, stride_;
};

class Cpc : public Method {
 public:
  Cpc(const Recipe& recipe, int64_t in_channels);
  StepOutput training_step(const data::Batch& batch, StepContext& ctx) override;
  std::shared_ptr<models::Backbone> backbone() override { return encoder_; }  // the patch encoder
  std::shared_ptr<models::Backbone> eval_encoder() override { return patches_; }

  // N x rows x cols x D patch embeddings -> context of the same shape; position (i, j) depends
  // only on rows <= i (tested).
  torch::Tensor context(const torch::Tensor& z);

 private:
  CpcConfig config_;
  std::shared_ptr<models::Backbone> encoder_;
  std::shared_ptr<PatchGridEncoder> patches_;
  torch::nn::GRU gru_{nullptr};
  torch::nn::ModuleList conv_{nullptr}, predictors_{nullptr};
};

}  // namespace selfsup::ssl
