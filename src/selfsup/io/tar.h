// Tar archives as WebDataset shards use them: an index of the regular files (name, offset of the
// data, size) read from the headers alone, and a writer. POSIX ustar with the GNU and pax
// extensions for long names and large sizes; no compression (a shard must be seekable).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace selfsup::io {

struct TarMember {
  std::string name;     // the path inside the archive
  uint64_t offset = 0;  // of the member's data, from the start of the archive
  uint64_t size = 0;
};

// The regular files of `path`, in archive order, reading only the headers (each member's data is
// skipped by seeking). Throws selfsup::Error naming the archive (and the member) for a file that
// is not a tar (or is gzip-compressed), a header whose checksum does not match, or a member cut
// short by the end of the file.
std::vector<TarMember> index_tar(const std::string& path);

// Reads `member`'s data from the archive at `path`.
std::string read_tar_member(const std::string& path, const TarMember& member);

// Builds a tar archive in memory: ustar headers, pax records for names over 100 bytes.
class TarWriter {
 public:
  void add(const std::string& name, const std::string& data);
  // The archive, ending with the two zero blocks.
  std::string finish();
  size_t bytes() const { return out_.size(); }

 private:
  std::string out_;
};

}  // namespace selfsup::io
