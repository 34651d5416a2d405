// The CLIP subcommands of the selfsup CLI: embed (a collection -> index file), search (a sentence ->
// images, or an image -> captions), zeroshot (classification from class names), and the
// `eval retrieval` protocol. Parse, call the library, print.
#pragma once

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

#include "selfsup/clip/ann_index.h"
#include "selfsup/clip/index.h"

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
  // embed: the kind of index and FAISS parameters; search: overrides of the stored ones.
  static constexpr int64_t kExactUpTo = 100000;  // `auto` builds an exact index up to this size
  std::string index_type_ = "auto";
  clip::AnnOptions ann_;
  bool append_ = false;
  bool exact_ = false;
  int64_t nprobe_ = 0, ef_search_ = 0;
};

}  // namespace selfsup::cli
