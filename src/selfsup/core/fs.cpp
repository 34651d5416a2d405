#include "selfsup/core/fs.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <exception>
#include <fstream>
#include <sstream>

#include "selfsup/core/error.h"

namespace selfsup {
namespace {

std::string reason() { return errno ? std::string(" (") + std::strerror(errno) + ")" : std::string(); }

// Fault injection for the crash tests: SELFSUP_FAULT_KILL_WRITE=NAME:N kills the process (SIGKILL)
// during the N-th write of a file called NAME, after its bytes went to the temporary file and
// before the rename, as a power cut or the OOM killer would.
void maybe_kill_during_write(const std::string& path) {
  static const char* spec = std::getenv("SELFSUP_FAULT_KILL_WRITE");
  if (!spec) return;
  static int writes = 0;
  const std::string s = spec;
  const auto colon = s.rfind(':');
  if (colon == std::string::npos) return;
  if (std::filesystem::path(path).filename() != s.substr(0, colon)) return;
  if (++writes == std::atoi(s.c_str() + colon + 1)) std::raise(SIGKILL);
}

// Data on disk before the rename, so a crash cannot leave a renamed but empty file.
bool sync_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) return false;
  const bool ok = ::fsync(fd) == 0;
  return ::close(fd) == 0 && ok;
}

}  // namespace

void atomic_write(const std::string& path, const std::function<void(std::ostream&)>& write) {
  const std::string tmp = path + ".tmp";
  auto fail = [&](const std::string& what) {
    const std::string why = reason();
    std::remove(tmp.c_str());
    throw Error(path + ": " + what + why);
  };
  {
    errno = 0;
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) fail("cannot write (is the folder there and writable?)");
    try {
      write(out);
    } catch (const Error&) {
      out.close();
      std::remove(tmp.c_str());
      throw;
    } catch (const std::exception& e) {  // e.g. c10::Error from a LibTorch serialiser: keep its first line
      out.close();
      std::remove(tmp.c_str());
      const std::string what = e.what();
      throw Error(path + ": write failed: " + what.substr(0, what.find('\n')));
    }
    out.flush();
    if (!out) fail("write failed (disk full?)");
    out.close();
    if (!out) fail("write failed on close (disk full?)");
  }
  maybe_kill_during_write(path);
  errno = 0;
  if (!sync_file(tmp)) fail("write failed on fsync");
  if (std::rename(tmp.c_str(), path.c_str()) != 0) fail("cannot rename " + tmp + " into place");
}

void atomic_write(const std::string& path, const std::string& bytes) {
  atomic_write(path, [&](std::ostream& out) { out.write(bytes.data(), static_cast<std::streamsize>(bytes.size())); });
}

std::string read_file(const std::string& path, const std::string& what) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) throw Error(path + ": is a folder: expected a " + what);
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot read " + what + " (missing or unreadable)");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw Error(path + ": cannot read " + what);
  return text.str();
}

}  // namespace selfsup
