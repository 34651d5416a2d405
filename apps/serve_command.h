// `selfsup serve`: CLIP search over HTTP (clip/search_service.h behind cpp-httplib).
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <string>

namespace selfsup::cli {

class ServeCommand {
 public:
  explicit ServeCommand(CLI::App& app);
  // Runs the server if `serve` was the subcommand (until SIGINT/SIGTERM); false otherwise.
  bool run(int& exit_code);

 private:
  int serve();

  CLI::App* cmd_ = nullptr;
  std::string checkpoint_, index_, captions_, host_ = "127.0.0.1";
  int port_ = 8080, threads_ = 8;
  int64_t max_k_ = 100, nprobe_ = 0, ef_search_ = 0;
  bool exact_ = false;
};

}  // namespace selfsup::cli
