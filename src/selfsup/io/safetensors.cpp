// safetensors reader/writer (see safetensors.h). The reader trusts nothing in the header: every
// size and offset is checked against the mapped file before a byte is copied, so a corrupt or
// hostile file gives a selfsup::Error, never a crash or a huge allocation.
#include "selfsup/io/safetensors.h"

#include "selfsup/core/error.h"
#include "selfsup/core/fs.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <vector>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

// Tensor bytes are copied verbatim between memory and file; the format is little-endian.
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "selfsup's safetensors I/O assumes a little-endian host"
#endif

namespace selfsup::io {

namespace {

using json = nlohmann::json;

struct Dtype {
  const char* name;
  torch::ScalarType type;
  uint64_t size;
};

constexpr Dtype kDtypes[] = {
    {"F64", torch::kDouble, 8}, {"F32", torch::kFloat, 4}, {"F16", torch::kHalf, 2},
    {"BF16", torch::kBFloat16, 2}, {"I64", torch::kLong, 8}, {"I32", torch::kInt, 4},
    {"I16", torch::kShort, 2},  {"I8", torch::kChar, 1},   {"U8", torch::kByte, 1},
    {"BOOL", torch::kBool, 1},
};

const Dtype* dtype_by_name(const std::string& name) {
  for (const auto& d : kDtypes)
    if (name == d.name) return &d;
  return nullptr;
}

const Dtype* dtype_by_type(torch::ScalarType type) {
  for (const auto& d : kDtypes)
    if (type == d.type) return &d;
  return nullptr;
}

std::string shape_string(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

// A read-only private mapping of a whole file, unmapped on destruction (also when parsing throws).
class MappedFile {
 public:
  explicit MappedFile(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw Error(path + ": cannot open safetensors file (" + std::strerror(errno) + ")");
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      ::close(fd);
      throw Error(path + ": not a regular file");
    }
    size_ = static_cast<uint64_t>(st.st_size);
    if (size_ > 0) {  // mmap rejects length 0; an empty file is reported as too short below
      void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
      if (p == MAP_FAILED) {
        const int err = errno;
        ::close(fd);
        throw Error(path + ": cannot memory-map safetensors file (" + std::strerror(err) + ")");
      }
      data_ = static_cast<const unsigned char*>(p);
    }
    ::close(fd);  // the mapping stays valid without the descriptor
  }
  ~MappedFile() {
    if (data_) ::munmap(const_cast<unsigned char*>(data_), size_);
  }
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const unsigned char* data() const { return data_; }
  uint64_t size() const { return size_; }

 private:
  const unsigned char* data_ = nullptr;
  uint64_t size_ = 0;
};

struct Entry {
  std::string name;
  const Dtype* dtype;
  std::vector<int64_t> shape;
  uint64_t begin, end;
};

Entry parse_entry(const std::string& path, const std::string& name, const json& value,
                  uint64_t buffer_size) {
  const std::string where = path + ": tensor '" + name + "': ";
  if (!value.is_object()) throw Error(where + "expected an object with dtype, shape and data_offsets");
  const auto dtype_it = value.find("dtype");
  const auto shape_it = value.find("shape");
  const auto offsets_it = value.find("data_offsets");
  if (dtype_it == value.end() || !dtype_it->is_string()) throw Error(where + "missing or non-string \"dtype\"");
  if (shape_it == value.end() || !shape_it->is_array()) throw Error(where + "missing or non-array \"shape\"");
  if (offsets_it == value.end() || !offsets_it->is_array() || offsets_it->size() != 2 ||
      !(*offsets_it)[0].is_number_unsigned() || !(*offsets_it)[1].is_number_unsigned())
    throw Error(where + "\"data_offsets\" must be [begin, end] with non-negative integers");

  Entry e;
  e.name = name;
  const auto dtype_name = dtype_it->get<std::string>();
  e.dtype = dtype_by_name(dtype_name);
  if (!e.dtype)
    throw Error(where + "unknown dtype '" + dtype_name + "' (supported: F64 F32 F16 BF16 I64 I32 I16 I8 U8 BOOL)");

  // The byte count is computed with overflow checks so a forged shape cannot wrap around and
  // pass the size comparison.
  uint64_t bytes = e.dtype->size;
  bool overflow = false, empty = false;
  for (const auto& dim : *shape_it) {
    if (!dim.is_number_unsigned() || dim.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX))
      throw Error(where + "\"shape\" must hold non-negative integers, got " + shape_it->dump());
    const auto n = dim.get<uint64_t>();
    e.shape.push_back(static_cast<int64_t>(n));
    empty = empty || n == 0;
    if (__builtin_mul_overflow(bytes, n, &bytes)) overflow = true;
  }
  if (empty) {  // a zero dimension makes the tensor empty whatever the other sizes
    bytes = 0;
    overflow = false;
  }
  e.begin = (*offsets_it)[0].get<uint64_t>();
  e.end = (*offsets_it)[1].get<uint64_t>();
  const std::string offsets = "data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) + "]";
  if (e.begin > e.end || e.end > buffer_size)
    throw Error(where + offsets + " out of range (the data buffer has " + std::to_string(buffer_size) + " bytes)");
  if (overflow || e.end - e.begin != bytes)
    throw Error(where + offsets + " span " + std::to_string(e.end - e.begin) + " bytes, but shape " +
                shape_string(e.shape) + " of " + e.dtype->name + " needs " +
                (overflow ? std::string("more than 2^64") : std::to_string(bytes)));
  return e;
}

void write_file(const std::string& path, const std::string& header,
                const std::vector<std::pair<const std::string*, torch::Tensor>>& data) {
  atomic_write(path, [&](std::ostream& out) {
    unsigned char size_bytes[8];
    uint64_t n = header.size();
    for (auto& b : size_bytes) {
      b = static_cast<unsigned char>(n & 0xFF);
      n >>= 8;
    }
    out.write(reinterpret_cast<const char*>(size_bytes), 8);
    out.write(header.data(), static_cast<std::streamsize>(header.size()));
    for (const auto& [name, t] : data)
      out.write(static_cast<const char*>(t.data_ptr()), static_cast<std::streamsize>(t.nbytes()));
  });
}

}  // namespace

Safetensors read_safetensors(const std::string& path) {
  const MappedFile file(path);
  const uint64_t size = file.size();
  if (size < 8)
    throw Error(path + ": not a safetensors file: " + std::to_string(size) +
                " bytes, shorter than 8 bytes (the header size field)");
  uint64_t header_size = 0;
  for (int i = 7; i >= 0; --i) header_size = (header_size << 8) | file.data()[i];
  if (header_size > size - 8)
    throw Error(path + ": header size " + std::to_string(header_size) + " is beyond the file (" +
                std::to_string(size) + " bytes)");
  const unsigned char* header_begin = file.data() + 8;
  const uint64_t buffer_size = size - 8 - header_size;
  const unsigned char* buffer = header_begin + header_size;

  json header;
  try {
    header = json::parse(header_begin, header_begin + header_size);
  } catch (const json::exception& e) {
    throw Error(path + ": invalid JSON header (" + e.what() + ")");
  }
  if (!header.is_object()) throw Error(path + ": invalid header: expected a JSON object, got " + header.type_name());

  Safetensors result;
  std::vector<Entry> entries;
  for (const auto& [name, value] : header.items()) {
    if (name == "__metadata__") {
      if (!value.is_object()) throw Error(path + ": \"__metadata__\" must be an object of strings");
      for (const auto& [key, text] : value.items()) {
        if (!text.is_string())
          throw Error(path + ": \"__metadata__\" value for '" + key + "' must be a string, got " + text.type_name());
        result.metadata[key] = text.get<std::string>();
      }
      continue;
    }
    entries.push_back(parse_entry(path, name, value, buffer_size));
  }

  // Overlap check: sorted by start, each non-empty span must begin at or after the previous end.
  std::vector<const Entry*> by_offset;
  for (const auto& e : entries)
    if (e.end > e.begin) by_offset.push_back(&e);
  std::sort(by_offset.begin(), by_offset.end(),
            [](const Entry* a, const Entry* b) { return a->begin < b->begin; });
  for (size_t i = 1; i < by_offset.size(); ++i)
    if (by_offset[i]->begin < by_offset[i - 1]->end)
      throw Error(path + ": tensors '" + by_offset[i - 1]->name + "' and '" + by_offset[i]->name +
                  "' overlap in the data buffer");

  for (const auto& e : entries) {
    auto t = torch::empty(e.shape, torch::TensorOptions().dtype(e.dtype->type));
    if (e.end > e.begin) std::memcpy(t.data_ptr(), buffer + e.begin, e.end - e.begin);
    result.tensors[e.name] = std::move(t);
  }
  return result;
}

void write_safetensors(const std::string& path, const TensorMap& tensors,
                       const SafetensorsMetadata& metadata) {
  struct Item {
    const std::string* name;
    const Dtype* dtype;
    torch::Tensor tensor;
  };
  std::vector<Item> items;
  for (const auto& [name, tensor] : tensors) {
    if (name == "__metadata__") throw Error(path + ": a tensor cannot be named \"__metadata__\"");
    if (!tensor.defined()) throw Error(path + ": tensor '" + name + "' is undefined");
    const Dtype* dtype = dtype_by_type(tensor.scalar_type());
    if (!dtype)
      throw Error(path + ": tensor '" + name + "' has dtype " + std::string(c10::toString(tensor.scalar_type())) +
                  ", which safetensors I/O here does not support");
    items.push_back({&name, dtype, tensor.detach().to(torch::kCPU).contiguous()});
  }
  // Largest elements first: with the buffer starting at a multiple of 8, every offset is then a
  // multiple of its element size. std::map already gives the name order within a size.
  std::stable_sort(items.begin(), items.end(),
                   [](const Item& a, const Item& b) { return a.dtype->size > b.dtype->size; });

  json header = json::object();
  std::vector<std::pair<const std::string*, torch::Tensor>> data;
  uint64_t offset = 0;
  for (const auto& item : items) {
    const uint64_t bytes = item.tensor.nbytes();
    header[*item.name] = {{"dtype", item.dtype->name},
                          {"shape", item.tensor.sizes().vec()},
                          {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
    data.emplace_back(item.name, item.tensor);
  }
  if (!metadata.empty()) header["__metadata__"] = metadata;

  std::string text;
  try {
    text = header.dump();  // nlohmann's object is a std::map: keys come out sorted
  } catch (const json::exception& e) {
    throw Error(path + ": cannot encode header (" + e.what() + ")");
  }
  text.append((8 - text.size() % 8) % 8, ' ');
  write_file(path, text, data);
}

}  // namespace selfsup::io
