#include "selfsup/clip/model.h"

#include <cmath>

#include "selfsup/clip/config.h"
#include "selfsup/clip/loss.h"
#include "selfsup/core/distributed.h"
#include "selfsup/core/error.h"
#include "selfsup/models/registry.h"
#include "selfsup/core/tensor.h"

namespace selfsup::clip {

ProjectionHeadImpl::ProjectionHeadImpl(int64_t in_dim, int64_t out_dim, double p) {
  projection = register_module("projection", torch::nn::Linear(in_dim, out_dim));
  fc = register_module("fc", torch::nn::Linear(out_dim, out_dim));
  dropout = register_module("dropout", torch::nn::Dropout(p));
  layer_norm = register_module("layer_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({out_dim})));
}

torch::Tensor ProjectionHeadImpl::forward(const torch::Tensor& x) {
  const auto projected = projection(x);
  return layer_norm(projected + dropout(fc(torch::gelu(projected))));
}

ClipModel::ClipModel(const Recipe& r, int64_t in_channels, int64_t vocab_size, int64_t pad_token_id)
    : loss_(clip_config(r).loss),
      max_log_scale_(std::log(clip_config(r).max_logit_scale)),
      soft_target_temperature_(clip_config(r).soft_target_temperature),
      text_lr_scale_(clip_config(r).text.lr_scale) {
  const auto& c = clip_config(r);
  image_encoder = register_module("image_encoder", models::make_backbone(r.model, in_channels));
  text_encoder = register_module(
      "text_encoder", models::TextTransformer(models::TextTransformerOptions()
                                                  .vocab_size(vocab_size)
                                                  .max_position_embeddings(c.text.max_positions)
                                                  .dim(c.text.dim)
                                                  .n_layers(c.text.layers)
                                                  .n_heads(c.text.heads)
                                                  .hidden_dim(c.text.hidden_dim)
                                                  .dropout(c.text.dropout)
                                                  .attention_dropout(c.text.dropout)
                                                  .pad_token_id(pad_token_id)));
  image_projection = register_module(
      "image_projection", ProjectionHead(image_encoder->output_dim(), c.embed_dim, c.projection_dropout));
  text_projection = register_module("text_projection", ProjectionHead(c.text.dim, c.embed_dim, c.projection_dropout));
  logit_scale = register_parameter("logit_scale", torch::tensor(std::log(1.0 / c.temperature)), c.learn_temperature);
  logit_bias = register_parameter("logit_bias", torch::tensor(c.siglip_bias), c.loss == "siglip");
}

torch::Tensor ClipModel::encode_images(const torch::Tensor& images) {
  return image_projection(image_encoder->forward(images));
}

torch::Tensor ClipModel::encode_texts(const torch::Tensor& ids, const torch::Tensor& mask) {
  return text_projection(text_encoder->cls(ids, mask));
}

train::StepOutput ClipModel::training_step(const data::Batch& batch, train::StepContext& ctx) {
  if (!captions_.ids.defined()) throw Error("clip: no training captions were given to the model");
  // One caption per image, uniformly among its captions, drawn from the step's generator.
  const auto first = captions_.first.index_select(0, batch.indices);
  const auto count = captions_.count.index_select(0, batch.indices);
  // Drawn for the global batch, each process keeping its part: the same captions as one process.
  const auto u = dist::local_part(torch::rand({batch.indices.size(0) * dist::world_size()}, ctx.generator, torch::kDouble));
  const auto pick = captions_.order.index_select(0, first + (u * count.to(torch::kDouble)).to(torch::kLong));
  const auto device = batch.views[0].device();
  // Several processes: the contrastive loss of the global batch (images, texts and their groups
  // gathered, embeddings with their gradient), as open_clip's gather_with_grad.
  const auto groups = dist::gather_batch(captions_.image_group.index_select(0, batch.indices));
  const auto image_emb = dist::gather_batch_with_grad(encode_images(batch.views[0]));            // B x E
  const auto text_emb = dist::gather_batch_with_grad(encode_texts(captions_.ids.index_select(0, pick).to(device),
                                                                  captions_.mask.index_select(0, pick).to(device)));  // B x E
  const auto positives = positive_mask(groups, groups).to(device);                          // B x B
  const auto scale = logit_scale.exp();
  train::StepOutput out;
  if (loss_ == "soft_target") {
    out.loss = soft_target_loss(image_emb, text_emb, soft_target_temperature_);
  } else if (loss_ == "siglip") {
    out.loss = siglip_loss(image_emb, text_emb, positives, scale, logit_bias);
  } else {
    out.loss = multi_positive_loss(image_emb, text_emb, positives, scale);
  }
  torch::NoGradGuard no_grad;
  const auto sims = torch::matmul(l2_normalize(image_emb), l2_normalize(text_emb).t());
  const auto best = sims.argmax(1);
  out.logs["acc"] = positives.gather(1, best.unsqueeze(1)).to(torch::kFloat).mean().item<double>();
  out.logs["scale"] = scale.item<double>();
  out.logs["spread"] = embedding_spread(image_emb);  // collapse signal of the image side
  return out;
}

void ClipModel::after_step(train::StepContext&) {
  torch::NoGradGuard no_grad;
  logit_scale.clamp_(0, max_log_scale_);  // CLIP: scale kept in [1, 100]
}

std::vector<train::NamedParameter> ClipModel::optimizer_parameters() {
  auto params = train::trainable_parameters(*this);
  for (auto& p : params)
    if (p.name.rfind("text_encoder.", 0) == 0) p.lr_scale = text_lr_scale_;
  return params;
}

}  // namespace selfsup::clip
