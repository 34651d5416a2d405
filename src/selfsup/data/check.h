// The data tools behind `selfsup data check` and `selfsup data shards`: walk a folder, shards or
// a CSV list and report what is in it (and what cannot be read); repack it into WebDataset shards.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "selfsup/data/stream.h"

namespace selfsup::data {

// What a path names, by its form: a folder (root/<class>/<image>), a CSV/TSV list (.csv, .tsv;
// tab-separated unless .csv) or WebDataset shards (anything with .tar, brace ranges allowed).
struct PathSpec {
  std::string path;
  std::string image_key = "filepath", caption_key = "title";  // CSV columns (open_clip's names)
  char separator = 0;  // CSV: 0 = by extension
};
StreamList list_path(const PathSpec& spec, const ListOptions& options);

struct CheckReport {
  int64_t samples = 0;
  int64_t captions = 0;
  uint64_t bytes = 0;  // encoded
  std::vector<std::pair<std::string, int64_t>> classes;  // name, images
  std::vector<std::pair<std::string, int64_t>> formats;  // "jpeg", "png", "bmp"
  int64_t min_width = 0, max_width = 0, min_height = 0, max_height = 0, median_width = 0, median_height = 0;
  std::vector<std::string> bad;  // "where: why", in list order
};

using ProgressFn = std::function<void(int64_t done)>;

// Reads every sample's header (decode = true: decodes every image fully, as training would) on
// `threads` threads (0 = all cores). Unreadable samples are reported, not thrown.
CheckReport check_samples(const StreamList& list, bool decode, int64_t threads, const ProgressFn& progress = {});

struct ShardOptions {
  std::string out_dir;
  std::string prefix = "train";
  int64_t samples_per_shard = 1000;
  bool shuffle = false;  // write the samples in a seeded random order (the shards then mix classes)
  uint64_t seed = 0;
};

// Writes the samples as WebDataset shards OUT/PREFIX-000000.tar ...: per sample KEY.jpg (or
// .png/.bmp: the original bytes, not re-encoded), KEY.cls (label, when labelled) and KEY.txt
// (caption, when captioned); keys are the sample's zero-padded position. Each shard is written to
// a temporary file and renamed. Returns the brace pattern naming the shards (for data.shards).
std::string write_shards(const StreamList& list, const ShardOptions& options, const ProgressFn& progress = {});

}  // namespace selfsup::data
