#include "selfsup/clip/search_service.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iomanip>
#include <set>
#include <sstream>

#include "selfsup/clip/config.h"
#include "selfsup/clip/embed.h"
#include "selfsup/core/error.h"
#include "selfsup/core/fs.h"
#include "selfsup/data/decode.h"
#include "selfsup/io/png.h"

namespace selfsup::clip {

bool valid_utf8(const std::string& s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  for (size_t i = 0; i < n;) {
    const unsigned c = p[i];
    int extra = 0;
    unsigned cp = 0, min = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      extra = 1, cp = c & 0x1F, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
      extra = 2, cp = c & 0x0F, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
      extra = 3, cp = c & 0x07, min = 0x10000;
    } else {
      return false;
    }
    if (i + static_cast<size_t>(extra) >= n) return false;
    for (int k = 1; k <= extra; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += static_cast<size_t>(extra) + 1;
  }
  return true;
}

std::vector<std::string> read_caption_lines(const std::string& path) {
  std::istringstream in(read_file(path, "caption file (one caption per line)"));
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!line.empty()) lines.push_back(line);
  }
  if (lines.empty()) throw Error(path + ": empty: expected one caption per line");
  return lines;
}

SearchService::SearchService(const std::string& checkpoint, const std::string& index, const std::string& captions,
                             ServiceLimits limits)
    : limits_(limits), clip_(load_trained_clip(checkpoint, torch::kCPU)), index_(read_index(index)) {
  const auto fingerprint = index_.model.value("fingerprint", std::string());
  if (fingerprint != clip_.identity["fingerprint"].get<std::string>())
    throw Error(index + ": embedded by another model (" + index_.model.value("checkpoint", std::string("unknown")) +
                "); run selfsup embed with " + checkpoint + " first");
  clip_.model->eval();
  image_size_ = clip_.recipe.data.image_size > 0 ? clip_.recipe.data.image_size : 64;
  max_length_ = clip_config(clip_.recipe).text.max_length;
  // A collection of class folders (folder/class/image.png): the class is the image's folder name.
  std::set<std::string> folders;
  for (const auto& p : index_.paths) {
    labels_.push_back(std::filesystem::path(p).parent_path().filename().string());
    folders.insert(std::filesystem::path(p).parent_path().string());
  }
  if (folders.size() < 2) labels_.assign(labels_.size(), "");  // one folder: no labels
  if (!captions.empty()) {
    captions_ = read_caption_lines(captions);
    caption_embeddings_ = embed_texts(*clip_.model, *clip_.tokenizer, captions_, max_length_, torch::kCPU);
  }
  batcher_ = std::thread([this] { batch_loop(); });
}

SearchService::~SearchService() {
  {
    std::lock_guard<std::mutex> lock(queue_mutex_);
    stopping_ = true;
  }
  queue_cv_.notify_all();
  batcher_.join();
}

void SearchService::set_search_options(bool exact, int64_t nprobe, int64_t ef_search) {
  search_options_ = configure_search(index_, exact, nprobe, ef_search);
  changed_param_ = nprobe > 0 || ef_search > 0;
}

std::string SearchService::index_summary() const {
  const auto shape = std::to_string(size()) + " x " + std::to_string(index_.embeddings.size(1));
  if (!index_.ann || search_options_.exact) return "exact search over " + shape + " embeddings";
  std::string s = index_.ann->summary();
  if (changed_param_)
    s += "; searching with " + std::string(index_.ann->type() == "ivf" ? "nprobe " : "ef_search ") +
         std::to_string(index_.ann->search_param()) + " instead";
  return s;
}

void SearchService::check_k(int64_t k) const {
  if (k < 1 || k > limits_.max_k)
    throw BadRequest(400, "k must be between 1 and " + std::to_string(limits_.max_k) + ", got " + std::to_string(k));
}

std::vector<Hit> SearchService::hits(const torch::Tensor& query, int64_t k) const {
  std::vector<Hit> out;
  int64_t rank = 0;
  for (const auto& m : search(index_, query, k, search_options_))
    out.push_back({++rank, m.index, m.score, index_.paths[m.index], labels_[m.index]});
  return out;
}

// The batcher thread: takes the first waiting query, lets others join for batch_window_us (or
// until max_batch), encodes them in one call and hands each its row.
void SearchService::batch_loop() {
  torch::NoGradGuard no_grad;
  for (;;) {
    std::vector<Pending*> batch;
    {
      std::unique_lock<std::mutex> lock(queue_mutex_);
      queue_cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_ && queue_.empty()) return;
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::microseconds(limits_.batch_window_us);
      queue_cv_.wait_until(lock, deadline, [&] { return stopping_ || static_cast<int64_t>(queue_.size()) >= limits_.max_batch; });
      while (!queue_.empty() && static_cast<int64_t>(batch.size()) < limits_.max_batch) {
        batch.push_back(queue_.front());
        queue_.pop_front();
      }
    }
    std::vector<std::string> texts;
    for (const auto* p : batch) texts.push_back(p->text);
    try {
      torch::Tensor emb;
      {
        std::lock_guard<std::mutex> lock(model_mutex_);
        emb = embed_texts(*clip_.model, *clip_.tokenizer, texts, max_length_, torch::kCPU);
      }
      for (size_t i = 0; i < batch.size(); ++i) batch[i]->embedding.set_value(emb[static_cast<int64_t>(i)].clone());
      std::lock_guard<std::mutex> lock(stats_mutex_);
      ++batches_;
      batched_queries_ += static_cast<int64_t>(batch.size());
    } catch (...) {
      for (auto* p : batch) p->embedding.set_exception(std::current_exception());
    }
  }
}

torch::Tensor SearchService::embed_text_batched(const std::string& text) {
  Pending pending{text, {}};
  auto result = pending.embedding.get_future();
  {
    std::lock_guard<std::mutex> lock(queue_mutex_);
    queue_.push_back(&pending);
  }
  queue_cv_.notify_all();
  return result.get();
}

std::vector<Hit> SearchService::search_text(const std::string& query, int64_t k) {
  check_k(k);
  if (query.empty()) throw BadRequest(400, "q: give a sentence to search for");
  if (query.size() > limits_.max_query_bytes)
    throw BadRequest(413, "q: " + std::to_string(query.size()) + " bytes, at most " + std::to_string(limits_.max_query_bytes));
  if (!valid_utf8(query)) throw BadRequest(400, "q: not valid UTF-8");
  return hits(embed_text_batched(query), k);
}

std::vector<Hit> SearchService::search_similar(int64_t id, int64_t k) {
  check_k(k);
  if (id < 0 || id >= size()) throw BadRequest(404, "id " + std::to_string(id) + ": no such image (0.." + std::to_string(size() - 1) + ")");
  return hits(index_.embeddings[id], k);
}

std::pair<std::vector<Hit>, std::vector<CaptionHit>> SearchService::search_image(const std::string& bytes, int64_t k) {
  check_k(k);
  if (bytes.empty()) throw BadRequest(400, "the request body is empty: send the image bytes (PNG, JPEG or BMP)");
  if (bytes.size() > limits_.max_upload_bytes)
    throw BadRequest(413, "image of " + std::to_string(bytes.size()) + " bytes, at most " + std::to_string(limits_.max_upload_bytes));
  const data::ByteSpan span{reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()};
  torch::Tensor image;
  try {
    const auto header = data::read_image_header(span, "upload");
    if (header.width * header.height > limits_.max_upload_pixels)
      throw BadRequest(413, "image of " + std::to_string(header.width) + "x" + std::to_string(header.height) +
                                " pixels, at most " + std::to_string(limits_.max_upload_pixels) + " pixels");
    image = data::decode_image_bytes(span, "upload", image_size_, 3).unsqueeze(0);
  } catch (const Error& e) {
    throw BadRequest(415, std::string("not a readable PNG, JPEG or BMP image: ") + e.what());
  }
  torch::Tensor emb;
  {
    std::lock_guard<std::mutex> lock(model_mutex_);
    emb = embed_images(*clip_.model, image, clip_.recipe.augment.views.at(0), torch::kCPU)[0];
  }
  std::vector<CaptionHit> captions;
  if (caption_embeddings_.defined()) {
    const auto scores = torch::mv(caption_embeddings_, emb);
    const auto top = scores.topk(std::min<int64_t>(k, scores.size(0)));
    for (int64_t i = 0; i < std::get<1>(top).size(0); ++i)
      captions.push_back({i + 1, std::get<0>(top)[i].item<float>(), captions_[std::get<1>(top)[i].item<int64_t>()]});
  }
  return {hits(emb, k), captions};
}

std::string SearchService::thumbnail(int64_t id) {
  if (id < 0 || id >= size()) throw BadRequest(404, "id " + std::to_string(id) + ": no such image (0.." + std::to_string(size() - 1) + ")");
  const auto image = data::decode_image(index_.paths[id], limits_.thumbnail_size, 3);
  return io::encode_png(image.to(torch::kFloat) / 255, index_.paths[id]);
}

void SearchService::record(const std::string& route, double seconds, bool ok) {
  std::lock_guard<std::mutex> lock(stats_mutex_);
  auto& s = stats_[route];
  (ok ? s.ok : s.failed) += 1;
  if (!ok) return;  // latencies of answered queries only
  if (s.latencies.size() >= 10000) s.latencies.erase(s.latencies.begin(), s.latencies.begin() + 5000);
  s.latencies.push_back(seconds);
}

std::string SearchService::metrics_text() const {
  std::lock_guard<std::mutex> lock(stats_mutex_);
  std::ostringstream out;
  out << std::setprecision(6);
  out << "selfsup_index_images " << size() << "\n";
  out << "selfsup_index_dim " << index_.embeddings.size(1) << "\n";
  const bool approximate = index_.ann && !search_options_.exact;
  out << "selfsup_index_approximate{type=\"" << (approximate ? index_.ann->type() : "exact") << "\"} " << approximate << "\n";
  out << "selfsup_text_batches " << batches_ << "\n";
  out << "selfsup_text_batched_queries " << batched_queries_ << "\n";
  for (const auto& [route, s] : stats_) {
    out << "selfsup_requests{route=\"" << route << "\",result=\"ok\"} " << s.ok << "\n";
    out << "selfsup_requests{route=\"" << route << "\",result=\"error\"} " << s.failed << "\n";
    if (s.latencies.empty()) continue;
    auto sorted = s.latencies;
    std::sort(sorted.begin(), sorted.end());
    for (const double q : {0.5, 0.95, 0.99}) {
      const auto at = static_cast<size_t>(q * static_cast<double>(sorted.size() - 1));
      out << "selfsup_latency_seconds{route=\"" << route << "\",quantile=\"" << q << "\"} " << sorted[at] << "\n";
    }
  }
  return out.str();
}

}  // namespace selfsup::clip
