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

// OpenBLAS picks its kernels from the CPU model, and on virtual machines that report a generic
// model ("Intel(R) Xeon(R) Processor") it falls back to its Prescott (SSE3) kernels: a 2048^3
// fp32 matrix product then runs at ~40 GFLOP/s on 2 cores here instead of ~200 with its SkylakeX
// (AVX-512) kernels. OpenBLAS reads its choice once, when it is loaded, from OPENBLAS_CORETYPE.
// The kernels OpenBLAS runs ("" when the BLAS is not OpenBLAS) and the best this CPU supports.
std::string openblas_kernels();
std::string best_openblas_kernels();
// Call first in main(): when OpenBLAS runs weaker kernels than the CPU supports and the user has
// not chosen (OPENBLAS_CORETYPE unset), sets OPENBLAS_CORETYPE and restarts the program with the
// same arguments (execv of /proc/self/exe). Returns only when no restart is needed or it failed.
void use_best_blas_kernels(char** argv);

std::string runtime_summary();

std::string version();

}  // namespace selfsup
