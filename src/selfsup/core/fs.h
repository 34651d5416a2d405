// The one way files are written and read whole. A write goes to a temporary file in the target's
// folder; every write, the flush and the close are checked, the data is fsync'ed, then the file is
// renamed over the target. On any failure the temporary file is removed, the previous file (if
// any) is untouched, and selfsup::Error names the target: a file that exists is always complete.
#pragma once

#include <functional>
#include <iosfwd>
#include <string>

namespace selfsup {

// `write` fills the stream; a failed stream (or an exception from `write`) aborts the write.
void atomic_write(const std::string& path, const std::function<void(std::ostream&)>& write);
void atomic_write(const std::string& path, const std::string& bytes);

// The whole file; selfsup::Error "<path>: cannot read <what>" when it cannot be opened or read.
std::string read_file(const std::string& path, const std::string& what = "file");

}  // namespace selfsup
