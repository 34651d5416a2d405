#include "selfsup/core/runtime.h"

#include <dlfcn.h>
#include <unistd.h>

#include <cctype>
#include <cstdlib>
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

namespace {

// 0: generic / SSE kernels, 1: AVX2, 2: AVX-512 (OpenBLAS core names, lower case).
int kernel_level(std::string core) {
  for (auto& ch : core) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  for (const char* avx512 : {"skylakex", "cooperlake", "sapphirerapids"})
    if (core == avx512) return 2;
  for (const char* avx2 : {"haswell", "zen", "skylake"})
    if (core == avx2) return 1;
  return 0;
}

}  // namespace

std::string openblas_kernels() {
  using CoreName = char* (*)();
  const auto corename = reinterpret_cast<CoreName>(dlsym(RTLD_DEFAULT, "openblas_get_corename"));
  return corename ? std::string(corename()) : std::string();
}

std::string best_openblas_kernels() {
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("avx512dq"))
    return "SkylakeX";
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
#endif
  return "";
}

void use_best_blas_kernels(char** argv) {
  if (std::getenv("OPENBLAS_CORETYPE") || std::getenv("SELFSUP_BLAS_RESTARTED")) return;
  const std::string current = openblas_kernels(), best = best_openblas_kernels();
  if (current.empty() || best.empty() || kernel_level(current) >= kernel_level(best)) return;
  setenv("OPENBLAS_CORETYPE", best.c_str(), 1);
  setenv("SELFSUP_BLAS_RESTARTED", "1", 1);  // never loops, even if OpenBLAS ignores the variable
  execv("/proc/self/exe", argv);
}

std::string version() { return SELFSUP_VERSION; }

std::string runtime_summary() {
  std::string blas = loaded_blas();
  if (blas.find("openblas") == std::string::npos && blas.find("mkl") == std::string::npos && blas != "none loaded")
    blas += " (reference BLAS: slow; install libopenblas0-openmp)";
  if (const auto kernels = openblas_kernels(); !kernels.empty()) blas += " (" + kernels + " kernels)";
  return "selfsup " + version() + " | LibTorch " + TORCH_VERSION + " | " + std::to_string(at::get_num_threads()) +
         " threads | BLAS " + blas + " | CUDA " + (torch::cuda::is_available() ? "available" : "not available");
}

}  // namespace selfsup
