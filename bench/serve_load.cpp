// Load for `selfsup serve`, on loopback (docs/results.md, "Search service under load"):
//
//   selfsup_bench_serve index --checkpoint C --count 1000000 --out big.idx [--index-type flat|ivf|hnsw]
//                             [--clusters N] [--spread 0.5]        # synthetic embeddings
//   selfsup_bench_serve recall --checkpoint C --index I --queries FILE [--k 10] [--nprobe N | --ef-search N]
//   selfsup_bench_serve load --port P [--clients 8] [--seconds 10] [--warmup 2] [--k 10] [--pid SERVER_PID]
//
// `index` writes an index of random unit vectors, clustered (one cluster per 1,000 by default),
// recorded as made by the checkpoint's model (so the server accepts it; its paths do not exist, so
// only searches make sense), exact or with a FAISS index built with the automatic parameters.
// `recall` measures an approximate index against exact search for text queries (one per line). `load` runs N clients
// that send text queries back to back for a fixed time and reports throughput, latency percentiles,
// failures, and the server's resident memory after a warm-up and at the end (with --pid). Exit 1
// when a request failed or memory grew by more than 10% (+16 MiB) after the warm-up.
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "selfsup/builtin.h"
#include "selfsup/clip/ann_index.h"
#include "selfsup/clip/config.h"
#include "selfsup/clip/embed.h"
#include "selfsup/clip/index.h"
#include "selfsup/clip/search_service.h"
#include "selfsup/clip/task.h"
#include "selfsup/core/error.h"
#include "selfsup/core/runtime.h"

namespace {

std::string arg(const std::vector<std::string>& args, const std::string& name, const std::string& fallback) {
  for (size_t i = 0; i + 1 < args.size(); ++i)
    if (args[i] == name) return args[i + 1];
  return fallback;
}

int64_t rss_kib(const std::string& pid) {
  std::ifstream in("/proc/" + pid + "/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6));
  return -1;
}

int make_index(const std::vector<std::string>& args) {
  const auto checkpoint = arg(args, "--checkpoint", ""), out = arg(args, "--out", "");
  const int64_t count = std::stoll(arg(args, "--count", "10000"));
  const auto type = arg(args, "--index-type", "flat");
  const int64_t clusters = std::stoll(arg(args, "--clusters", std::to_string(std::max<int64_t>(1, count / 1000))));
  const double spread = std::stod(arg(args, "--spread", "0.5"));
  if (checkpoint.empty() || out.empty()) throw selfsup::Error("index: give --checkpoint C --out FILE [--count N]");
  selfsup::configure_threads(0);  // every core for FAISS's k-means and graph building
  const auto clip = selfsup::clip::load_trained_clip(checkpoint, torch::kCPU);
  torch::manual_seed(std::stoll(arg(args, "--seed", "0")));
  const int64_t dim = selfsup::clip::clip_config(clip.recipe).embed_dim;
  // Clustered like real embeddings: unit vectors around `clusters` random directions, at distance
  // `spread` from their centre on average (uniform random vectors have no neighbours to find).
  const auto unit = torch::nn::functional::NormalizeFuncOptions().dim(1);
  const auto centres = torch::nn::functional::normalize(torch::randn({clusters, dim}), unit);
  const auto emb = torch::nn::functional::normalize(
      centres.index_select(0, torch::randint(clusters, {count}, torch::kLong)) + spread * torch::randn({count, dim}) / std::sqrt(dim),
      unit);
  std::vector<std::string> paths(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) paths[static_cast<size_t>(i)] = "synthetic/" + std::to_string(i) + ".png";
  std::unique_ptr<selfsup::clip::AnnIndex> ann;
  if (type != "flat") {
    selfsup::clip::AnnOptions options;
    options.type = type;
    ann = std::make_unique<selfsup::clip::AnnIndex>(selfsup::clip::AnnIndex::build(emb, options, &std::cout));
  }
  selfsup::clip::write_index(out, emb, paths, clip.identity, ann.get());
  std::cout << "wrote " << count << " synthetic " << dim << "-d embeddings (" << clusters << " clusters, spread " << spread
            << ") to " << out << (ann ? ": " + ann->summary() : std::string(": exact")) << std::endl;
  return 0;
}

int load(const std::vector<std::string>& args) {
  const int port = std::stoi(arg(args, "--port", "8080"));
  const int clients = std::stoi(arg(args, "--clients", "8"));
  const double seconds = std::stod(arg(args, "--seconds", "10")), warmup = std::stod(arg(args, "--warmup", "2"));
  const std::string k = arg(args, "--k", "10"), pid = arg(args, "--pid", "");
  const std::vector<std::string> queries{"a red heart", "a smiling face", "a waving hand", "a cat", "a green tree",
                                         "a blue car", "a yellow star", "an apple"};
  // Warm-up (not counted): the first queries touch the memory-mapped index and grow the
  // allocator's pools; memory must stay flat from there on.
  {
    httplib::Client client("127.0.0.1", port);
    client.set_read_timeout(30, 0);
    const auto warm_end = std::chrono::steady_clock::now() + std::chrono::duration<double>(warmup);
    while (std::chrono::steady_clock::now() < warm_end) client.Get("/search?k=" + k + "&q=warm+up");
  }
  const int64_t rss_before = pid.empty() ? -1 : rss_kib(pid);
  std::mutex mutex;
  std::vector<double> latencies;
  std::atomic<int64_t> failed{0};
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c)
    threads.emplace_back([&, c] {
      httplib::Client client("127.0.0.1", port);
      client.set_read_timeout(30, 0);
      std::vector<double> mine;
      for (size_t i = static_cast<size_t>(c); std::chrono::steady_clock::now() < end; ++i) {
        const auto t0 = std::chrono::steady_clock::now();
        std::string q = queries[i % queries.size()];
        std::replace(q.begin(), q.end(), ' ', '+');  // the queries are plain words
        const auto path = "/search?k=" + k + "&q=" + q;
        const auto res = client.Get(path);
        if (!res || res->status != 200) {
          ++failed;
          continue;
        }
        mine.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      }
      std::lock_guard<std::mutex> lock(mutex);
      latencies.insert(latencies.end(), mine.begin(), mine.end());
    });
  for (auto& t : threads) t.join();
  const int64_t rss_after = pid.empty() ? -1 : rss_kib(pid);
  std::sort(latencies.begin(), latencies.end());
  auto pct = [&](double q) {
    return latencies.empty() ? 0.0 : 1000 * latencies[static_cast<size_t>(q * static_cast<double>(latencies.size() - 1))];
  };
  std::printf("%d clients x %.0f s: %zu queries, %.1f queries/s, latency p50 %.2f ms p95 %.2f ms p99 %.2f ms, %lld failed",
              clients, seconds, latencies.size(), static_cast<double>(latencies.size()) / seconds, pct(0.5), pct(0.95),
              pct(0.99), static_cast<long long>(failed.load()));
  if (rss_before > 0)
    std::printf(", server RSS %.1f -> %.1f MiB", static_cast<double>(rss_before) / 1024, static_cast<double>(rss_after) / 1024);
  std::printf("\n");
  const bool grew = rss_before > 0 && rss_after > rss_before * 11 / 10 + 16 * 1024;
  if (grew) std::printf("memory grew by more than 10%%\n");
  return failed > 0 || latencies.empty() || grew ? 1 : 0;
}

// Recall@k of an index's approximate part for text queries (one per line of --queries): the share
// of the exact top k that the approximate search returns, over all queries.
int text_recall(const std::vector<std::string>& args) {
  const auto checkpoint = arg(args, "--checkpoint", ""), index_path = arg(args, "--index", "");
  const auto queries_path = arg(args, "--queries", "");
  const int64_t k = std::stoll(arg(args, "--k", "10"));
  if (checkpoint.empty() || index_path.empty() || queries_path.empty())
    throw selfsup::Error("recall: give --checkpoint C --index I --queries FILE [--k 10]");
  selfsup::configure_threads(0);
  auto clip = selfsup::clip::load_trained_clip(checkpoint, torch::kCPU);
  auto index = selfsup::clip::read_index(index_path);
  if (!index.ann) throw selfsup::Error(index_path + ": exact index: nothing to compare");
  selfsup::clip::configure_search(index, false, std::stoll(arg(args, "--nprobe", "0")), std::stoll(arg(args, "--ef-search", "0")));
  const auto queries = selfsup::clip::read_caption_lines(queries_path);
  const auto text = selfsup::clip::embed_texts(*clip.model, *clip.tokenizer, queries,
                                               selfsup::clip::clip_config(clip.recipe).text.max_length, torch::kCPU);
  int64_t found = 0, wanted = 0;
  double exact_s = 0, approx_s = 0;
  for (int64_t i = 0; i < text.size(0); ++i) {
    auto t0 = std::chrono::steady_clock::now();
    const auto exact = selfsup::clip::search(index, text[i], k, {/*exact=*/true});
    auto t1 = std::chrono::steady_clock::now();
    const auto approx = selfsup::clip::search(index, text[i], k);
    auto t2 = std::chrono::steady_clock::now();
    exact_s += std::chrono::duration<double>(t1 - t0).count();
    approx_s += std::chrono::duration<double>(t2 - t1).count();
    std::set<int64_t> truth;
    for (const auto& m : exact) truth.insert(m.index);
    for (const auto& m : approx) found += truth.count(m.index) ? 1 : 0;
    wanted += static_cast<int64_t>(truth.size());
  }
  std::printf("%s %lld: over %lld images, %lld text queries: recall@%lld %.3f against exact search; %.3f ms per query (exact %.3f ms)\n",
              index.ann->type() == "ivf" ? "nprobe" : "ef_search", static_cast<long long>(index.ann->search_param()), static_cast<long long>(index.embeddings.size(0)),
              static_cast<long long>(text.size(0)), static_cast<long long>(k),
              wanted ? static_cast<double>(found) / static_cast<double>(wanted) : 1.0,
              1000 * approx_s / static_cast<double>(text.size(0)), 1000 * exact_s / static_cast<double>(text.size(0)));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  selfsup::register_builtin();
  const std::vector<std::string> args(argv + 1, argv + argc);
  try {
    if (!args.empty() && args[0] == "index") return make_index(args);
    if (!args.empty() && args[0] == "load") return load(args);
    if (!args.empty() && args[0] == "recall") return text_recall(args);
    std::cerr << "usage: selfsup_bench_serve index --checkpoint C --count N --out F [--index-type flat|ivf|hnsw] "
                 "[--clusters N] [--spread S] | recall --checkpoint C --index I --queries FILE [--k 10] [--nprobe N | --ef-search N] | load --port P [--clients 8] "
                 "[--seconds 10] [--warmup 2] [--k 10] [--pid PID]\n";
    return 2;
  } catch (const selfsup::Error& e) {
    std::cerr << "error: " << e.what() << std::endl;
    return 2;
  }
}
