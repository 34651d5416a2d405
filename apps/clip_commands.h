// The CLIP subcommands of the selfsup CLI: embed (a collection -> index file), search (a sentence ->
// images, or an image -> captions), zeroshot (classification from class names), and the
// `eval retrieval` protocol. Parse, call the library, print.
#pragma once

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace selfsup::cli {

class ClipCommands {
 public:
  explicit ClipCommands(CLI::App& app);
  // Runs the CLIP subcommand the command line chose; false when it chose none of them.
  bool run(int& exit_code);

  // `selfsup eval retrieval --checkpoint C`: recall@1/5/10 both ways (+ zero-shot) on the test split.
  static int eval_retrieval(const std::string& checkpoint, const std::vector<std::string>& overrides,
                            const std::string& json_out);

 private:
  int embed();
  int search();
  int zeroshot();

  CLI::App *embed_cmd_, *search_cmd_, *zeroshot_cmd_;
  std::string checkpoint_, images_, out_ = "index.bin", index_, query_, grid_, image_, captions_, classes_;
  std::vector<std::string> templates_;
  int64_t k_ = 9, batch_size_ = 256;
};

}  // namespace selfsup::cli
