// safetensors files (header JSON + data buffer). What reads back is written again and must read
// back identical: the reader and the writer agree on every file the reader accepts.
#include "fuzz_input.h"
#include "selfsup/io/safetensors.h"

using namespace selfsup;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto path = fuzz::write_file("input.safetensors", fuzz::as_text(data, size));
  io::Safetensors file;
  if (!fuzz::parses([&] { file = io::read_safetensors(path); })) return 0;
  const auto again_path = fuzz::work_dir() + "/again.safetensors";
  io::write_safetensors(again_path, file.tensors, file.metadata);
  const auto again = io::read_safetensors(again_path);
  if (again.metadata != file.metadata) fuzz::finding("metadata changed in a write/read round trip");
  if (again.tensors.size() != file.tensors.size()) fuzz::finding("tensor count changed in a write/read round trip");
  for (const auto& [name, tensor] : file.tensors) {
    const auto it = again.tensors.find(name);
    if (it == again.tensors.end() || it->second.dtype() != tensor.dtype() || it->second.sizes() != tensor.sizes())
      fuzz::finding("tensor '" + name + "' changed in a write/read round trip");
    // Bytes, not values: NaN != NaN, yet a NaN must come back as the same NaN.
    const auto a = tensor.contiguous(), b = it->second.contiguous();
    if (a.nbytes() != b.nbytes() || (a.nbytes() > 0 && std::memcmp(a.data_ptr(), b.data_ptr(), a.nbytes()) != 0))
      fuzz::finding("tensor '" + name + "' bytes changed in a write/read round trip");
  }
  return 0;
}
