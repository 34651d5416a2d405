#include "selfsup/ssl/losses.h"

#include <cmath>
#include <limits>

namespace selfsup::ssl {

torch::Tensor info_nce_queue_logits(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& queue,
                                    double temperature) {
  const auto positive = (q * k).sum(1, /*keepdim=*/true);  // N x 1
  const auto negative = torch::mm(q, queue.t());            // N x K
  return torch::cat({positive, negative}, 1) / temperature;  // N x (1+K)
}

torch::Tensor info_nce_queue(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& queue,
                             double temperature) {
  const auto logits = info_nce_queue_logits(q, k, queue, temperature).to(torch::kFloat32);
  const auto target = torch::zeros({q.size(0)}, torch::TensorOptions().dtype(torch::kLong).device(q.device()));
  return torch::nn::functional::cross_entropy(logits, target);
}

torch::Tensor info_nce_in_batch(const torch::Tensor& q, const torch::Tensor& k, double temperature) {
  const auto logits = (torch::mm(q, k.t()) / temperature).to(torch::kFloat32);  // N x N
  const auto target = torch::arange(q.size(0), torch::TensorOptions().dtype(torch::kLong).device(q.device()));
  return torch::nn::functional::cross_entropy(logits, target);
}

torch::Tensor cross_view_cross_entropy(const torch::Tensor& student_logits, const torch::Tensor& targets, int64_t views,
                                       double temperature) {
  const auto student = torch::log_softmax(student_logits.to(torch::kFloat32) / temperature, 1).chunk(views);
  const auto teacher = targets.to(torch::kFloat32).chunk(targets.size(0) / (student_logits.size(0) / views));
  torch::Tensor total;
  int64_t terms = 0;
  for (size_t g = 0; g < teacher.size(); ++g)
    for (size_t v = 0; v < student.size(); ++v) {
      if (v == g) continue;
      const auto term = -(teacher[g] * student[v]).sum(1).mean();
      total = terms++ ? total + term : term;
    }
  return total / static_cast<double>(terms);
}

torch::Tensor sinkhorn_knopp(const torch::Tensor& scores, double epsilon, int64_t iterations) {
  torch::NoGradGuard no_grad;
  const auto s = scores.to(torch::kFloat32);
  auto q = torch::exp((s - s.max()) / epsilon).t();  // K x B
  const double k = static_cast<double>(q.size(0)), b = static_cast<double>(q.size(1));
  q /= q.sum();
  for (int64_t i = 0; i < iterations; ++i) {
    // (clamped: at small eps a prototype far from every sample can underflow to an all-zero row)
    q /= q.sum(1, /*keepdim=*/true).clamp_min(1e-30) * k;  // each prototype gets 1/K of the mass
    q /= q.sum(0, /*keepdim=*/true).clamp_min(1e-30) * b;  // each sample has 1/B
  }
  return (q * b).t();  // B x K, rows sum to 1
}

torch::Tensor dino_teacher_probs(const torch::Tensor& teacher_logits, const torch::Tensor& center, double temperature) {
  return torch::softmax((teacher_logits.to(torch::kFloat32) - center) / temperature, 1);
}

torch::Tensor info_nce_positions(const torch::Tensor& pred, const torch::Tensor& target, double temperature) {
  const int64_t b = pred.size(0), n = pred.size(1);
  const auto logits = (torch::bmm(pred, target.transpose(1, 2)) / temperature).to(torch::kFloat32);  // B x N x N
  const auto labels = torch::arange(n, torch::TensorOptions().dtype(torch::kLong).device(pred.device())).repeat({b});
  return torch::nn::functional::cross_entropy(logits.reshape({b * n, n}), labels);
}

namespace {
namespace F = torch::nn::functional;

torch::Tensor standardize_over_batch(const torch::Tensor& z) {
  const auto mean = z.mean(0, /*keepdim=*/true);
  const auto var = z.var(0, /*unbiased=*/false, /*keepdim=*/true);
  return (z - mean) / torch::sqrt(var + 1e-5);
}

// 2N x 2N cosine similarities / tau of cat(z1, z2), in fp32 (half-precision masks overflow).
torch::Tensor similarities(const torch::Tensor& z1, const torch::Tensor& z2, double temperature) {
  const auto z = torch::cat({z1, z2}).to(torch::kFloat32);
  return torch::mm(z, z.t()) / temperature;
}

torch::Tensor self_mask(int64_t n2, torch::Device device) {
  return torch::eye(n2, torch::TensorOptions().dtype(torch::kBool).device(device));
}

}  // namespace

torch::Tensor nt_xent_targets(int64_t n, torch::Device device) {
  // Row r < n (view 1 of image r) has its positive at n + r; row n + r at r.
  const auto idx = torch::arange(n, torch::TensorOptions().dtype(torch::kLong).device(device));
  return torch::cat({idx + n, idx});
}

torch::Tensor nt_xent_logits(const torch::Tensor& z1, const torch::Tensor& z2, double temperature) {
  const auto sim = similarities(z1, z2, temperature);
  return sim.masked_fill(self_mask(sim.size(0), sim.device()), -std::numeric_limits<float>::infinity());
}

torch::Tensor nt_xent(const torch::Tensor& z1, const torch::Tensor& z2, double temperature) {
  return F::cross_entropy(nt_xent_logits(z1, z2, temperature), nt_xent_targets(z1.size(0), z1.device()));
}

torch::Tensor invariance_spread(const torch::Tensor& z1, const torch::Tensor& z2, double temperature) {
  const int64_t n2 = 2 * z1.size(0);
  const auto log_p = F::log_softmax(nt_xent_logits(z1, z2, temperature), 1);  // log P(j | r)
  const auto targets = nt_xent_targets(z1.size(0), z1.device());
  const auto positive = log_p.gather(1, targets.unsqueeze(1)).squeeze(1);
  // log(1 - P) = log1p(-exp(log P)), over the columns that are neither r itself nor its positive.
  auto negative_mask = ~self_mask(n2, z1.device());
  negative_mask.scatter_(1, targets.unsqueeze(1), false);
  const auto log_not = torch::log1p(-log_p.exp().clamp_max(1 - 1e-6)).masked_fill(~negative_mask, 0);
  return -(positive + log_not.sum(1)).mean();
}

torch::Tensor nce_loss(const torch::Tensor& positive, const torch::Tensor& noise, double log_z, int64_t n) {
  const double log_k_pn = std::log(static_cast<double>(noise.size(1)) / static_cast<double>(n));
  // log h = log Pm - log(Pm + K Pn);  log(1 - h) = log(K Pn) - log(Pm + K Pn)
  auto log_denominator = [&](const torch::Tensor& log_pm) {
    return torch::logaddexp(log_pm, torch::full_like(log_pm, log_k_pn));
  };
  const auto log_pm_pos = positive.to(torch::kFloat32) - log_z;
  const auto log_pm_noise = noise.to(torch::kFloat32) - log_z;
  const auto log_h = log_pm_pos - log_denominator(log_pm_pos);
  const auto log_not_h = (log_k_pn - log_denominator(log_pm_noise)).sum(1);
  return -(log_h + log_not_h).mean();
}

torch::Tensor normalized_mse(const torch::Tensor& p, const torch::Tensor& z) {
  return 2 - 2 * F::cosine_similarity(p, z, F::CosineSimilarityFuncOptions().dim(1)).mean();
}

torch::Tensor negative_cosine(const torch::Tensor& p, const torch::Tensor& z) {
  return -F::cosine_similarity(p, z, F::CosineSimilarityFuncOptions().dim(1)).mean();
}

torch::Tensor barlow_twins(const torch::Tensor& z1, const torch::Tensor& z2, double lambda) {
  const auto a = standardize_over_batch(z1.to(torch::kFloat32));
  const auto b = standardize_over_batch(z2.to(torch::kFloat32));
  const auto c = torch::mm(a.t(), b) / static_cast<double>(z1.size(0));
  const auto diagonal = c.diagonal();
  const auto on = (1 - diagonal).pow(2).sum();
  const auto off = c.pow(2).sum() - diagonal.pow(2).sum();
  return on + lambda * off;
}

}  // namespace selfsup::ssl
