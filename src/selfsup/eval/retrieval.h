// Image-text retrieval metrics (CLIP_benchmark's protocol): recall@K counts a hit when ANY positive
// is among the top K (an image has several captions), plus the mean and median rank of the best
// positive. Image i and text j are positives iff image_groups[i] == text_groups[j].
// text->image = "image retrieval", image->text = "text retrieval".
#pragma once

#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include <vector>

namespace selfsup::eval {

struct RankSummary {
  double r1 = 0, r5 = 0, r10 = 0;  // fractions in [0, 1]
  double mean_rank = 0, median_rank = 0;  // 1 = the best positive ranked first
  int64_t queries = 0;
};

// {r1, r5, r10, mean_rank, median_rank, queries}
nlohmann::json to_json(const RankSummary& s);

struct RetrievalResult {
  RankSummary text_to_image, image_to_text;
  nlohmann::json to_json() const;
};

// 1-based rank of each query's best-ranked positive among all candidates (ties count against the
// query); queries: Q x D, candidates: C x D, both L2-normalised. Queries without any positive are
// skipped (rank 0).
std::vector<int64_t> best_positive_ranks(const torch::Tensor& queries, const torch::Tensor& candidates,
                                         const torch::Tensor& query_groups, const torch::Tensor& candidate_groups);

// The same from a precomputed Q x C similarity matrix (e.g. a score that is not a dot product).
std::vector<int64_t> best_positive_ranks(const torch::Tensor& similarities, const torch::Tensor& query_groups,
                                         const torch::Tensor& candidate_groups);

RankSummary summarize_ranks(const std::vector<int64_t>& ranks);

// Both directions over normalised image (N x D) and text (M x D) embeddings.
RetrievalResult retrieval_metrics(const torch::Tensor& image_emb, const torch::Tensor& text_emb,
                                  const torch::Tensor& image_groups, const torch::Tensor& text_groups);

}  // namespace selfsup::eval
