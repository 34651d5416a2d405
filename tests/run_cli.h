// Runs the selfsup command-line program (SELFSUP_BINARY, set by CMake) for the end-to-end tests.
#pragma once

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>

struct CliResult {
  int code;            // exit status (-1 when killed by a signal)
  std::string output;  // stdout + stderr
};

// A shell command's stdout (add 2>&1 for stderr) and exit status.
inline CliResult run_command(const std::string& cmd) {
  FILE* pipe = popen(cmd.c_str(), "r");
  std::string out;
  std::array<char, 4096> buf{};
  while (size_t n = fread(buf.data(), 1, buf.size(), pipe)) out.append(buf.data(), n);
  const int status = pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

// `env`: variable assignments for this run only, e.g. "SELFSUP_FAULT_KILL_WRITE=checkpoint.pt:2".
inline CliResult run_cli(const std::string& args, const std::string& env = "") {
  return run_command((env.empty() ? "" : env + " ") + std::string(SELFSUP_BINARY) + " " + args + " 2>&1");
}
