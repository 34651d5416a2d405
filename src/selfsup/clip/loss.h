// CLIP's contrastive losses over a batch of N image and N text embeddings. Which image-text pairs
// are positives comes from content ids: image i and text j match iff image_ids[i] == text_ids[j]
// (an image has several captions; two copies of one image in a batch are not each other's negatives).
//
//   auto pos = positive_mask(image_ids, text_ids);             // N x N bool
//   auto loss = multi_positive_loss(img, txt, pos, logit_scale);
#pragma once

#include <torch/torch.h>

namespace selfsup::clip {

// N x M bool: image_ids[i] == text_ids[j].
torch::Tensor positive_mask(const torch::Tensor& image_ids, const torch::Tensor& text_ids);

// Default (CLIP with the seed's PR #28 fix): L2-normalised embeddings, logits = scale * I T^T,
// symmetric cross-entropy whose target in each row / column is uniform over that row's positives.
// With one positive per row this is CLIP's arange-label loss. `logit_scale` is exp(t), a scalar.
torch::Tensor multi_positive_loss(const torch::Tensor& image_emb, const torch::Tensor& text_emb,
                                  const torch::Tensor& positives, const torch::Tensor& logit_scale);

// The seed blog's loss, kept for comparison (its issues report collapse): no normalisation,
// logits = T I^T / tau, targets = softmax((I I^T + T T^T) / 2 * tau) row-wise, and the mean of
// CE(logits, targets) over texts and CE(logits^T, targets^T) over images (targets transposed,
// not re-normalised, exactly as the seed does).
torch::Tensor soft_target_loss(const torch::Tensor& image_emb, const torch::Tensor& text_emb, double temperature);

// SigLIP (Zhai et al. 2023): an independent binary decision per pair,
// -sum log sigmoid(z_ij * (scale * <i, t> + bias)) / N with z = +1 for positives, -1 otherwise,
// on L2-normalised embeddings.
torch::Tensor siglip_loss(const torch::Tensor& image_emb, const torch::Tensor& text_emb, const torch::Tensor& positives,
                          const torch::Tensor& logit_scale, const torch::Tensor& logit_bias);

}  // namespace selfsup::clip
