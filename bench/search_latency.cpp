// Search latency of a CLIP index (clip::read_index + clip::search, the code `selfsup search` runs)
// over N stored embeddings of dimension D: writes a synthetic index of random unit vectors, maps
// it, and times top-k queries. Usage: selfsup_bench_search [N=1000000] [D=256] [k=9] [queries=50]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "selfsup/clip/index.h"
#include "selfsup/core/runtime.h"

using namespace selfsup;

int main(int argc, char** argv) {
  selfsup::use_best_blas_kernels(argv);
  const int64_t n = argc > 1 ? std::stoll(argv[1]) : 1000000;
  const int64_t d = argc > 2 ? std::stoll(argv[2]) : 256;
  const int64_t k = argc > 3 ? std::stoll(argv[3]) : 9;
  const int64_t queries = argc > 4 ? std::stoll(argv[4]) : 50;
  configure_threads(0);
  std::cout << runtime_summary() << std::endl;
  const auto path = (std::filesystem::temp_directory_path() / "selfsup_bench_index.bin").string();
  {
    torch::manual_seed(0);
    auto emb = torch::randn({n, d});
    emb /= emb.norm(2, 1, true);
    std::vector<std::string> paths(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) paths[static_cast<size_t>(i)] = "images/" + std::to_string(i) + ".png";
    clip::write_index(path, emb, paths, {{"name", "synthetic"}});
  }
  auto start = std::chrono::steady_clock::now();
  const auto index = clip::read_index(path);
  const double open_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  std::vector<double> ms;
  for (int64_t q = 0; q < queries + 1; ++q) {
    auto query = torch::randn({d});
    query /= query.norm();
    start = std::chrono::steady_clock::now();
    const auto matches = clip::search(index, query, k);
    const double t = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    if (q > 0) ms.push_back(t);  // the first query pages the file in
  }
  std::sort(ms.begin(), ms.end());
  std::printf("%lld embeddings x %lld: open %.1f ms (header + %zu paths), top-%lld query median %.2f ms, p90 %.2f ms (%lld queries)\n",
              static_cast<long long>(n), static_cast<long long>(d), open_ms, index.paths.size(),
              static_cast<long long>(k), ms[ms.size() / 2], ms[ms.size() * 9 / 10], static_cast<long long>(queries));
  std::filesystem::remove(path);
  return 0;
}
