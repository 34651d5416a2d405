// Where a recipe's images come from: the data section of a recipe and the loader of each split.
#pragma once

#include <string>

#include "selfsup/data/dataset.h"

namespace selfsup::config {
class Visitor;
}

namespace selfsup::data {

struct DataConfig {
  std::string dataset = "fashion-mnist";  // fashion-mnist | mnist | image_folder
  std::string root = "/usr/share/datasets/fashion-mnist";
  std::string test_root;  // image_folder: the evaluation split
  int64_t image_size = 0;
  int64_t channels = 0;
  int64_t subset = 0;
  int64_t test_subset = 0;
  int64_t workers = 1;
  int64_t prefetch = 4;
  void visit(config::Visitor& v);
};

// The training split (train = true) or the evaluation split, limited to subset / test_subset.
ImageDataset load_dataset(const DataConfig& config, bool train);

}  // namespace selfsup::data
