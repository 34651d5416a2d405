#include "selfsup/core/runtime.h"

#include <filesystem>
#include <fstream>
#include <thread>

#include "selfsup/core/error.h"

#ifndef SELFSUP_VERSION
#define SELFSUP_VERSION "dev"
#endif

namespace selfsup {

int64_t configure_threads(int64_t threads) {
  if (threads <= 0) threads = std::max(1u, std::thread::hardware_concurrency());
  at::set_num_threads(static_cast<int>(threads));
  return threads;
}

torch::Device parse_device(const std::string& name, const std::string& key) {
  try {
    torch::Device device(name);
    if (device.is_cuda() && !torch::cuda::is_available())
      throw Error(key + ": '" + name + "' requested but no CUDA device is available (this LibTorch build: " +
                  (torch::cuda::is_available() ? "CUDA" : "CPU only") + ")");
    return device;
  } catch (const c10::Error&) {
    throw Error(key + ": unknown device '" + name + "' (expected cpu, cuda or cuda:N)");
  }
}

std::string loaded_blas() {
  std::ifstream maps("/proc/self/maps");
  for (std::string line; std::getline(maps, line);) {
    const auto slash = line.find('/');
    if (slash == std::string::npos) continue;
    const std::string path = line.substr(slash);
    const auto file = std::filesystem::path(path).filename().string();
    if (file.rfind("libblas", 0) == 0 || file.rfind("libopenblas", 0) == 0 || file.rfind("libmkl_rt", 0) == 0) {
      std::error_code ec;
      const auto real = std::filesystem::canonical(path, ec);
      return ec ? path : real.string();
    }
  }
  return "none loaded";
}

std::string version() { return SELFSUP_VERSION; }

std::string runtime_summary() {
  std::string blas = loaded_blas();
  if (blas.find("openblas") == std::string::npos && blas.find("mkl") == std::string::npos && blas != "none loaded")
    blas += " (reference BLAS: slow; install libopenblas0-openmp)";
  return "selfsup " + version() + " | LibTorch " + TORCH_VERSION + " | " + std::to_string(at::get_num_threads()) +
         " threads | BLAS " + blas + " | CUDA " + (torch::cuda::is_available() ? "available" : "not available");
}

}  // namespace selfsup
