#include "selfsup/clip/ann_index.h"

#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#include <faiss/IndexIVFFlat.h>
#include <faiss/impl/FaissException.h>
#include <faiss/impl/io.h>
#include <faiss/index_io.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iomanip>
#include <ostream>
#include <numeric>
#include <random>
#include <set>
#include <sstream>

#include "selfsup/core/error.h"

namespace selfsup::clip {
namespace {

constexpr int64_t kAddChunk = 100000;  // rows added per progress line

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

torch::Tensor as_float_rows(const torch::Tensor& t) { return t.detach().to(torch::kCPU, torch::kFloat).contiguous(); }

// FAISS writes through this into the index file's stream (no second copy of a large index in RAM).
struct StreamWriter : faiss::IOWriter {
  explicit StreamWriter(std::ostream& out) : out(out) {}
  size_t operator()(const void* ptr, size_t size, size_t nitems) override {
    out.write(static_cast<const char*>(ptr), static_cast<std::streamsize>(size * nitems));
    return out ? nitems : 0;
  }
  std::ostream& out;
};

// The rows (of `embeddings`) of the k nearest other rows of each query row, by exact inner
// product, in chunks so a million rows never need a queries x N score matrix.
std::vector<std::set<int64_t>> exact_neighbours(const torch::Tensor& embeddings, const std::vector<int64_t>& queries,
                                                int64_t k) {
  torch::NoGradGuard no_grad;
  const auto q = embeddings.index_select(0, torch::tensor(queries, torch::kLong));
  const int64_t n = embeddings.size(0), chunk = 65536;
  torch::Tensor best_scores, best_rows;
  for (int64_t start = 0; start < n; start += chunk) {
    const int64_t len = std::min(chunk, n - start);
    auto scores = torch::mm(q, embeddings.narrow(0, start, len).t());
    auto rows = torch::arange(start, start + len, torch::kLong).expand({q.size(0), len});
    if (best_scores.defined()) {
      scores = torch::cat({best_scores, scores}, 1);
      rows = torch::cat({best_rows, rows}, 1);
    }
    const auto top = scores.topk(std::min<int64_t>(k + 1, scores.size(1)), 1);
    best_scores = std::get<0>(top);
    best_rows = rows.gather(1, std::get<1>(top));
  }
  std::vector<std::set<int64_t>> out(queries.size());
  const auto rows = best_rows.contiguous();
  const auto r = rows.accessor<int64_t, 2>();
  for (size_t i = 0; i < queries.size(); ++i)
    for (int64_t j = 0; j < rows.size(1) && static_cast<int64_t>(out[i].size()) < k; ++j)
      if (r[static_cast<int64_t>(i)][j] != queries[i]) out[i].insert(r[static_cast<int64_t>(i)][j]);
  return out;
}

}  // namespace

AnnIndex AnnIndex::build(const torch::Tensor& embeddings, const AnnOptions& o, std::ostream* log) {
  if (o.type != "ivf" && o.type != "hnsw") throw Error("index type: expected flat, ivf or hnsw, got " + o.type);
  const auto data = as_float_rows(embeddings);
  const int64_t n = data.size(0), d = data.size(1);
  if (n < 1) throw Error("an approximate index needs at least one embedding");
  AnnIndex ann;
  ann.type_ = o.type;
  const auto start = std::chrono::steady_clock::now();
  try {
    if (o.type == "ivf") {
      // FAISS wants >= 39 training points per cell; 4 sqrt(N) cells is its guide's lower end.
      const int64_t nlist = o.nlist > 0 ? o.nlist
                                        : std::clamp<int64_t>(static_cast<int64_t>(4 * std::sqrt(static_cast<double>(n))), 1,
                                                              std::max<int64_t>(1, n / 39));
      if (nlist > n) throw Error("--nlist " + std::to_string(nlist) + ": more cells than the " + std::to_string(n) + " embeddings");
      const int64_t sample = std::min(n, o.train_sample > 0 ? o.train_sample : 64 * nlist);
      auto ivf = std::make_shared<faiss::IndexIVFFlat>(new faiss::IndexFlatIP(d), d, static_cast<size_t>(nlist),
                                                       faiss::METRIC_INNER_PRODUCT);
      ivf->own_fields = true;
      ivf->cp.seed = static_cast<int>(o.seed);
      // The training sample: a seeded random subset, so a sorted collection does not bias the cells.
      std::mt19937_64 rng(o.seed);
      std::vector<int64_t> order(static_cast<size_t>(n));
      std::iota(order.begin(), order.end(), 0);
      std::shuffle(order.begin(), order.end(), rng);
      order.resize(static_cast<size_t>(sample));
      const auto train = data.index_select(0, torch::tensor(order, torch::kLong)).contiguous();
      if (log) *log << "IVF: training " << nlist << " cells (k-means) on " << sample << " of " << n << " embeddings" << std::endl;
      ivf->train(sample, train.data_ptr<float>());
      ann.index_ = ivf;
      ann.params_ = {{"type", "ivf"}, {"nlist", nlist}, {"train_sample", sample}};
    } else {
      if (o.hnsw_m < 2) throw Error("--hnsw-m must be >= 2");
      auto hnsw = std::make_shared<faiss::IndexHNSWFlat>(static_cast<int>(d), static_cast<int>(o.hnsw_m), faiss::METRIC_INNER_PRODUCT);
      hnsw->hnsw.efConstruction = static_cast<int>(o.ef_construction);
      ann.index_ = hnsw;
      ann.params_ = {{"type", "hnsw"}, {"hnsw_m", o.hnsw_m}, {"ef_construction", o.ef_construction}};
    }
    for (int64_t at = 0; at < n; at += kAddChunk) {
      const int64_t len = std::min(kAddChunk, n - at);
      ann.index_->add(len, data.narrow(0, at, len).data_ptr<float>());
      if (log && n > kAddChunk)
        *log << "  added " << at + len << " / " << n << " (" << std::fixed << std::setprecision(1) << seconds_since(start) << " s)"
             << std::endl;
    }
  } catch (const faiss::FaissException& e) {
    throw Error(std::string("building the ") + o.type + " index failed: " + e.what());
  }
  ann.params_["build_seconds"] = std::round(seconds_since(start) * 100) / 100;
  ann.params_["target_recall"] = o.target_recall;
  ann.params_["seed"] = o.seed;
  ann.tune(data, o.target_recall, o.type == "ivf" ? o.nprobe : o.ef_search, o.recall_queries, log);
  return ann;
}

AnnIndex AnnIndex::read(const std::string& path, uint64_t offset, uint64_t file_size, const nlohmann::json& params, bool mmap) {
  AnnIndex ann;
  try {
    ann.type_ = params.at("type").get<std::string>();
    ann.search_param_ = params.at(ann.type_ == "ivf" ? "nprobe" : "ef_search").get<int64_t>();
  } catch (const nlohmann::json::exception& e) {
    throw Error(path + ": corrupt index header (ann): " + e.what());
  }
  if (ann.type_ != "ivf" && ann.type_ != "hnsw") throw Error(path + ": unknown approximate index type " + ann.type_);
  ann.params_ = params;
  const int64_t param = ann.search_param_;
  try {
    // A reader on the file itself (not a copy): FAISS memory-maps IVF lists at their offsets in it.
    faiss::FileIOReader reader(path.c_str());
    if (std::fseek(reader.f, static_cast<long>(offset), SEEK_SET) != 0) throw Error(path + ": truncated index (no approximate part)");
    ann.index_.reset(faiss::read_index(&reader, mmap ? faiss::IO_FLAG_MMAP : 0));
    // A memory-mapped read only computes where the lists end: check that the file reaches there.
    const auto end = std::ftell(reader.f);
    if (end < 0 || static_cast<uint64_t>(end) != file_size)
      throw Error(path + ": truncated or corrupt approximate index (it ends at byte " + std::to_string(end) + ", the file at " +
                  std::to_string(file_size) + ")");
  } catch (const faiss::FaissException& e) {
    throw Error(path + ": corrupt approximate index: " + e.what());
  } catch (const std::bad_alloc&) {
    throw Error(path + ": corrupt approximate index (sizes past the end of memory)");
  }
  const bool ivf = dynamic_cast<faiss::IndexIVF*>(ann.index_.get()) != nullptr;
  const bool hnsw = dynamic_cast<faiss::IndexHNSW*>(ann.index_.get()) != nullptr;
  if ((ann.type_ == "ivf" && !ivf) || (ann.type_ == "hnsw" && !hnsw))
    throw Error(path + ": the approximate part is not the " + ann.type_ + " index its header says");
  ann.set_search_param(param);
  return ann;
}

void AnnIndex::append(const torch::Tensor& new_rows, const torch::Tensor& all_embeddings, std::ostream* log) {
  const auto data = as_float_rows(new_rows);
  try {
    for (int64_t at = 0; at < data.size(0); at += kAddChunk) {
      const int64_t len = std::min(kAddChunk, data.size(0) - at);
      index_->add(len, data.narrow(0, at, len).data_ptr<float>());
    }
  } catch (const faiss::FaissException& e) {
    throw Error(std::string("adding to the ") + type_ + " index failed: " + e.what());
  }
  const bool automatic = params_.value("automatic_param", true);
  tune(as_float_rows(all_embeddings), params_.value("target_recall", 0.95), automatic ? 0 : search_param_,
       AnnOptions().recall_queries, log);
}

void AnnIndex::set_search_param(int64_t param) {
  if (param < 1) throw Error(std::string(type_ == "ivf" ? "nprobe" : "ef_search") + " must be >= 1");
  // Set on the index itself: FAISS 1.7.3's HNSW search ignores a per-call efSearch.
  if (auto* ivf = dynamic_cast<faiss::IndexIVF*>(index_.get())) ivf->nprobe = static_cast<size_t>(param);
  if (auto* hnsw = dynamic_cast<faiss::IndexHNSW*>(index_.get())) hnsw->hnsw.efSearch = static_cast<int>(param);
  search_param_ = param;
}

std::vector<int64_t> AnnIndex::candidates(const float* query, int64_t k) const {
  std::vector<float> distances(static_cast<size_t>(k));
  std::vector<faiss::Index::idx_t> labels(static_cast<size_t>(k));
  index_->search(1, query, k, distances.data(), labels.data());
  std::vector<int64_t> rows;
  for (const auto id : labels)
    if (id >= 0) rows.push_back(id);  // -1: fewer than k found
  return rows;
}

void AnnIndex::write(std::ostream& out) const {
  StreamWriter writer(out);
  try {
    faiss::write_index(index_.get(), &writer);
  } catch (const faiss::FaissException& e) {
    throw Error(std::string("writing the approximate index failed: ") + e.what());
  }
}

int64_t AnnIndex::size() const { return index_ ? index_->ntotal : 0; }

std::string AnnIndex::summary() const {
  std::ostringstream s;
  s << std::fixed << std::setprecision(3);
  if (type_ == "ivf")
    s << "IVF, " << params_.value("nlist", 0) << " cells, nprobe " << search_param_;
  else
    s << "HNSW, M " << params_.value("hnsw_m", 0) << ", ef_search " << search_param_;
  s << ": recall@10 " << params_.value("recall_at_10", 0.0) << " against exact search (" << params_.value("recall_queries", 0)
    << " images as queries)";
  return s.str();
}

// Recall@10: for sampled rows of the collection used as queries, the share of their 10 exact
// nearest other rows (`truth`) that the approximate index returns among its top 10 (the query row
// itself is left out of both: it is trivially found).
double AnnIndex::recall_at_10(const torch::Tensor& q, const std::vector<int64_t>& queries,
                              const std::vector<std::set<int64_t>>& truth) const {
  const int64_t nq = q.size(0), kk = 11;
  std::vector<float> distances(static_cast<size_t>(nq * kk));
  std::vector<faiss::Index::idx_t> labels(static_cast<size_t>(nq * kk));
  index_->search(nq, q.data_ptr<float>(), kk, distances.data(), labels.data());
  int64_t found = 0, wanted = 0;
  for (int64_t i = 0; i < nq; ++i) {
    const auto& want = truth[static_cast<size_t>(i)];
    int64_t taken = 0;
    for (int64_t j = 0; j < kk && taken < static_cast<int64_t>(want.size()); ++j) {
      const auto id = labels[static_cast<size_t>(i * kk + j)];
      if (id < 0 || id == queries[static_cast<size_t>(i)]) continue;
      ++taken;
      found += want.count(id) ? 1 : 0;
    }
    wanted += static_cast<int64_t>(want.size());
  }
  return wanted ? static_cast<double>(found) / static_cast<double>(wanted) : 1.0;
}

// Picks nprobe / ef_search: `fixed_param` when > 0, else twice the smallest of 1, 2, 4, ... (IVF, up
// to all cells) or 16, 32, ... 1024 (HNSW) whose recall@10 reaches `target`.
void AnnIndex::tune(const torch::Tensor& embeddings, double target, int64_t fixed_param, int64_t queries,
                    std::ostream* log) {
  const int64_t n = embeddings.size(0), count = std::min(queries, n);
  std::mt19937_64 rng(params_.value("seed", uint64_t{0}) + 1);
  std::vector<int64_t> rows(static_cast<size_t>(n));
  std::iota(rows.begin(), rows.end(), 0);
  std::shuffle(rows.begin(), rows.end(), rng);
  rows.resize(static_cast<size_t>(count));
  const auto truth = exact_neighbours(embeddings, rows, std::min<int64_t>(10, n - 1));
  const auto q = embeddings.index_select(0, torch::tensor(rows, torch::kLong)).contiguous();
  std::vector<int64_t> grid;
  if (fixed_param > 0) {
    grid = {fixed_param};
  } else if (type_ == "ivf") {
    const int64_t nlist = params_.at("nlist").get<int64_t>();
    for (int64_t p = 1; p < nlist; p *= 2) grid.push_back(p);
    grid.push_back(nlist);
  } else {
    for (int64_t ef = 16; ef <= 1024; ef *= 2) grid.push_back(ef);
  }
  const char* name = type_ == "ivf" ? "nprobe" : "ef_search";
  double recall = 0;
  for (const auto p : grid) {
    const auto start = std::chrono::steady_clock::now();
    set_search_param(p);
    recall = recall_at_10(q, rows, truth);
    if (log)
      *log << "  " << name << " " << p << ": recall@10 " << std::fixed << std::setprecision(3) << recall << " ("
           << std::setprecision(3) << 1000 * seconds_since(start) / std::max<int64_t>(count, 1) << " ms per query, "
           << count << " queries at once)" << std::endl;
    if (recall >= target) break;
  }
  if (log && recall < target)
    *log << "  warning: recall@10 " << recall << " stays below the target " << target << "; searching with " << name << " "
         << search_param_ << std::endl;
  // Text queries fall between the clusters of image embeddings and needed twice the setting for
  // the same recall (docs/results.md): the automatic choice keeps that margin.
  if (fixed_param <= 0 && recall >= target && search_param_ < grid.back()) {
    set_search_param(std::min(2 * search_param_, grid.back()));
    recall = recall_at_10(q, rows, truth);
    if (log)
      *log << "  " << name << " " << search_param_ << ": recall@10 " << std::fixed << std::setprecision(3) << recall
           << " (twice the smallest setting reaching " << target << ": the margin text queries need)" << std::endl;
  }
  params_[name] = search_param_;
  params_["automatic_param"] = fixed_param <= 0;
  params_["recall_at_10"] = std::round(recall * 10000) / 10000;
  params_["recall_queries"] = count;
}

}  // namespace selfsup::clip
