#include "selfsup/clip/sentencepiece_model.h"

#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>
#include <vector>

#include "selfsup/core/error.h"

namespace selfsup::clip {
namespace {

// Protocol-buffer wire format, just enough to find two nested byte fields.
struct Field {
  uint64_t number = 0;
  std::string_view bytes;  // the payload of a length-delimited field, else empty
};

std::optional<uint64_t> varint(std::string_view& in) {
  uint64_t value = 0;
  for (int shift = 0; shift < 64 && !in.empty(); shift += 7) {
    const auto byte = static_cast<uint8_t>(in.front());
    in.remove_prefix(1);
    value |= uint64_t{byte & 0x7Fu} << shift;
    if (!(byte & 0x80)) return value;
  }
  return std::nullopt;
}

// The next field of `in`, or nothing at the end or on malformed input.
std::optional<Field> next_field(std::string_view& in) {
  const auto key = varint(in);
  if (!key) return std::nullopt;
  Field field{*key >> 3, {}};
  switch (*key & 7) {
    case 0:
      if (!varint(in)) return std::nullopt;
      return field;
    case 1:
    case 5: {
      const size_t n = (*key & 7) == 1 ? 8 : 4;
      if (in.size() < n) return std::nullopt;
      in.remove_prefix(n);
      return field;
    }
    case 2: {
      const auto n = varint(in);
      if (!n || *n > in.size()) return std::nullopt;
      field.bytes = in.substr(0, *n);
      in.remove_prefix(*n);
      return field;
    }
    default:
      return std::nullopt;
  }
}

uint32_t u32le(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);  // x86 and ARM are little-endian, as the file is
  return v;
}

// A precompiled map is u32 trie size | Darts-clone double array of u32 units | NUL-terminated
// replacement strings. A lookup goes from node p to q = p ^ offset(p), then to the child q ^ byte
// when that unit's label is the byte; a node with a leaf has its string's start at value(q). So
// from every node a lookup can reach, all 256 children must lie inside the array, every leaf
// value inside the strings, and the strings must end with NUL. (Units no lookup reaches may hold
// anything: SentencePiece's own tables do.)
std::string charsmap_problem(std::string_view map) {
  if (map.empty()) return "";
  if (map.size() < 4) return "shorter than its size field";
  const uint64_t trie_bytes = u32le(map.data());
  if (trie_bytes == 0 || trie_bytes % 4 != 0 || trie_bytes > map.size() - 4) return "its table size does not fit";
  const uint64_t units = trie_bytes / 4;
  const char* trie = map.data() + 4;
  const uint64_t strings = map.size() - 4 - trie_bytes;
  if (strings > 0 && map.back() != '\0') return "its replacement strings are not terminated";
  auto unit = [&](uint64_t i) { return u32le(trie + 4 * i); };
  auto offset = [](uint32_t u) { return uint64_t{(u >> 10) << ((u & (1u << 9)) >> 6)}; };
  std::vector<bool> seen(units, false);
  std::vector<uint64_t> todo{0};
  seen[0] = true;
  while (!todo.empty()) {
    const uint64_t p = todo.back();
    todo.pop_back();
    const uint64_t q = p ^ offset(unit(p));
    if ((q | 0xFF) >= units) return "an entry points outside the table";
    if (p != 0 && ((unit(p) >> 8) & 1) && (unit(q) & 0x7FFFFFFFu) >= strings) return "an entry points outside its strings";
    for (uint32_t byte = 1; byte < 256; ++byte) {  // lookups stop at a NUL byte
      const uint64_t child = q ^ byte;
      if ((unit(child) & 0x800000FFu) == byte && !seen[child]) {
        seen[child] = true;
        todo.push_back(child);
      }
    }
  }
  return "";
}

}  // namespace

void check_sentencepiece_model(const std::string& model, const std::string& source) {
  std::string_view in(model);
  while (const auto field = next_field(in)) {
    if (field->number != 3 && field->number != 5) continue;  // normalizer_spec, denormalizer_spec
    std::string_view spec = field->bytes;
    while (const auto inner = next_field(spec))
      if (inner->number == 2) {  // precompiled_charsmap
        const auto problem = charsmap_problem(inner->bytes);
        if (!problem.empty())
          throw Error(source + ": corrupt SentencePiece model: its normalisation map is damaged (" + problem + ")");
      }
  }
}

}  // namespace selfsup::clip
