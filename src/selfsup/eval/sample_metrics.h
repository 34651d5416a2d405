// Quality and diversity of generated images, measured in a judge classifier's feature space:
// the Fréchet distance between Gaussians fitted to two feature sets (FID's formula, with the
// project's Fashion-MNIST judge in place of Inception) and the mean pairwise distance within a set.
#pragma once

#include <torch/torch.h>

namespace selfsup::eval {

// ‖μ_a − μ_b‖² + Tr(Σ_a + Σ_b − 2 (Σ_a Σ_b)^½) of N x D and M x D features (computed in double;
// the matrix square root through the symmetric form Σ_a^½ Σ_b Σ_a^½, eigenvalues clamped at 0).
double frechet_distance(const torch::Tensor& a, const torch::Tensor& b);

// Mean Euclidean distance over all pairs i < j of the N x D rows (N >= 2).
double mean_pairwise_distance(const torch::Tensor& features);

}  // namespace selfsup::eval
