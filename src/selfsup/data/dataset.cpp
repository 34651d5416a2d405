#include "selfsup/data/dataset.h"

#include "selfsup/core/error.h"

namespace selfsup::data {

ImageDataset ImageDataset::head(int64_t n) const {
  if (n <= 0 || n >= size()) return *this;
  ImageDataset out = *this;
  if (stream) {
    out.stream = std::make_shared<StreamSource>(stream->head(n));
  } else {
    out.images = images.slice(0, 0, n);
  }
  if (labels.defined()) out.labels = labels.slice(0, 0, n);
  return out;
}

void ImageDataset::require_in_memory(const std::string& what) const {
  if (stream)
    throw Error(source + ": " + what + " needs the images in memory, and this dataset is streamed (set data.cache: memory "
                "and data.image_size, or use a smaller dataset)");
}

}  // namespace selfsup::data
