// A search index (`selfsup clip embed` output), then one search: what loads must be searchable and
// give finite scores in order.
#include <cmath>

#include "fuzz_input.h"
#include "selfsup/clip/index.h"

using namespace selfsup;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto path = fuzz::write_file("input.ssidx", fuzz::as_text(data, size));
  clip::EmbeddingIndex index;
  if (!fuzz::parses([&] { index = clip::read_index(path); })) return 0;
  const int64_t n = index.embeddings.size(0), dim = index.embeddings.size(1);
  if (static_cast<int64_t>(index.paths.size()) != n) fuzz::finding("paths and embeddings differ in count");
  if (dim == 0) return 0;
  const auto query = torch::ones({dim}) / std::sqrt(static_cast<double>(dim));
  const auto matches = clip::search(index, query, 3);
  if (static_cast<int64_t>(matches.size()) != std::min<int64_t>(3, n)) fuzz::finding("search returned the wrong count");
  for (size_t i = 0; i < matches.size(); ++i) {
    if (matches[i].index < 0 || matches[i].index >= n) fuzz::finding("match outside the index");
    if (!std::isfinite(matches[i].score) || std::abs(matches[i].score) > 1.001f) fuzz::finding("score is not a cosine");
    if (i > 0 && matches[i].score > matches[i - 1].score) fuzz::finding("matches not best first");
  }
  return 0;
}
