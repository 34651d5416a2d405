#include "selfsup/data/source.h"

#include "selfsup/core/config.h"
#include "selfsup/core/error.h"
#include "selfsup/data/emoji.h"
#include "selfsup/data/idx.h"
#include "selfsup/data/image_folder.h"

namespace selfsup::data {

void DataConfig::visit(config::Visitor& v) {
  v("dataset", dataset, "fashion-mnist | mnist (IDX files under root) | image_folder (root/<class>/<image>) | emoji (images labelled by emoji category; with captions for task clip) | flickr8k (image-caption data, task clip only)");
  v("root", root, "dataset folder; for image_folder the training split");
  v("test_root", test_root, "image_folder: folder of the evaluation split (required for evaluation)");
  v("image_size", image_size, "image_folder, emoji, flickr8k: resize every image to this square size (0 = keep; all must match)", config::non_negative);
  v("channels", channels, "image_folder: 1 or 3 channels (0 = from the first image)", config::between(0, 3));
  v("subset", subset, "use only the first N training images (0 = all)", config::non_negative);
  v("test_subset", test_subset, "use only the first N test images (0 = all)", config::non_negative);
  v("artists", artists, "emoji: the artists whose images train (apple, google, twitter, facebook)");
  v("test_artists", test_artists, "emoji: the artists held out for evaluation");
  v("skin_tones", skin_tones, "emoji: include the skin-tone variants (\"waving hand: medium-dark skin tone\")");
  v("split", split, "flickr8k: the training split (train, val or test; Karpathy's files when present, else 80/20)");
  v("test_split", test_split, "flickr8k: the evaluation split");
  v("workers", workers, "loader threads that batch and augment ahead of the training step", config::non_negative);
  v("prefetch", prefetch, "batches buffered ahead of the training step", config::at_least_one);
}

namespace {

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

// Labels are positions in the sorted class list: the evaluation split must list the same classes,
// or a label would mean one class in training and another in the test.
void check_same_classes(const DataConfig& c, const std::vector<std::string>& test_classes) {
  const auto train_classes = image_folder_classes(c.root);
  if (train_classes != test_classes)
    throw Error("data.test_root: " + c.test_root + " has the classes [" + joined(test_classes) + "], data.root " + c.root +
                " has [" + joined(train_classes) + "]: both splits need the same class folders");
}

}  // namespace

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
    if (!train) check_same_classes(c, ds.class_names);
  } else if (c.dataset == "emoji") {
    return load_caption_dataset(c, train).images;  // the drawings alone, labelled by emoji category
  } else {
    throw Error("data.dataset: unknown dataset '" + c.dataset + "' (expected fashion-mnist, mnist, image_folder or emoji)");
  }
  return ds.head(train ? c.subset : c.test_subset);
}

namespace {

// The first n images and the captions of their content (all when n <= 0 or n >= size).
CaptionDataset head(CaptionDataset ds, int64_t n) {
  if (n <= 0 || n >= ds.num_images()) return ds;
  ds.images = ds.images.head(n);
  ds.paths.resize(static_cast<size_t>(n));
  ds.image_group = ds.image_group.slice(0, 0, n);
  const auto keep = torch::isin(ds.caption_group, ds.image_group).nonzero().view(-1);
  std::vector<std::string> captions;
  for (int64_t i = 0; i < keep.size(0); ++i) captions.push_back(ds.captions[keep[i].item<int64_t>()]);
  ds.captions = std::move(captions);
  ds.caption_group = ds.caption_group.index_select(0, keep);
  return ds;
}

}  // namespace

CaptionDataset load_caption_dataset(const DataConfig& c, bool train) {
  const int64_t size = c.image_size > 0 ? c.image_size : 64;
  CaptionDataset ds;
  if (c.dataset == "emoji") {
    ds = load_emoji(c.root, train ? c.artists : c.test_artists, size, c.skin_tones);
  } else if (c.dataset == "flickr8k") {
    ds = load_flickr8k(c.root, train ? c.split : c.test_split, size);
  } else {
    throw Error("data.dataset: '" + c.dataset + "' has no captions (expected emoji or flickr8k)");
  }
  return head(std::move(ds), train ? c.subset : c.test_subset);
}

}  // namespace selfsup::data
