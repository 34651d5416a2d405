// The data subcommands of the selfsup CLI: `data check` (what a folder, shards or a CSV list
// holds and which files cannot be read), `data shards` (repack into WebDataset shards) and
// `data bench` (the loader's images/s for a recipe). Parse, call the library, print.
#pragma once

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace selfsup::cli {

class DataCommands {
 public:
  explicit DataCommands(CLI::App& app);
  // Runs the data subcommand the command line chose; false when it chose none of them.
  bool run(int& exit_code);

 private:
  int check();
  int shards();
  int bench();

  CLI::App *data_cmd_, *check_cmd_, *shards_cmd_, *bench_cmd_;
  std::string path_, image_key_ = "filepath", caption_key_ = "title", separator_, bad_list_, out_, prefix_ = "train";
  std::string recipe_;
  std::vector<std::string> overrides_;
  bool decode_ = false, captions_ = false, shuffle_ = false;
  int64_t threads_ = 0, shard_size_ = 1000, seed_ = 0, batches_ = 20;
};

}  // namespace selfsup::cli
