#include "selfsup/eval/retrieval.h"

#include <algorithm>

namespace selfsup::eval {

std::vector<int64_t> best_positive_ranks(const torch::Tensor& queries, const torch::Tensor& candidates,
                                         const torch::Tensor& query_groups, const torch::Tensor& candidate_groups) {
  torch::NoGradGuard no_grad;
  const int64_t chunk = 1024;  // bounds the Q x C similarity matrix held at once
  std::vector<int64_t> ranks;
  ranks.reserve(static_cast<size_t>(queries.size(0)));
  const auto cand_t = candidates.t();
  for (int64_t begin = 0; begin < queries.size(0); begin += chunk) {
    const int64_t end = std::min(queries.size(0), begin + chunk);
    const auto r = best_positive_ranks(torch::matmul(queries.slice(0, begin, end), cand_t), query_groups.slice(0, begin, end),
                                       candidate_groups);
    ranks.insert(ranks.end(), r.begin(), r.end());
  }
  return ranks;
}

std::vector<int64_t> best_positive_ranks(const torch::Tensor& sims, const torch::Tensor& query_groups,
                                         const torch::Tensor& candidate_groups) {
  torch::NoGradGuard no_grad;
  const auto positive = query_groups.view({-1, 1}) == candidate_groups.view({1, -1});  // Q x C
  const auto best = sims.masked_fill(~positive, -std::numeric_limits<float>::infinity()).amax(1, true);
  // Negatives scoring at least the best positive rank above it (ties count against the query).
  const auto above = ((sims >= best) & ~positive).sum(1) + 1;
  const auto r = torch::where(positive.any(1), above, torch::zeros_like(above)).cpu().contiguous();
  const auto* p = r.data_ptr<int64_t>();
  return std::vector<int64_t>(p, p + r.numel());
}

RankSummary summarize_ranks(const std::vector<int64_t>& all) {
  std::vector<int64_t> ranks;
  for (auto r : all)
    if (r > 0) ranks.push_back(r);
  RankSummary s;
  s.queries = static_cast<int64_t>(ranks.size());
  if (ranks.empty()) return s;
  double sum = 0;
  for (auto r : ranks) {
    s.r1 += r <= 1;
    s.r5 += r <= 5;
    s.r10 += r <= 10;
    sum += static_cast<double>(r);
  }
  const auto n = static_cast<double>(ranks.size());
  s.r1 /= n;
  s.r5 /= n;
  s.r10 /= n;
  s.mean_rank = sum / n;
  std::sort(ranks.begin(), ranks.end());
  const size_t mid = ranks.size() / 2;
  s.median_rank = ranks.size() % 2 ? static_cast<double>(ranks[mid]) : 0.5 * static_cast<double>(ranks[mid - 1] + ranks[mid]);
  return s;
}

RetrievalResult retrieval_metrics(const torch::Tensor& image_emb, const torch::Tensor& text_emb,
                                  const torch::Tensor& image_groups, const torch::Tensor& text_groups) {
  RetrievalResult r;
  r.text_to_image = summarize_ranks(best_positive_ranks(text_emb, image_emb, text_groups, image_groups));
  r.image_to_text = summarize_ranks(best_positive_ranks(image_emb, text_emb, image_groups, text_groups));
  return r;
}

nlohmann::json to_json(const RankSummary& s) {
  return {{"r1", s.r1}, {"r5", s.r5}, {"r10", s.r10}, {"mean_rank", s.mean_rank}, {"median_rank", s.median_rank}, {"queries", s.queries}};
}

nlohmann::json RetrievalResult::to_json() const {
  return {{"text_to_image", eval::to_json(text_to_image)}, {"image_to_text", eval::to_json(image_to_text)}};
}

}  // namespace selfsup::eval
