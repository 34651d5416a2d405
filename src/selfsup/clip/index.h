// A searchable image collection: L2-normalised embeddings, the path of each image and the identity
// of the model that embedded them, in one file that is memory-mapped on load (a million 256-d
// embeddings are 1 GB: nothing is read until searched).
// Layout: "SSIDX001" | u64 LE header size | JSON header {count, dim, model, paths[, ann]} padded
// with spaces so the data starts at a multiple of 64 | count x dim float32 little-endian |
// with "ann" only: zero bytes up to a multiple of 64, then the FAISS index (clip/ann_index.h).
#pragma once

#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include <memory>
#include <string>
#include <vector>

#include "selfsup/clip/ann_index.h"

namespace selfsup::clip {

struct EmbeddingIndex {
  torch::Tensor embeddings;        // N x D float32, rows L2-normalised (a view of the mapping when read)
  std::vector<std::string> paths;  // N
  nlohmann::json model;            // who made it: {"checkpoint", "fingerprint", "name", ...}
  std::shared_ptr<void> mapping;   // keeps the memory mapping alive while `embeddings` is used
  std::string path;                // the file it was read from (for errors)
  std::shared_ptr<AnnIndex> ann;   // the approximate index over the same rows; null: exact search only
};

// Written with atomic_write (core/fs.h). Throws selfsup::Error on shape mismatch or I/O failure.
void write_index(const std::string& path, const torch::Tensor& embeddings, const std::vector<std::string>& paths,
                 const nlohmann::json& model, const AnnIndex* ann = nullptr);

// Throws selfsup::Error naming the file when it is not an index, truncated or inconsistent.
// `for_append`: the approximate part is read into memory (it can grow) instead of memory-mapped.
EmbeddingIndex read_index(const std::string& path, bool for_append = false);

struct Match {
  int64_t index;  // row of the index
  float score;    // cosine similarity
};

struct SearchOptions {
  bool exact = false;  // scan every row even when the index has an approximate part
};

// Applies command-line search settings (0 = not given: keep the stored one) to `index`, checked
// against its kind: Error when --nprobe is given for an index that is not IVF, or --ef-search for
// one that is not HNSW.
SearchOptions configure_search(EmbeddingIndex& index, bool exact, int64_t nprobe, int64_t ef_search);

// The k rows most similar to the normalised query (D), best first. With an approximate part, its
// candidates are re-scored exactly (scores equal the exact search's; an image can be missed).
std::vector<Match> search(const EmbeddingIndex& index, const torch::Tensor& query, int64_t k, const SearchOptions& options = {});

// A 64-bit FNV-1a hash of every parameter and buffer (names and bytes), as 16 hex digits: an index
// records it so searching with another model's text embeddings is caught.
std::string model_fingerprint(const torch::nn::Module& model);

}  // namespace selfsup::clip
