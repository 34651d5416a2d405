#include "selfsup/io/zip_check.h"

#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <optional>

#include "selfsup/core/error.h"

namespace selfsup::io {
namespace {

uint64_t le(const std::string& b, size_t at, int bytes) {
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = v << 8 | static_cast<uint8_t>(b[at + i]);
  return v;
}

// The CRC-32 of a raw-deflated entry's uncompressed bytes; nothing when it does not inflate to
// exactly `size` bytes.
std::optional<uint32_t> inflated_crc(const char* data, size_t compressed, size_t size) {
  std::string out(size, '\0');
  z_stream z{};
  if (inflateInit2(&z, -MAX_WBITS) != Z_OK) return std::nullopt;
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data));
  z.avail_in = static_cast<uInt>(compressed);
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(size);
  const int status = inflate(&z, Z_FINISH);
  const bool whole = status == Z_STREAM_END && z.total_out == size;
  inflateEnd(&z);
  if (!whole) return std::nullopt;
  return static_cast<uint32_t>(crc32(0, reinterpret_cast<const Bytef*>(out.data()), static_cast<uInt>(size)));
}

}  // namespace

void verify_zip_crcs(const std::string& b, const std::string& path, const std::string& what) {
  auto fail = [&](const std::string& detail) { throw Error(path + ": " + what + " (" + detail + ")"); };
  // The end-of-central-directory record: 22 bytes plus a comment of at most 65535.
  size_t eocd = std::string::npos;
  for (size_t i = b.size() >= 22 ? b.size() - 22 : 0; b.size() >= 22; --i) {
    if (le(b, i, 4) == 0x06054b50) {
      eocd = i;
      break;
    }
    if (i == 0 || b.size() - i > 22 + 65535) break;
  }
  if (eocd == std::string::npos) fail("not a zip archive: no end-of-directory record");
  uint64_t entries_here = le(b, eocd + 8, 2), entries = le(b, eocd + 10, 2), directory = le(b, eocd + 16, 4);
  if (entries_here == 0xFFFF || entries == 0xFFFF || directory == 0xFFFFFFFF) {
    // ZIP64: a locator just before the end record points at the ZIP64 end record.
    const uint64_t z = eocd >= 20 && le(b, eocd - 20, 4) == 0x07064b50 ? le(b, eocd - 12, 8) : b.size();
    if (b.size() < 56 || z > b.size() - 56 || le(b, z, 4) != 0x06064b50) fail("damaged ZIP64 end record");
    entries_here = le(b, z + 24, 8);
    entries = le(b, z + 32, 8);
    directory = le(b, z + 48, 8);
  }
  // A reader may go by either count: they must agree, and the directory must hold exactly them.
  if (entries_here != entries) fail("the end record's two entry counts disagree");
  // Every offset comes from the file: compare against what is left, never add to it unchecked.
  auto fits = [&](uint64_t offset, uint64_t length) { return offset <= b.size() && length <= b.size() - offset; };
  uint64_t at = directory;
  for (uint64_t e = 0; e < entries; ++e) {
    if (!fits(at, 46) || le(b, at, 4) != 0x02014b50) fail("zip directory entry " + std::to_string(e) + " is damaged");
    const uint64_t method = le(b, at + 10, 2), crc = le(b, at + 16, 4), name_length = le(b, at + 28, 2),
                   extra_length = le(b, at + 30, 2);
    uint64_t size = le(b, at + 20, 4), uncompressed = le(b, at + 24, 4), local = le(b, at + 42, 4);
    const uint64_t next = at + 46 + name_length + extra_length + le(b, at + 32, 2);
    if (!fits(at, next - at)) fail("zip directory entry " + std::to_string(e) + " runs past the end");
    // ZIP64 sizes and offsets: in the extra field 0x0001, in this order, for each field at 0xFFFFFFFF.
    const uint64_t extra_end = at + 46 + name_length + extra_length;
    for (uint64_t x = at + 46 + name_length; x + 4 <= extra_end;) {
      const uint64_t id = le(b, x, 2), n = le(b, x + 2, 2);
      if (x + 4 + n > extra_end) break;
      if (id == 1) {
        uint64_t y = x + 4;
        for (uint64_t* field : {&uncompressed, &size, &local})
          if (*field == 0xFFFFFFFF && y + 8 <= x + 4 + n) {
            *field = le(b, y, 8);
            y += 8;
          }
      }
      x += 4 + n;
    }
    const std::string name = b.substr(at + 46, name_length);
    if (!fits(local, 30) || le(b, local, 4) != 0x04034b50) fail("zip entry '" + name + "' has no header");
    const uint64_t local_name = le(b, local + 26, 2), data = local + 30 + local_name + le(b, local + 28, 2);
    if (!fits(data, size)) fail("zip entry '" + name + "' runs past the end");
    if (b.compare(local + 30, local_name, name) != 0) fail("zip entry '" + name + "' has another name in its header");
    // LibTorch stores tensors and deflates its code files; a reader sees the uncompressed bytes.
    std::optional<uint32_t> actual;
    if (method == 0 && uncompressed == size) actual = crc32(0, reinterpret_cast<const Bytef*>(b.data() + data), size);
    else if (method == 8 && uncompressed <= std::min<uint64_t>(size * 1032 + 64, 1u << 30))  // deflate: 1032:1 at best
      actual = inflated_crc(b.data() + data, size, uncompressed);
    if (!actual || *actual != crc) fail("zip entry '" + name + "' fails its CRC-32 check");
    at = next;
  }
  if (!fits(at, 4) || (le(b, at, 4) != 0x06064b50 && le(b, at, 4) != 0x06054b50))
    fail("the zip directory holds more entries than its end record counts");
}

}  // namespace selfsup::io
