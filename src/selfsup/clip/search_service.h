// What `selfsup serve` serves, without the HTTP: a CLIP model and an image index loaded once, text
// and image queries checked against limits, concurrent text queries encoded together (micro-
// batching), thumbnails of the indexed images by id, and counters for /metrics. Thread-safe: the
// HTTP server calls it from its worker threads.
#pragma once

#include <torch/torch.h>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "selfsup/clip/index.h"
#include "selfsup/clip/task.h"

namespace selfsup::clip {

// A request the service refuses: `status` is the HTTP status to answer (400, 404, 413, 415).
class BadRequest : public std::runtime_error {
 public:
  BadRequest(int status, const std::string& message) : std::runtime_error(message), status(status) {}
  int status;
};

struct ServiceLimits {
  int64_t max_k = 100;                  // results per query
  size_t max_query_bytes = 1000;        // a text query, UTF-8
  size_t max_upload_bytes = 10 << 20;   // an uploaded image
  int64_t max_upload_pixels = 40 << 20; // width x height of an upload, checked before decoding
  int64_t thumbnail_size = 128;         // /image/ID side in pixels
  int64_t batch_window_us = 2000;       // how long the first text query waits for others to join it
  int64_t max_batch = 32;               // text queries encoded together at most
};

struct Hit {
  int64_t rank = 0, id = 0;  // id: the row of the index (/image/ID)
  float score = 0;           // cosine similarity
  std::string path, label;   // label: the image's class folder (empty when the collection is one folder)
};

struct CaptionHit {
  int64_t rank = 0;
  float score = 0;
  std::string caption;
};

class SearchService {
 public:
  // Loads the checkpoint and the index (checking that this model built it) and, when `captions`
  // is given, embeds its lines (one caption each) for image -> caption queries. Throws
  // selfsup::Error for unreadable or mismatched files.
  SearchService(const std::string& checkpoint, const std::string& index, const std::string& captions, ServiceLimits limits);
  ~SearchService();
  SearchService(const SearchService&) = delete;
  SearchService& operator=(const SearchService&) = delete;

  // The k images best matching a sentence. BadRequest: empty, too long or not UTF-8; k outside
  // [1, max_k].
  std::vector<Hit> search_text(const std::string& query, int64_t k);
  // The k images nearest to an indexed image (its stored embedding).
  std::vector<Hit> search_similar(int64_t id, int64_t k);
  // An uploaded image (PNG, JPEG or BMP bytes): nearest images, and nearest captions when the
  // service has a caption set. BadRequest: too large, not an image, too many pixels.
  std::pair<std::vector<Hit>, std::vector<CaptionHit>> search_image(const std::string& bytes, int64_t k);
  // A PNG thumbnail of indexed image `id`, read from its path in the index. BadRequest 404 for an
  // id that is not a row of the index.
  std::string thumbnail(int64_t id);

  // --exact / --nprobe / --ef-search (0: not given), checked against the index's kind. Call before
  // serving.
  void set_search_options(bool exact, int64_t nprobe, int64_t ef_search);
  // "exact, 10000 x 256" or the approximate index's summary.
  std::string index_summary() const;

  int64_t size() const { return index_.embeddings.size(0); }
  const ServiceLimits& limits() const { return limits_; }
  // Plain-text metrics: queries served per kind, latency percentiles, index size, batches.
  std::string metrics_text() const;
  // Counts one answered request of `route` that took `seconds` (the HTTP layer calls it).
  void record(const std::string& route, double seconds, bool ok);

 private:
  struct Pending {
    std::string text;
    std::promise<torch::Tensor> embedding;
  };
  torch::Tensor embed_text_batched(const std::string& text);
  void batch_loop();
  std::vector<Hit> hits(const torch::Tensor& query, int64_t k) const;
  void check_k(int64_t k) const;

  ServiceLimits limits_;
  TrainedClip clip_;
  EmbeddingIndex index_;
  SearchOptions search_options_;
  bool changed_param_ = false;  // nprobe / ef_search set on the command line
  std::vector<std::string> labels_;  // per row; empty strings when unknown
  std::vector<std::string> captions_;
  torch::Tensor caption_embeddings_;
  int64_t image_size_ = 64, max_length_ = 32;
  std::mutex model_mutex_;  // the encoders run one call at a time

  std::mutex queue_mutex_;
  std::condition_variable queue_cv_;
  std::deque<Pending*> queue_;
  bool stopping_ = false;
  std::thread batcher_;

  mutable std::mutex stats_mutex_;
  struct RouteStats {
    int64_t ok = 0, failed = 0;
    std::vector<double> latencies;  // seconds, of the last 5,000-10,000 answered requests
  };
  std::map<std::string, RouteStats> stats_;
  int64_t batches_ = 0, batched_queries_ = 0;
};

// A caption file (one caption per line, blank lines skipped): `serve --captions`, `search --captions`.
// Throws selfsup::Error naming the file when it cannot be read or holds no caption.
std::vector<std::string> read_caption_lines(const std::string& path);

// Whether `s` is well-formed UTF-8 (no overlong forms, surrogates or code points past U+10FFFF).
bool valid_utf8(const std::string& s);

}  // namespace selfsup::clip
