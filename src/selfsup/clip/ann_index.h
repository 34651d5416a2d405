// Approximate nearest-neighbour search for large image collections, on FAISS: an inverted-file
// index (IVF: k-means cells, search the `nprobe` nearest cells) or a graph (HNSW: search with a
// beam of `ef_search`). It only proposes candidates; the caller re-scores them exactly against the
// stored embeddings, so a score never differs from the exact search's for the same image.
// The FAISS structure is stored after the embeddings in the index file (clip/index.h); IVF lists
// are memory-mapped from there when read for searching.
#pragma once

#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <iosfwd>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace faiss {
struct Index;
}

namespace selfsup::clip {

struct AnnOptions {
  std::string type = "ivf";     // ivf | hnsw
  int64_t nlist = 0;            // IVF cells; 0: 4 x sqrt(N), at least 1, at most N / 39
  int64_t train_sample = 0;     // embeddings the IVF k-means trains on; 0: min(N, 64 x nlist)
  int64_t hnsw_m = 32;          // HNSW graph degree
  int64_t ef_construction = 80; // HNSW build beam
  int64_t nprobe = 0;           // IVF cells searched; 0: twice the smallest reaching target_recall
  int64_t ef_search = 0;        // HNSW search beam; 0: twice the smallest reaching target_recall
  double target_recall = 0.95;  // recall@10 the automatic nprobe / ef_search aims for
  int64_t recall_queries = 1000;
  uint64_t seed = 0;
};

class AnnIndex {
 public:
  // Trains (IVF) and fills an index with `embeddings` (N x D, unit rows), then measures recall@10
  // against exact search and picks nprobe / ef_search. Progress lines go to `log` when given.
  static AnnIndex build(const torch::Tensor& embeddings, const AnnOptions& options, std::ostream* log);
  // Reads the FAISS structure stored from byte `offset` to the end (`file_size`) of `path`; `params`
  // is what describe() returned when it was written. With `mmap`, IVF lists stay in the file
  // (read-only: no append).
  static AnnIndex read(const std::string& path, uint64_t offset, uint64_t file_size, const nlohmann::json& params, bool mmap);

  // Adds rows N..N+M-1 (no retraining: IVF cells stay those of the first build), then measures
  // recall again over all of `all_embeddings` (the old rows and the new ones).
  void append(const torch::Tensor& new_rows, const torch::Tensor& all_embeddings, std::ostream* log);
  // Up to k candidate rows for one unit query (D floats), best first. Thread-safe.
  std::vector<int64_t> candidates(const float* query, int64_t k) const;
  // Replaces nprobe (IVF) or ef_search (HNSW) for the searches that follow (not while searching).
  void set_search_param(int64_t param);
  int64_t search_param() const { return search_param_; }
  // Writes the FAISS structure (read() reads it back).
  void write(std::ostream& out) const;

  // {"type", "nlist"/"hnsw_m", "nprobe"/"ef_search", "recall_at_10", "recall_queries", ...}
  const nlohmann::json& describe() const { return params_; }
  const std::string& type() const { return type_; }
  int64_t size() const;
  // One line for people: "IVF, 1024 cells, nprobe 8: recall@10 0.962 against exact search".
  std::string summary() const;

 private:
  void tune(const torch::Tensor& embeddings, double target, int64_t fixed_param, int64_t queries, std::ostream* log);
  double recall_at_10(const torch::Tensor& q, const std::vector<int64_t>& queries,
                      const std::vector<std::set<int64_t>>& truth) const;

  std::shared_ptr<faiss::Index> index_;
  std::string type_;
  int64_t search_param_ = 0;  // nprobe or ef_search
  nlohmann::json params_;
};

}  // namespace selfsup::clip
