// Hugging Face's safetensors format: named tensors that move between this project and the Python
// world (transformers, timm, diffusers) without pickle. Layout: an 8-byte little-endian header size
// N, N bytes of JSON {"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__":
// {str: str}}, then the raw little-endian data buffer (offsets are relative to its start).
//
//   auto file = io::read_safetensors("model.safetensors");   // file.tensors, file.metadata
//   io::write_safetensors("out.safetensors", models::state_dict(model), {{"format", "pt"}});
#pragma once

#include "selfsup/core/tensor.h"

#include <map>
#include <string>

namespace selfsup::io {

using SafetensorsMetadata = std::map<std::string, std::string>;

struct Safetensors {
  TensorMap tensors;     // CPU tensors owning their memory (copied out of the mapping)
  SafetensorsMetadata metadata;  // the "__metadata__" object; empty when the file has none
};

// Memory-maps `path`, validates the whole header against the file, and copies each tensor out.
// Dtypes: F64 F32 F16 BF16 I64 I32 I16 I8 U8 BOOL. Throws selfsup::Error with one line naming the
// file and the problem: unreadable file, shorter than 8 bytes, header size beyond the file,
// invalid JSON, malformed entry, unknown dtype, data_offsets out of range / overlapping / not
// matching shape x dtype size. Gaps between tensors in the buffer are tolerated.
Safetensors read_safetensors(const std::string& path);

// Writes `tensors` (detached, moved to CPU, made contiguous) and `metadata` (omitted when empty).
// Header keys are sorted and padded with spaces to a multiple of 8 bytes as Hugging Face's writer
// does; the data is laid out by element size (largest first), then name, so every tensor is
// naturally aligned for zero-copy readers. Written with atomic_write (core/fs.h), so a crash never
// leaves a truncated file at `path`. Throws selfsup::Error for a dtype safetensors cannot hold
// here (complex, quantized), a tensor named "__metadata__", or an I/O failure.
void write_safetensors(const std::string& path, const TensorMap& tensors,
                       const SafetensorsMetadata& metadata = {});

}  // namespace selfsup::io
