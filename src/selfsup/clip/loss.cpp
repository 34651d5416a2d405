#include "selfsup/clip/loss.h"

namespace selfsup::clip {
namespace {

// Similarities leave a bf16 autocast region (recipe precision: bf16) in fp32: the softmax over
// them and the loss are computed in fp32, as the SSL losses do.
torch::Tensor similarity(const torch::Tensor& a, const torch::Tensor& b) { return torch::matmul(a, b.t()).to(torch::kFloat32); }

torch::Tensor normalize(const torch::Tensor& x) {
  return torch::nn::functional::normalize(x, torch::nn::functional::NormalizeFuncOptions().dim(1));
}

// Cross-entropy of each row of `logits` against the uniform distribution over its positives.
torch::Tensor multi_positive_ce(const torch::Tensor& logits, const torch::Tensor& positives) {
  const auto targets = positives.to(logits.dtype());
  const auto per_row = targets.sum(1, /*keepdim=*/true).clamp_min(1);  // a row without positives adds 0
  return -(targets / per_row * torch::log_softmax(logits, 1)).sum(1).mean();
}

}  // namespace

torch::Tensor positive_mask(const torch::Tensor& image_ids, const torch::Tensor& text_ids) {
  return image_ids.view({-1, 1}) == text_ids.view({1, -1});
}

torch::Tensor multi_positive_loss(const torch::Tensor& image_emb, const torch::Tensor& text_emb,
                                  const torch::Tensor& positives, const torch::Tensor& logit_scale) {
  const auto logits = logit_scale * similarity(normalize(image_emb), normalize(text_emb));  // N x M
  return 0.5 * (multi_positive_ce(logits, positives) + multi_positive_ce(logits.t(), positives.t()));
}

torch::Tensor soft_target_loss(const torch::Tensor& image_emb, const torch::Tensor& text_emb, double temperature) {
  const auto logits = similarity(text_emb, image_emb) / temperature;           // N texts x N images
  const auto images_similarity = similarity(image_emb, image_emb);            // N x N
  const auto texts_similarity = similarity(text_emb, text_emb);               // N x N
  const auto targets = torch::softmax((images_similarity + texts_similarity) / 2 * temperature, -1);
  const auto texts_loss = -(targets * torch::log_softmax(logits, -1)).sum(1);        // N
  const auto images_loss = -(targets.t() * torch::log_softmax(logits.t(), -1)).sum(1);  // N
  return ((images_loss + texts_loss) / 2).mean();
}

torch::Tensor siglip_loss(const torch::Tensor& image_emb, const torch::Tensor& text_emb, const torch::Tensor& positives,
                          const torch::Tensor& logit_scale, const torch::Tensor& logit_bias) {
  const auto logits = logit_scale * similarity(normalize(image_emb), normalize(text_emb)) + logit_bias;
  const auto signs = positives.to(logits.dtype()) * 2 - 1;
  return -torch::nn::functional::logsigmoid(signs * logits).sum() / image_emb.size(0);
}

}  // namespace selfsup::clip
