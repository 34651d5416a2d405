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
  std::string dataset = "fashion-mnist";  // fashion-mnist | mnist | image_folder | emoji | flickr8k
  std::string root = "/usr/share/datasets/fashion-mnist";  // emoji: /usr/local/share/selfsup/emoji (scripts/setup-deps.sh)
  std::string test_root;  // image_folder: the evaluation split
  int64_t image_size = 0;
  int64_t channels = 0;
  int64_t subset = 0;
  int64_t test_subset = 0;
  std::vector<std::string> artists{"apple", "google", "facebook"};  // emoji: training artists
  std::vector<std::string> test_artists{"twitter"};                  // emoji: held-out artists
  bool skin_tones = true;  // emoji: include the skin-tone variants
  std::string split = "train";      // flickr8k: training split (train | val | test)
  std::string test_split = "test";  // flickr8k: evaluation split
  int64_t workers = 1;
  int64_t prefetch = 4;
  void visit(config::Visitor& v);
};

// The training split (train = true) or the evaluation split, limited to subset / test_subset.
ImageDataset load_dataset(const DataConfig& config, bool train);

// An image-caption dataset (emoji, flickr8k): the training or the evaluation split.
CaptionDataset load_caption_dataset(const DataConfig& config, bool train);

}  // namespace selfsup::data
