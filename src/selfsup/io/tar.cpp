#include "selfsup/io/tar.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "selfsup/core/error.h"

namespace selfsup::io {
namespace {

constexpr uint64_t kBlock = 512;

uint64_t round_up(uint64_t n) { return (n + kBlock - 1) / kBlock * kBlock; }

class File {
 public:
  explicit File(const std::string& path) : path_(path), fd_(::open(path.c_str(), O_RDONLY | O_CLOEXEC)) {
    if (fd_ < 0) throw Error(path + ": cannot open: " + std::strerror(errno));
    struct stat st {};
    if (::fstat(fd_, &st) != 0) throw Error(path + ": cannot read: " + std::strerror(errno));
    size_ = static_cast<uint64_t>(st.st_size);
  }
  ~File() { ::close(fd_); }
  File(const File&) = delete;
  File& operator=(const File&) = delete;

  uint64_t size() const { return size_; }

  void read_at(uint64_t offset, char* out, uint64_t n, const std::string& what) const {
    if (offset > size_ || n > size_ - offset)
      throw Error(path_ + ": " + what + " is cut short by the end of the file (truncated shard?)");
    while (n > 0) {
      const ssize_t got = ::pread(fd_, out, n, static_cast<off_t>(offset));
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) throw Error(path_ + ": cannot read " + what + ": " + (got < 0 ? std::strerror(errno) : "unexpected end"));
      out += got;
      offset += static_cast<uint64_t>(got);
      n -= static_cast<uint64_t>(got);
    }
  }

 private:
  std::string path_;
  int fd_;
  uint64_t size_ = 0;
};

// A numeric header field: octal digits (space/NUL padded) or GNU base-256 (high bit of the first byte).
bool parse_number(const char* field, size_t length, uint64_t* out) {
  const auto first = static_cast<unsigned char>(field[0]);
  if (first & 0x80) {
    if (first != 0x80) return false;  // negative base-256: not a size
    uint64_t v = 0;
    for (size_t i = 1; i < length; ++i) {
      if (v >> 56) return false;
      v = v << 8 | static_cast<unsigned char>(field[i]);
    }
    *out = v;
    return true;
  }
  uint64_t v = 0;
  size_t i = 0;
  while (i < length && field[i] == ' ') ++i;
  bool digits = false;
  for (; i < length && field[i] >= '0' && field[i] <= '7'; ++i, digits = true) {
    if (v >> 60) return false;
    v = v * 8 + static_cast<uint64_t>(field[i] - '0');
  }
  for (; i < length; ++i)
    if (field[i] != ' ' && field[i] != '\0') return false;
  *out = v;
  return digits || length == 0 || field[0] == '\0' || field[0] == ' ';
}

std::string field_text(const char* field, size_t length) { return std::string(field, strnlen(field, length)); }

bool checksum_ok(const char* h) {
  uint64_t stored = 0;
  if (!parse_number(h + 148, 8, &stored)) return false;
  uint64_t sum = 0;
  for (size_t i = 0; i < kBlock; ++i) sum += (i >= 148 && i < 156) ? ' ' : static_cast<unsigned char>(h[i]);
  return sum == stored;
}

// The "path" record of a pax extended header ("<length> path=<value>\n" records).
std::string pax_path(const std::string& records, const std::string& where) {
  std::string path;
  size_t i = 0;
  while (i < records.size()) {
    const size_t space = records.find(' ', i);
    if (space == std::string::npos) break;
    size_t length = 0;
    for (size_t k = i; k < space; ++k) {
      if (records[k] < '0' || records[k] > '9' || length > records.size()) throw Error(where + ": malformed pax header");
      length = length * 10 + static_cast<size_t>(records[k] - '0');
    }
    if (length <= space - i + 1 || i + length > records.size()) throw Error(where + ": malformed pax header");
    const std::string record = records.substr(space + 1, length - (space - i) - 2);  // without the newline
    if (record.rfind("path=", 0) == 0) path = record.substr(5);
    i += length;
  }
  return path;
}

}  // namespace

std::vector<TarMember> index_tar(const std::string& path) {
  File file(path);
  std::vector<TarMember> members;
  std::string long_name;  // from a GNU 'L' or pax 'x' header, for the next member
  char h[kBlock];
  uint64_t offset = 0;
  if (file.size() >= 2) {
    char magic[2];
    file.read_at(0, magic, 2, "header");
    if (static_cast<unsigned char>(magic[0]) == 0x1f && static_cast<unsigned char>(magic[1]) == 0x8b)
      throw Error(path + ": a gzip-compressed tar: shards must be plain .tar files (gunzip it first) so members can be read at random");
  }
  while (true) {
    if (offset == file.size()) break;  // end of the file without the zero blocks: accepted, as GNU tar does
    file.read_at(offset, h, kBlock, "the header at byte " + std::to_string(offset));
    if (std::all_of(h, h + kBlock, [](char c) { return c == 0; })) break;
    const std::string where = path + ": member at byte " + std::to_string(offset);
    if (!checksum_ok(h))
      throw Error(offset == 0 ? path + ": not a tar archive (the first header's checksum does not match)"
                              : where + ": header checksum does not match (corrupt shard?)");
    uint64_t size = 0;
    if (!parse_number(h + 124, 12, &size)) throw Error(where + ": unreadable size field");
    std::string name = field_text(h, 100);
    if (std::memcmp(h + 257, "ustar", 5) == 0) {
      const std::string prefix = field_text(h + 345, 155);
      if (!prefix.empty()) name = prefix + "/" + name;
    }
    const char type = h[156];
    const uint64_t data = offset + kBlock;
    if (data > file.size() || size > file.size() - data)
      throw Error(where + " ('" + (long_name.empty() ? name : long_name) + "'): its " + std::to_string(size) +
                  " bytes are cut short by the end of the file (truncated shard?)");
    if (type == 'L' || type == 'x') {  // the next member's long name
      if (size > (1u << 20)) throw Error(where + ": extended header of " + std::to_string(size) + " bytes (at most 1 MiB)");
      std::string text(size, '\0');
      file.read_at(data, text.data(), size, "an extended header");
      long_name = type == 'L' ? field_text(text.data(), text.size()) : pax_path(text, where);
    } else if (type == '0' || type == '\0' || type == '7') {
      members.push_back({long_name.empty() ? name : long_name, data, size});
      long_name.clear();
    } else if (type != 'g') {
      long_name.clear();  // directories, links and devices are not samples
    }
    offset = data + round_up(size);
    if (offset > file.size())
      throw Error(where + ": the padding after its data is cut short by the end of the file (truncated shard?)");
  }
  return members;
}

std::string read_tar_member(const std::string& path, const TarMember& member) {
  File file(path);
  std::string data(member.size, '\0');
  file.read_at(member.offset, data.data(), member.size, "member '" + member.name + "'");
  return data;
}

namespace {

void put_octal(char* field, size_t length, uint64_t value) {
  std::string digits;
  do {
    digits.insert(digits.begin(), static_cast<char>('0' + (value & 7)));
    value >>= 3;
  } while (value);
  if (digits.size() > length - 1) throw Error("tar: value too large for its header field");
  std::memset(field, '0', length - 1 - digits.size());
  std::memcpy(field + length - 1 - digits.size(), digits.data(), digits.size());
  field[length - 1] = '\0';
}

std::string header(const std::string& name, uint64_t size, char type) {
  char h[kBlock] = {0};
  std::memcpy(h, name.data(), std::min<size_t>(name.size(), 100));
  put_octal(h + 100, 8, 0644);
  put_octal(h + 108, 8, 0);
  put_octal(h + 116, 8, 0);
  put_octal(h + 124, 12, size);
  put_octal(h + 136, 12, 0);
  h[156] = type;
  std::memcpy(h + 257, "ustar", 6);
  std::memcpy(h + 263, "00", 2);
  std::memset(h + 148, ' ', 8);
  uint64_t sum = 0;
  for (char c : h) sum += static_cast<unsigned char>(c);
  put_octal(h + 148, 7, sum);
  h[155] = ' ';
  return std::string(h, kBlock);
}

std::string padded(std::string data) {
  data.resize(round_up(data.size()), '\0');
  return data;
}

}  // namespace

void TarWriter::add(const std::string& name, const std::string& data) {
  if (name.size() > 100) {
    // "<length> path=<name>\n", where the length counts its own digits.
    const std::string body = " path=" + name + "\n";
    size_t length = body.size() + 1;
    while (std::to_string(length).size() + body.size() != length) ++length;
    const std::string record = std::to_string(length) + body;
    out_ += header("PaxHeader", record.size(), 'x') + padded(record);
  }
  out_ += header(name, data.size(), '0') + padded(data);
}

std::string TarWriter::finish() {
  out_.append(2 * kBlock, '\0');
  return std::move(out_);
}

}  // namespace selfsup::io
