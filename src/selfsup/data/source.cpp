#include "selfsup/data/source.h"

#include "selfsup/core/config.h"
#include "selfsup/core/error.h"
#include "selfsup/data/idx.h"
#include "selfsup/data/image_folder.h"

namespace selfsup::data {

void DataConfig::visit(config::Visitor& v) {
  v("dataset", dataset, "fashion-mnist | mnist (IDX files under root) | image_folder (root/<class>/<image>)");
  v("root", root, "dataset folder; for image_folder the training split");
  v("test_root", test_root, "image_folder: folder of the evaluation split (required for evaluation)");
  v("image_size", image_size, "image_folder: resize every image to this square size (0 = keep; all must match)");
  v("channels", channels, "image_folder: 1 or 3 channels (0 = from the first image)");
  v("subset", subset, "use only the first N training images (0 = all)");
  v("test_subset", test_subset, "use only the first N test images (0 = all)");
  v("workers", workers, "loader threads that batch and augment ahead of the training step");
  v("prefetch", prefetch, "batches buffered ahead of the training step");
}

ImageDataset load_dataset(const DataConfig& c, bool train) {
  ImageDataset ds;
  if (c.dataset == "fashion-mnist") {
    ds = load_mnist_like(c.root, train, fashion_mnist_classes());
  } else if (c.dataset == "mnist") {
    ds = load_mnist_like(c.root, train, mnist_classes());
  } else if (c.dataset == "image_folder") {
    const std::string& root = train ? c.root : c.test_root;
    if (root.empty()) throw Error("data.test_root: image_folder evaluation needs a test folder");
    ds = load_image_folder(root, c.image_size, c.channels);
  } else {
    throw Error("data.dataset: unknown dataset '" + c.dataset + "' (expected fashion-mnist, mnist or image_folder)");
  }
  return ds.head(train ? c.subset : c.test_subset);
}

}  // namespace selfsup::data
