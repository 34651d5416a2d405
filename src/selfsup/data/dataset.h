// A labelled image dataset. Small data is decoded once into one uint8 tensor in memory, so a
// batch is a single index_select and augmentation runs batched on the model's device; large data
// is streamed: only the file list is held (stream.h) and the loader decodes each batch's crops.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

#include "selfsup/data/stream.h"

namespace selfsup::data {

struct ImageDataset {
  torch::Tensor images;  // N x C x H x W, uint8, contiguous; undefined when streamed
  torch::Tensor labels;  // N, int64 (class index; -1 when unlabelled)
  std::vector<std::string> class_names;
  std::string source;  // where it came from, for messages and reports
  std::shared_ptr<const StreamSource> stream;  // set when the pixels are decoded per batch

  bool streamed() const { return stream != nullptr; }
  int64_t size() const { return stream ? stream->size() : images.defined() ? images.size(0) : 0; }
  int64_t channels() const { return stream ? stream->channels : images.size(1); }
  int64_t height() const { return stream ? 0 : images.size(2); }  // 0 when streamed (sizes vary)
  int64_t width() const { return stream ? 0 : images.size(3); }
  int64_t num_classes() const { return static_cast<int64_t>(class_names.size()); }

  // The first n images (all when n <= 0 or n >= size()); views, no copy.
  ImageDataset head(int64_t n) const;
  // Throws selfsup::Error when streamed: `what` needs every image in memory.
  void require_in_memory(const std::string& what) const;
};

}  // namespace selfsup::data
