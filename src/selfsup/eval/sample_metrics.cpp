#include "selfsup/eval/sample_metrics.h"

#include "selfsup/core/error.h"

namespace selfsup::eval {

namespace {

std::pair<torch::Tensor, torch::Tensor> mean_cov(const torch::Tensor& f) {
  const auto x = f.to(torch::kDouble).cpu();
  const auto mu = x.mean(0);
  const auto centred = x - mu;
  return {mu, centred.t().mm(centred) / static_cast<double>(std::max<int64_t>(1, x.size(0) - 1))};
}

torch::Tensor sqrt_psd(const torch::Tensor& m) {
  const auto [values, vectors] = torch::linalg::eigh(m, "L");
  return vectors.mm(torch::diag(values.clamp_min(0).sqrt())).mm(vectors.t());
}

}  // namespace

double frechet_distance(const torch::Tensor& a, const torch::Tensor& b) {
  if (a.dim() != 2 || b.dim() != 2 || a.size(1) != b.size(1) || a.size(0) < 2 || b.size(0) < 2)
    throw Error("frechet_distance: expected two N x D feature sets with the same D and N >= 2");
  const auto [mu_a, cov_a] = mean_cov(a);
  const auto [mu_b, cov_b] = mean_cov(b);
  const auto root_a = sqrt_psd(cov_a);
  const auto middle = root_a.mm(cov_b).mm(root_a);
  const double trace_sqrt = torch::linalg::eigvalsh(0.5 * (middle + middle.t()), "L").clamp_min(0).sqrt().sum().item<double>();
  return (mu_a - mu_b).pow(2).sum().item<double>() + cov_a.trace().item<double>() + cov_b.trace().item<double>() -
         2 * trace_sqrt;
}

double mean_pairwise_distance(const torch::Tensor& features) {
  const auto x = features.to(torch::kDouble).cpu();
  const int64_t n = x.size(0);
  if (n < 2) throw Error("mean_pairwise_distance: expected at least 2 rows");
  const auto d = torch::cdist(x, x);
  return d.sum().item<double>() / static_cast<double>(n * (n - 1));
}

}  // namespace selfsup::eval
