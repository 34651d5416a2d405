// A searchable image collection: L2-normalised embeddings, the path of each image and the identity
// of the model that embedded them, in one file that is memory-mapped on load (a million 256-d
// embeddings are 1 GB: nothing is read until searched).
// Layout: "SSIDX001" | u64 LE header size | JSON header {count, dim, model, paths} padded with
// spaces so the data starts at a multiple of 64 | count x dim float32 little-endian.
#pragma once

#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include <memory>
#include <string>
#include <vector>

namespace selfsup::clip {

struct EmbeddingIndex {
  torch::Tensor embeddings;        // N x D float32, rows L2-normalised (a view of the mapping when read)
  std::vector<std::string> paths;  // N
  nlohmann::json model;            // who made it: {"checkpoint", "fingerprint", "name", ...}
  std::shared_ptr<void> mapping;   // keeps the memory mapping alive while `embeddings` is used
  std::string path;                // the file it was read from (for errors)
};

// Written with atomic_write (core/fs.h). Throws selfsup::Error on shape mismatch or I/O failure.
void write_index(const std::string& path, const torch::Tensor& embeddings, const std::vector<std::string>& paths,
                 const nlohmann::json& model);

// Throws selfsup::Error naming the file when it is not an index, truncated or inconsistent.
EmbeddingIndex read_index(const std::string& path);

struct Match {
  int64_t index;  // row of the index
  float score;    // cosine similarity
};

// The k rows most similar to the normalised query (D), best first.
std::vector<Match> search(const EmbeddingIndex& index, const torch::Tensor& query, int64_t k);

// A 64-bit FNV-1a hash of every parameter and buffer (names and bytes), as 16 hex digits: an index
// records it so searching with another model's text embeddings is caught.
std::string model_fingerprint(const torch::nn::Module& model);

}  // namespace selfsup::clip
