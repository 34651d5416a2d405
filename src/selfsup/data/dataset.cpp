#include "selfsup/data/dataset.h"

namespace selfsup::data {

ImageDataset ImageDataset::head(int64_t n) const {
  if (n <= 0 || n >= size()) return *this;
  ImageDataset out = *this;
  out.images = images.slice(0, 0, n);
  if (labels.defined()) out.labels = labels.slice(0, 0, n);
  return out;
}

}  // namespace selfsup::data
