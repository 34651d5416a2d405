// What every fuzz target shares (docs/reliability.md, "Fuzzing"): the input handed to a parser as a
// file, because every reader here takes a path, and the contract each run checks: the parser either
// succeeds or throws selfsup::Error whose message is one line. Anything else (another exception
// type, a crash, a sanitizer report, a leak of the one-line rule) aborts and libFuzzer keeps the
// input as a finding.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <utility>

#include "selfsup/core/error.h"

namespace selfsup::fuzz {

// A folder of this process's own, so parallel fuzzing jobs do not share files.
inline const std::string& work_dir() {
  static const std::string dir = [] {
    auto d = std::filesystem::temp_directory_path() / ("selfsup_fuzz_" + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    return d.string();
  }();
  return dir;
}

inline std::string write_file(const std::string& name, std::string_view bytes) {
  const auto path = work_dir() + "/" + name;
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return path;
}

// Two-part inputs (a recipe and its overrides, a vocabulary and a text): the parts either side of the
// first `separator`; the second is empty when there is none.
inline std::pair<std::string_view, std::string_view> split_at(std::string_view input, std::string_view separator) {
  const auto at = input.find(separator);
  if (at == std::string_view::npos) return {input, {}};
  return {input.substr(0, at), input.substr(at + separator.size())};
}

inline std::string_view as_text(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

[[noreturn]] inline void finding(const std::string& what) {
  std::fprintf(stderr, "selfsup fuzz finding: %s\n", what.c_str());
  std::abort();
}

// Runs `parse`; selfsup::Error with a one-line message is the expected answer to bad input.
// Returns true when `parse` succeeded.
template <typename F>
bool parses(F&& parse) {
  try {
    parse();
    return true;
  } catch (const selfsup::Error& e) {
    const std::string message = e.what();
    if (message.empty() || message.find('\n') != std::string::npos)
      finding("selfsup::Error message is not one line: [" + message + "]");
    return false;
  } catch (const std::exception& e) {
    finding(std::string("an exception other than selfsup::Error escaped: ") + e.what());
  }
}

}  // namespace selfsup::fuzz
