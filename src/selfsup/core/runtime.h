// Process-wide runtime set-up: LibTorch thread count, device selection, and the one-line summary
// (versions, threads, which BLAS is loaded) printed at start-up so a slow set-up is visible.
#pragma once

#include <torch/torch.h>

#include <string>

namespace selfsup {

// Sets LibTorch's intra-op threads; threads <= 0 means every core of the machine. Returns the count.
int64_t configure_threads(int64_t threads);

// "cpu", "cuda", "cuda:1"; an unknown name or an absent GPU is a selfsup::Error naming `key`.
torch::Device parse_device(const std::string& name, const std::string& key = "device");

// The shared BLAS library this process has loaded (from /proc/self/maps), resolved through symlinks.
std::string loaded_blas();

std::string runtime_summary();

std::string version();

}  // namespace selfsup
