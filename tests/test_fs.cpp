// core/fs: atomic_write leaves either the old file or the complete new one, never a temporary;
// read_file names the file it cannot read.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <stdexcept>

#include "selfsup/core/fs.h"
#include "test_util.h"

using namespace selfsup;
using test_util::contains;
using test_util::error_message;
using test_util::TempDir;
namespace fs = std::filesystem;

TEST(AtomicWrite, WritesAndReadsBack) {
  TempDir dir;
  atomic_write(dir / "a.txt", std::string("first\0second", 12));
  EXPECT_EQ(read_file(dir / "a.txt"), std::string("first\0second", 12));
  atomic_write(dir / "a.txt", "replaced");
  EXPECT_EQ(read_file(dir / "a.txt"), "replaced");
  EXPECT_FALSE(fs::exists(dir / "a.txt.tmp"));
}

TEST(AtomicWrite, FailureKeepsTheOldFileAndRemovesTheTemporary) {
  TempDir dir;
  atomic_write(dir / "a.txt", "good");
  // A writer that fails half-way (a serialiser throwing, as LibTorch's does on a full disk).
  const auto msg = error_message([&] {
    atomic_write(dir / "a.txt", [](std::ostream& out) {
      out << "partial";
      throw std::runtime_error("no space left on device\nstack trace line");
    });
  });
  EXPECT_TRUE(contains(msg, dir / "a.txt" + ": write failed: no space left on device")) << msg;
  EXPECT_FALSE(contains(msg, "stack trace")) << msg;
  EXPECT_EQ(read_file(dir / "a.txt"), "good");
  EXPECT_FALSE(fs::exists(dir / "a.txt.tmp"));
}

TEST(AtomicWrite, StreamErrorIsAnError) {
  TempDir dir;
  const auto msg = error_message([&] {
    atomic_write(dir / "b.txt", [](std::ostream& out) { out.setstate(std::ios::badbit); });
  });
  EXPECT_TRUE(contains(msg, dir / "b.txt" + ": write failed")) << msg;
  EXPECT_FALSE(fs::exists(dir / "b.txt"));
  EXPECT_FALSE(fs::exists(dir / "b.txt.tmp"));
}

TEST(AtomicWrite, MissingFolderNamesTheTarget) {
  TempDir dir;
  const auto msg = error_message([&] { atomic_write(dir / "no/such/folder.txt", "x"); });
  EXPECT_TRUE(contains(msg, dir / "no/such/folder.txt" + ": cannot write")) << msg;
}

// A real full disk and a real read-only folder: a 64 KiB tmpfs, remounted read-only. Mounting needs
// root (as CI has); elsewhere the test is skipped and says so.
TEST(AtomicWrite, FullDiskAndReadOnlyFolderKeepTheOldFile) {
  TempDir dir;
  const std::string mount_point = dir / "small";
  fs::create_directories(mount_point);
  if (std::system(("mount -t tmpfs -o size=64k tmpfs " + mount_point + " 2>/dev/null").c_str()) != 0)
    GTEST_SKIP() << "cannot mount a tmpfs here (needs root)";
  struct Unmount {
    std::string at;
    ~Unmount() { EXPECT_EQ(std::system(("umount " + at).c_str()), 0); }
  } unmount{mount_point};
  const auto target = mount_point + "/a.bin";
  atomic_write(target, "good");
  auto msg = error_message([&] { atomic_write(target, std::string(1 << 20, 'x')); });
  EXPECT_EQ(msg.rfind(target + ": write failed", 0), 0u) << msg;
  EXPECT_EQ(read_file(target), "good");
  EXPECT_FALSE(fs::exists(target + ".tmp"));
  ASSERT_EQ(std::system(("mount -o remount,ro " + mount_point).c_str()), 0);
  msg = error_message([&] { atomic_write(target, "new"); });
  EXPECT_EQ(msg.rfind(target + ": cannot write", 0), 0u) << msg;
  EXPECT_EQ(read_file(target), "good");
}

TEST(ReadFile, NamesTheFileAndWhatWasExpected) {
  TempDir dir;
  const auto msg = error_message([&] { read_file(dir / "missing.yaml", "recipe file"); });
  EXPECT_TRUE(contains(msg, dir / "missing.yaml" + ": cannot read recipe file")) << msg;
  EXPECT_EQ(error_message([&] { read_file(dir.path.string(), "recipe file"); }),
            dir.path.string() + ": is a folder: expected a recipe file");
}
