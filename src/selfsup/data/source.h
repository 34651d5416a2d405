// Where a recipe's images come from: the data section of a recipe and the loader of each split.
#pragma once

#include <string>
#include <vector>

#include "selfsup/data/captions.h"
#include "selfsup/data/dataset.h"

namespace selfsup::config {
class Visitor;
}

namespace selfsup::data {

struct DataConfig {
  std::string dataset = "fashion-mnist";  // fashion-mnist | mnist | image_folder | emoji | flickr8k | webdataset | csv
  std::string root = "/usr/share/datasets/fashion-mnist";  // emoji: /usr/local/share/selfsup/emoji (scripts/setup-deps.sh)
  std::string test_root;  // image_folder: the evaluation split
  int64_t image_size = 0;
  int64_t channels = 0;
  int64_t subset = 0;
  int64_t test_subset = 0;
  std::vector<std::string> artists{"apple", "google", "facebook"};  // emoji: training artists
  std::vector<std::string> test_artists{"twitter"};                  // emoji: held-out artists
  bool skin_tones = true;  // emoji: include the skin-tone variants
  double unseen_names = 0;  // emoji: fraction of the emoji held out of training (data/emoji.h)
  std::string split = "train";      // flickr8k: training split (train | val | test)
  std::string test_split = "test";  // flickr8k: evaluation split
  std::string shards, test_shards;  // webdataset: brace patterns of .tar shards
  std::string csv, test_csv;        // csv: image-caption lists
  std::string csv_image_key = "filepath", csv_caption_key = "title", csv_separator = "tab";  // open_clip's defaults
  std::string cache = "auto";          // memory | stream | auto
  std::string on_bad_file = "error";   // streamed data: error | skip
  double eval_crop = 0.875;            // streamed evaluation: centre crop fraction of the shorter side
  int64_t workers = 1;
  int64_t prefetch = 4;
  void visit(config::Visitor& v);
};

// Images held in memory by data.cache: auto below this many decoded bytes (image_folder);
// larger folders, WebDataset shards and CSV lists are streamed (docs/data.md).
constexpr int64_t kAutoMemoryBytes = int64_t{4} << 30;

// True when the recipe's training data will be streamed (decided by data.cache and the dataset).
bool streams(const DataConfig& config);

// The training split (train = true) or the evaluation split, limited to subset / test_subset.
ImageDataset load_dataset(const DataConfig& config, bool train);

// An image-caption dataset (emoji, flickr8k): the training or the evaluation split.
CaptionDataset load_caption_dataset(const DataConfig& config, bool train);

}  // namespace selfsup::data
