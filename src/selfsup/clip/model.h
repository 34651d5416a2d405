// CLIP's two towers (the seed's architecture): an image backbone and a DistilBERT-style text
// encoder (CLS pooling), each followed by a projection head into the shared space, plus the
// learnable logit scale (and SigLIP's bias). As a train::Model it also knows how to turn a batch of
// images into a loss: each image is paired with one of its captions, drawn per step.
#pragma once

#include <torch/torch.h>

#include <memory>

#include "selfsup/models/backbone.h"
#include "selfsup/models/text_transformer.h"
#include "selfsup/train/task.h"

namespace selfsup {
struct Recipe;
}

namespace selfsup::clip {

// The seed's ProjectionHead: p = Linear(x); LayerNorm(p + Dropout(Linear(GELU(p)))).
class ProjectionHeadImpl : public torch::nn::Module {
 public:
  ProjectionHeadImpl(int64_t in_dim, int64_t out_dim, double dropout);
  torch::Tensor forward(const torch::Tensor& x);
  torch::nn::Linear projection{nullptr}, fc{nullptr};
  torch::nn::Dropout dropout{nullptr};
  torch::nn::LayerNorm layer_norm{nullptr};
};
TORCH_MODULE(ProjectionHead);

// Captions as the training step samples them: every caption tokenised once, and for each training
// image the range of its captions in `order`.
struct CaptionTable {
  torch::Tensor ids, mask;      // M x L int64
  torch::Tensor order;          // M int64: caption indices grouped by image content
  torch::Tensor first, count;   // N int64: image i's captions are order[first[i] : first[i] + count[i]]
  torch::Tensor image_group;    // N int64 content id of each training image
};

class ClipModel : public train::Model {
 public:
  // `pad_token_id`: the tokenizer's [PAD] (its embedding row stays zero).
  ClipModel(const Recipe& recipe, int64_t in_channels, int64_t vocab_size, int64_t pad_token_id);

  // Projections into the shared space, not normalised (B x embed_dim).
  torch::Tensor encode_images(const torch::Tensor& images);
  torch::Tensor encode_texts(const torch::Tensor& ids, const torch::Tensor& mask);

  void set_captions(CaptionTable table) { captions_ = std::move(table); }
  train::StepOutput training_step(const data::Batch& batch, train::StepContext& ctx) override;
  void after_step(train::StepContext& ctx) override;
  std::vector<train::NamedParameter> optimizer_parameters() override;

  std::shared_ptr<models::Backbone> image_encoder;
  models::TextTransformer text_encoder{nullptr};
  ProjectionHead image_projection{nullptr}, text_projection{nullptr};
  torch::Tensor logit_scale;  // log of the scale: logits = exp(logit_scale) * cos
  torch::Tensor logit_bias;   // SigLIP only

 private:
  std::string loss_;
  double max_log_scale_, soft_target_temperature_, text_lr_scale_;
  CaptionTable captions_;
};

}  // namespace selfsup::clip
