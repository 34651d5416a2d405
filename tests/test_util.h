// Helpers shared by the test files: a temporary folder per test, the message of an expected
// selfsup::Error, substring checks.
#pragma once

#include <gtest/gtest.h>
#include <stb/stb_image_write.h>
#include <unistd.h>

#include <array>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "selfsup/core/error.h"

namespace selfsup::test_util {

// A fresh folder under the system temp dir, removed with everything in it at scope exit. The name
// carries the process id, the test's name and a random number, so parallel tests never share one.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    const std::string test = info ? std::string(info->test_suite_name()) + "." + info->name() : "global";
    std::string name = "selfsup_" + test + "_" + std::to_string(::getpid()) + "_" + std::to_string(std::random_device{}());
    for (char& c : name)
      if (c == '/') c = '_';  // parameterised test names contain slashes
    path = std::filesystem::temp_directory_path() / name;
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string operator/(const std::string& name) const { return (path / name).string(); }
};

// The seconds-long MoCo recipe the method tests start from.
inline const std::string kTinyRecipe = std::string(SELFSUP_SOURCE_DIR) + "/recipes/tiny_test.yaml";

// A folder for this test that outlives it (until the next run of the same test), so the files of
// a failing run can be looked at. Distinct per test, per `name` and per process.
inline std::string tmp_dir(const std::string& name) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string test = info ? std::string(info->test_suite_name()) + "." + info->name() : "global";
  for (char& c : test)
    if (c == '/') c = '_';
  const auto dir = std::filesystem::temp_directory_path() / ("selfsup_" + test + "_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

// A whole file as text ("" when it cannot be read).
inline std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

// Writes `text` to `path`, creating its folder.
inline void write_text_file(const std::string& path, const std::string& text) {
  const auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent);
  std::ofstream(path, std::ios::binary) << text;
}

// Whether Debian's python3 with torch is there (the interop tests skip without it).
inline bool python_torch_available() {
  return std::system("/usr/bin/python3 -c 'import torch' >/dev/null 2>&1") == 0;
}

// What `f` threw as selfsup::Error; a test failure (and "") when it threw nothing.
inline std::string error_message(const std::function<void()>& f) {
  try {
    f();
  } catch (const selfsup::Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected selfsup::Error";
  return "";
}

inline bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// A tiny Flickr8k-layout folder under `root`: 6 pictures (a colour and a shape each) with 2
// captions each, every image in both the train and the test split.
inline void write_caption_pairs(const std::string& root) {
  std::filesystem::create_directories(root + "/Images");
  const std::vector<std::pair<std::string, std::array<unsigned char, 3>>> colors{
      {"red", {220, 30, 30}}, {"green", {30, 200, 40}}, {"blue", {30, 40, 220}}};
  std::ofstream captions(root + "/captions.txt");
  captions << "image,caption\n";
  std::ofstream split(root + "/Flickr_8k.trainImages.txt"), test(root + "/Flickr_8k.testImages.txt");
  for (const auto& [color, rgb] : colors) {
    for (const std::string shape : {"square", "stripe"}) {
      std::vector<unsigned char> pixels(32 * 32 * 3, 255);
      for (int y = 0; y < 32; ++y)
        for (int x = 0; x < 32; ++x) {
          const bool inside = shape == "square" ? (x >= 6 && x < 26 && y >= 6 && y < 26) : (y >= 12 && y < 20);
          if (inside)
            for (int c = 0; c < 3; ++c) pixels[(y * 32 + x) * 3 + c] = rgb[c];
        }
      const std::string file = color + "_" + shape + ".png";
      stbi_write_png((root + "/Images/" + file).c_str(), 32, 32, 3, pixels.data(), 32 * 3);
      captions << file << ",a " << color << " " << shape << "\n" << file << ",\"" << shape << ", " << color << "\"\n";
      split << file << "\n";
      test << file << "\n";
    }
  }
}

}  // namespace selfsup::test_util
