// An in-memory labelled image dataset: every image decoded once into one uint8 tensor, so a
// batch is a single index_select and augmentation runs batched on the model's device.
#pragma once

#include <torch/torch.h>

#include <string>
#include <vector>

namespace selfsup::data {

struct ImageDataset {
  torch::Tensor images;  // N x C x H x W, uint8, contiguous
  torch::Tensor labels;  // N, int64 (class index; -1 when unlabelled)
  std::vector<std::string> class_names;
  std::string source;  // where it came from, for messages and reports

  int64_t size() const { return images.defined() ? images.size(0) : 0; }
  int64_t channels() const { return images.size(1); }
  int64_t height() const { return images.size(2); }
  int64_t width() const { return images.size(3); }
  int64_t num_classes() const { return static_cast<int64_t>(class_names.size()); }

  // The first n images (all when n <= 0 or n >= size()); views, no copy.
  ImageDataset head(int64_t n) const;
};

}  // namespace selfsup::data
