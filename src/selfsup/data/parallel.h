// A small work-sharing loop for the data tools and streamed evaluation: indices handed out one at a
// time to a few threads (files differ in size, so static chunks would leave threads idle).
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <thread>
#include <vector>

namespace selfsup::data {

// fn(i) for every i in [0, n) on `threads` threads (0 = the machine's cores); fn must not throw.
// `progress(done)` is called from the calling thread about five times a second and once at the end.
inline void parallel_for_each(int64_t n, int64_t threads, const std::function<void(int64_t)>& fn,
                              const std::function<void(int64_t)>& progress = {}) {
  std::atomic<int64_t> next{0}, done{0};
  auto work = [&] {
    for (int64_t i = next++; i < n; i = next++) {
      fn(i);
      ++done;
    }
  };
  if (threads <= 0) threads = std::max<int64_t>(1, std::thread::hardware_concurrency());
  std::vector<std::thread> pool;
  for (int64_t t = 0; t < std::min(threads, std::max<int64_t>(n, 1)); ++t) pool.emplace_back(work);
  while (progress && done.load() < n) {
    progress(done.load());
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  for (auto& t : pool) t.join();
  if (progress) progress(n);
}

}  // namespace selfsup::data
