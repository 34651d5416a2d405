// CPC for images: predict the embeddings of patches further down the image from a context
// summarising the patches above.
#pragma once

#include "selfsup/ssl/config.h"
#include "selfsup/ssl/method.h"

namespace selfsup::ssl {

struct CpcConfig : config::DynamicSectionOf<CpcConfig> {
  static constexpr const char* kSection = "cpc";
  static constexpr const char* kDoc = "CPC settings (image patches, context network, prediction)";
  int64_t patch_size = 8;     // pixels; the backbone encodes each patch
  int64_t patch_stride = 4;   // patches overlap by patch_size - patch_stride
  std::string context = "gru";  // gru | conv (masked: each row sees only the rows above)
  int64_t context_layers = 3;   // conv context: causal layers
  int64_t predict_steps = 3;    // predict the patches 1..k rows below
  int64_t skip_steps = 0;       // but not the nearest s of them (CPC v2's code: 2 of 3)
  int64_t directions = 1;       // 1: top to bottom (CPC v1) | 2: and bottom to top | 4: and both ways along rows (CPC v2)
  double temperature = 0.1;
  double patch_jitter = 0.0;  // CPC v2's patch-based augmentation: own brightness/contrast per patch
  int64_t patch_shift = 0;    // and own random offset of up to this many pixels
  std::string negatives = "same_position";  // same_position (other images) | all_patches (CPC v1/v2)
  void visit(config::Visitor& v) override;
  void validate(const Recipe& r, const RecipeCheck& check) const;
  int64_t predicted_steps() const { return predict_steps - skip_steps; }  // predictors per direction
};

// The backbone applied to every patch of a grid of overlapping square patches. forward() pools
// the patch embeddings (mean over the grid), which is how CPC's features are evaluated.
class PatchGridEncoder : public models::Backbone {
 public:
  PatchGridEncoder(std::shared_ptr<models::Backbone> backbone, int64_t patch_size, int64_t stride);
  // N x C x H x W -> N x rows x cols x C x p x p. shift > 0 cuts each patch at its own random
  // offset of up to shift pixels from its grid position (the image's edges replicated outwards).
  torch::Tensor patches(const torch::Tensor& x, int64_t shift = 0, at::Generator* gen = nullptr) const;
  // N x rows x cols x C x p x p -> N x rows x cols x D.
  torch::Tensor encode(const torch::Tensor& patches);
  // N x C x H x W -> N x rows x cols x D.
  torch::Tensor grid(const torch::Tensor& x) { return encode(patches(x)); }
  torch::Tensor forward(torch::Tensor x) override { return grid(x).mean({1, 2}); }
  int64_t output_dim() const override { return backbone_->output_dim(); }

 private:
  std::shared_ptr<models::Backbone> backbone_;
  int64_t patch_size_, stride_;
};

// Scales the brightness and then the contrast (augment::adjust_*) of every patch of an
// N x rows x cols x C x p x p grid by its own factors drawn from [1 - strength, 1 + strength], in
// pixel values (the grid is normalised with mean/std per channel; pixels clamped to [0, 1] after each).
torch::Tensor jitter_patches(const torch::Tensor& patches, double strength, const std::vector<double>& mean,
                             const std::vector<double>& std, at::Generator& gen);

class Cpc : public Method {
 public:
  using Config = CpcConfig;
  static constexpr const char* kName = "cpc";
  Cpc(const Recipe& recipe, int64_t in_channels);
  StepOutput training_step(const data::Batch& batch, StepContext& ctx) override;
  std::shared_ptr<models::Backbone> backbone() override { return encoder_; }  // the patch encoder
  std::shared_ptr<models::Backbone> eval_encoder() override { return patches_; }

  // N x rows x cols x D patch embeddings -> context of the same shape; position (i, j) depends
  // only on rows <= i (tested).
  torch::Tensor context(const torch::Tensor& z);
  // The grid seen from direction d (0: top down, 1: bottom up, 2: left to right, 3: right to
  // left), so that "the rows below" of the result lie in that direction.
  static torch::Tensor orient(const torch::Tensor& z, int64_t d);

 private:
  // InfoNCE of predicting the rows below in the grid z (N x R x Q x D), averaged over the steps
  // s+1..k; predictor_offset picks the direction's predictors.
  torch::Tensor prediction_loss(const torch::Tensor& z, int64_t predictor_offset);

  CpcConfig config_;
  std::vector<double> mean_, std_;  // the view's normalisation, for jitter_patches
  std::shared_ptr<models::Backbone> encoder_;
  std::shared_ptr<PatchGridEncoder> patches_;
  torch::nn::GRU gru_{nullptr};
  torch::nn::ModuleList conv_{nullptr}, predictors_{nullptr};
};

}  // namespace selfsup::ssl
