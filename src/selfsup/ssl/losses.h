// Contrastive losses shared by the self-supervised methods.
#pragma once

#include <torch/torch.h>

namespace selfsup::ssl {

// InfoNCE with a queue of negatives (MoCo): the positive logit q·k+ sits at index 0 of
// (K+1)-way logits [q·k+, q·queue_1..K] / tau, and the loss is the cross-entropy with target 0.
//   q, k: N x D (L2-normalised), queue: K x D (L2-normalised, no gradient)
// At uniform similarity the value is ln(K+1).
torch::Tensor info_nce_queue(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& queue,
                             double temperature);

// The (K+1)-way logits themselves, N x (1+K), for accuracy logging.
torch::Tensor info_nce_queue_logits(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& queue,
                                    double temperature);

// Collapse signal: mean per-dimension std of the L2-normalised embeddings times sqrt(D).
// About 1 for embeddings spread over the sphere, 0 when every sample maps to the same point.
double embedding_spread(const torch::Tensor& z);

}  // namespace selfsup::ssl
