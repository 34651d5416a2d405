// Contrastive losses shared by the self-supervised methods.
#pragma once

#include <torch/torch.h>

#include "selfsup/core/tensor.h"

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

// InfoNCE with in-batch keys (MoCo v3, CMC, CPC): row i of q must pick its own key k_i among all
// N keys of the batch: cross-entropy of the N x N logits q k^T / tau with target i.
//   q, k: N x D (L2-normalised). At uniform similarity: ln N.
torch::Tensor info_nce_in_batch(const torch::Tensor& q, const torch::Tensor& k, double temperature);

// InfoNCE at each of B positions (CPC): at position b, prediction n must pick target n among the
// N targets at that position (the other images' patches are the negatives).
//   pred, target: B x N x D (L2-normalised). Mean over positions; at uniform similarity ln N.
torch::Tensor info_nce_positions(const torch::Tensor& pred, const torch::Tensor& target, double temperature);

// NT-Xent (SimCLR): the 2N embeddings of two views; each is an anchor whose positive is its other
// view and whose negatives are the 2N-2 other embeddings. Mean (2N-way) cross-entropy with the
// self-similarity masked out. z1, z2: N x D, L2-normalised. At uniform similarity: ln(2N-1).
torch::Tensor nt_xent(const torch::Tensor& z1, const torch::Tensor& z2, double temperature);

// The 2N x 2N logits of nt_xent (self-similarity at -inf) and, for row r, the positive's column.
torch::Tensor nt_xent_logits(const torch::Tensor& z1, const torch::Tensor& z2, double temperature);
torch::Tensor nt_xent_targets(int64_t n, torch::Device device);

// Invariance & spreading (Ye et al. 2019, InvaSpread): over the same 2N embeddings, the softmax
// P(j | r) = exp(z_j.z_r/tau) / sum_{k != r} exp(z_k.z_r/tau) is a classifier "which instance is
// z_r?". Each anchor r is pushed to be recognised as its positive p(r) and *not* recognised as any
// other sample:   L = mean_r [ -log P(p(r)|r) - sum_{j != r, p(r)} log(1 - P(j|r)) ].
// At uniform similarity: -log(1/(2N-1)) - (2N-2) log(1 - 1/(2N-1)).
torch::Tensor invariance_spread(const torch::Tensor& z1, const torch::Tensor& z2, double temperature);

// NCE for instance discrimination (Wu et al. 2018, InstDisc): the model probability of instance i
// is Pm = exp(s)/Z with s = v_i.f/tau, the noise distribution is uniform Pn = 1/n over the n bank
// entries, and K noise samples are drawn per positive. With h = Pm / (Pm + K Pn):
//   L = mean over the batch of [ -log h(positive) - sum_{K noise} log(1 - h(noise)) ].
// positive: N logits s; noise: N x K logits; log_z = log Z; n = bank size.
// When every Pm equals K Pn (h = 1/2), L = (K+1) ln 2.
torch::Tensor nce_loss(const torch::Tensor& positive, const torch::Tensor& noise, double log_z, int64_t n);

// BYOL's normalised MSE, ||p/|p| - z/|z|||^2 = 2 - 2 cos(p, z), averaged over the batch.
// 0 for aligned, 2 for orthogonal, 4 for opposite vectors. The caller detaches the target z.
torch::Tensor normalized_mse(const torch::Tensor& p, const torch::Tensor& z);

// SimSiam's negative cosine similarity -cos(p, z), averaged over the batch (-1 when aligned).
// The caller detaches z (stop-gradient).
torch::Tensor negative_cosine(const torch::Tensor& p, const torch::Tensor& z);

// Barlow Twins: each view's embeddings are standardised over the batch (as a BatchNorm without
// affine, biased variance, eps 1e-5), c = z1^T z2 / N is their D x D cross-correlation, and
//   L = sum_i (1 - c_ii)^2 + lambda * sum_{i != j} c_ij^2.
// 0 when the two views agree and the dimensions are decorrelated (c = I).
torch::Tensor barlow_twins(const torch::Tensor& z1, const torch::Tensor& z2, double lambda);

// The swapped / distilled prediction of DINO and SwAV: target distributions over K prototypes
// computed for the G first views (DINO: the teacher's, SwAV: Sinkhorn codes) are predicted from
// every *other* view:
//   L = mean over pairs (g, v), v != g, of mean_n [ -sum_k P_g(k) log softmax(s_v / tau)(k) ]
// student_logits: (V*N) x K for V views in view order (the G target views first);
// targets: (G*N) x K, no gradient. Both uniform: ln K, the value a collapsed run stalls at.
torch::Tensor cross_view_cross_entropy(const torch::Tensor& student_logits, const torch::Tensor& targets, int64_t views,
                                       double temperature);

// Sinkhorn-Knopp equal-partition assignment (SwAV): scores B x K (prototype similarities) ->
// codes Q, B x K, each row a distribution, every prototype receiving about B/K of the batch:
// Q = diag(u) exp(scores/eps) diag(v) after `iterations` alternating normalisations (columns to
// 1/K, rows to 1/B), rows rescaled to sum 1. Computed in fp32 with the maximum subtracted first
// (the same result; no overflow at small eps).
torch::Tensor sinkhorn_knopp(const torch::Tensor& scores, double epsilon, int64_t iterations);

// The teacher's targets: softmax((t - center) / tau_t), centred (against one prototype dominating)
// and sharpened by tau_t < tau_s (against the uniform output).
torch::Tensor dino_teacher_probs(const torch::Tensor& teacher_logits, const torch::Tensor& center, double temperature);

}  // namespace selfsup::ssl
