#include "selfsup/data/source.h"

#include "selfsup/core/config.h"
#include "selfsup/core/error.h"
#include "selfsup/data/emoji.h"
#include "selfsup/data/encoded_image.h"
#include "selfsup/data/idx.h"
#include "selfsup/data/image_folder.h"

#include <iostream>

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
  v("unseen_names", unseen_names, "emoji: hold this fraction of the emoji (with their skin tones; a fixed choice) out of training "
                                  "entirely, images and captions, to measure retrieval of names never seen (CLIP's label protocol)",
    config::probability);
  v("split", split, "flickr8k: the training split (train, val or test; Karpathy's files when present, else 80/20)");
  v("test_split", test_split, "flickr8k: the evaluation split");
  v("shards", shards, "webdataset: the training shards, a path with brace ranges (\"/data/train-{000000..000127}.tar\")");
  v("test_shards", test_shards, "webdataset: the evaluation shards");
  v("csv", csv, "csv: the training list (a header row, then one image path and caption per row; paths relative to the file)");
  v("test_csv", test_csv, "csv: the evaluation list");
  v("csv_image_key", csv_image_key, "csv: the column holding the image path");
  v("csv_caption_key", csv_caption_key, "csv: the column holding the caption");
  v("csv_separator", csv_separator, "csv: the field separator: one character, tab or comma");
  v("cache", cache, "memory (decode every image once, at data.image_size) | stream (decode each batch from the files, cropping on the original image) | auto (memory for the built-in datasets and for image folders with data.image_size set whose resized copy is under 4 GiB, else stream)");
  v("on_bad_file", on_bad_file, "streamed data: error (stop, naming the file) | skip (replace it by the next readable image, log it, count it in metrics.json)");
  v("eval_crop", eval_crop, "streamed evaluation: the centre crop's side as a fraction of the shorter image side (0.875 = Resize(256) + CenterCrop(224))", config::between(0.01, 1.0));
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

char separator_of(const DataConfig& c) {
  if (c.csv_separator == "\t" || c.csv_separator == "tab") return '\t';
  if (c.csv_separator == "comma") return ',';
  if (c.csv_separator.size() != 1) throw Error("data.csv_separator: '" + c.csv_separator + "': expected one character");
  return c.csv_separator[0];
}

int64_t image_folder_bytes(const DataConfig& c) {
  const auto files = list_image_folder_files(c.root).paths.size();
  const int64_t side = c.image_size > 0 ? c.image_size : 224;
  return static_cast<int64_t>(files) * (c.channels == 1 ? 1 : 3) * side * side;
}

// Where a streamed split lives: the folder, the shard pattern or the list.
const std::string& stream_location(const DataConfig& c, bool train) {
  const bool folder = c.dataset == "image_folder", shards = c.dataset == "webdataset";
  const std::string& where = folder ? (train ? c.root : c.test_root) : shards ? (train ? c.shards : c.test_shards)
                                                                           : (train ? c.csv : c.test_csv);
  if (where.empty())
    throw Error(std::string("data.") + (train ? "" : "test_") + (folder ? "root" : shards ? "shards" : "csv") +
                ": needed for the " + (train ? "training" : "evaluation") + " split");
  return where;
}

// The streamed training or evaluation split of an image_folder, webdataset or csv dataset.
StreamList list_stream(const DataConfig& c, bool train, bool captions) {
  ListOptions o;
  o.skip_bad = c.on_bad_file == "skip";
  o.need_captions = captions;
  o.channels = c.channels == 1 ? 1 : 3;
  const auto& where = stream_location(c, train);
  if (c.dataset == "image_folder") return list_image_folder_stream(where, o);
  if (c.dataset == "webdataset") return list_webdataset(where, o);
  if (c.dataset == "csv") return list_csv(where, c.csv_image_key, c.csv_caption_key, separator_of(c), o);
  throw Error("data.dataset: '" + c.dataset + "' cannot be streamed");
}

ImageDataset streamed_dataset(StreamList list, const std::string& source) {
  ImageDataset ds;
  ds.labels = torch::tensor(list.labels, torch::kLong);
  ds.class_names = std::move(list.class_names);
  ds.source = source;
  for (const auto& why : list.source.skipped) std::cerr << "skipping " << why << std::endl;
  ds.stream = std::make_shared<StreamSource>(std::move(list.source));
  return ds;
}

}  // namespace

bool streams(const DataConfig& c) {
  if (c.cache != "auto" && c.cache != "memory" && c.cache != "stream")
    throw Error("data.cache: '" + c.cache + "': expected memory, stream or auto");
  if (c.on_bad_file != "error" && c.on_bad_file != "skip")
    throw Error("data.on_bad_file: '" + c.on_bad_file + "': expected error or skip");
  const bool list_only = c.dataset == "webdataset" || c.dataset == "csv";
  if (c.cache == "memory" && list_only)
    throw Error("data.cache: memory: " + c.dataset + " data is always streamed (data.cache: stream or auto)");
  if (c.cache == "stream" && c.dataset != "image_folder" && !list_only)
    throw Error("data.cache: stream: " + c.dataset + " is read into memory (stream image_folder, webdataset or csv data)");
  if (c.cache != "auto") return c.cache == "stream";
  if (list_only) return true;
  return c.dataset == "image_folder" && (c.image_size == 0 || image_folder_bytes(c) > kAutoMemoryBytes);
}

ImageDataset load_dataset(const DataConfig& c, bool train) {
  ImageDataset ds;
  if (streams(c)) {
    ds = streamed_dataset(list_stream(c, train, false), stream_location(c, train));
    if (!train && c.dataset == "image_folder") check_same_classes(c, ds.class_names);
  } else if (c.dataset == "fashion-mnist") {
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
    throw Error("data.dataset: unknown dataset '" + c.dataset + "' (expected fashion-mnist, mnist, image_folder, emoji, webdataset or csv)");
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
  if (!ds.image_label.empty()) {
    ds.image_label.resize(static_cast<size_t>(n));
    ds.image_base_group = ds.image_base_group.slice(0, 0, n);
    ds.image_unseen = ds.image_unseen.slice(0, 0, n);
  }
  const auto keep = torch::isin(ds.caption_group, ds.image_group).nonzero().view(-1);
  std::vector<std::string> captions;
  for (int64_t i = 0; i < keep.size(0); ++i) captions.push_back(ds.captions[keep[i].item<int64_t>()]);
  ds.captions = std::move(captions);
  ds.caption_group = ds.caption_group.index_select(0, keep);
  return ds;
}

// WebDataset shards or a CSV list with captions: one content id per image. The training split
// stays streamed; the evaluation split (retrieval needs every image at once) is decoded into
// memory as centre crops of data.image_size (224 when 0), so keep it small (data.test_subset).
CaptionDataset streamed_caption_dataset(const DataConfig& c, bool train) {
  auto list = list_stream(c, train, /*captions=*/true);
  CaptionDataset ds;
  ds.captions = list.source.captions;
  for (const auto& sample : list.source.samples) ds.paths.push_back(sample.name);
  ds.source = stream_location(c, train);
  ds.images = streamed_dataset(std::move(list), ds.source);
  const int64_t n = ds.images.size();
  ds.image_group = torch::arange(n, torch::kLong);
  ds.caption_group = torch::arange(n, torch::kLong);
  if (!train) {
    const int64_t keep = c.test_subset > 0 ? std::min(c.test_subset, n) : n;
    ds.images.images = decode_center_crops(*ds.images.stream, 0, keep, c.image_size > 0 ? c.image_size : 224, c.eval_crop,
                                           c.on_bad_file == "skip");
    ds.images.labels = ds.images.labels.slice(0, 0, keep);
    ds.images.stream = nullptr;
  }
  return ds;
}

}  // namespace

CaptionDataset load_caption_dataset(const DataConfig& c, bool train) {
  const int64_t size = c.image_size > 0 ? c.image_size : 64;
  CaptionDataset ds;
  if (c.dataset == "webdataset" || c.dataset == "csv") {
    streams(c);  // checks data.cache and data.on_bad_file
    ds = streamed_caption_dataset(c, train);
  } else if (c.dataset == "emoji") {
    ds = load_emoji(c.root, train ? c.artists : c.test_artists, size, c.skin_tones, c.unseen_names, train);
  } else if (c.dataset == "flickr8k") {
    ds = load_flickr8k(c.root, train ? c.split : c.test_split, size);
  } else {
    throw Error("data.dataset: '" + c.dataset + "' has no captions (expected emoji, flickr8k, webdataset or csv)");
  }
  return head(std::move(ds), train ? c.subset : c.test_subset);
}

}  // namespace selfsup::data
