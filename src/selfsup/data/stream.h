// The file list of a streamed dataset: where each sample's encoded image lives (a file, or a
// member of an uncompressed tar shard), with its label and caption. Only this list is held in
// memory; pixels are decoded per batch by the loader (loader.h), cropped as they are decoded.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace selfsup::data {

struct StreamSample {
  std::string name;    // a file path, or the member's name inside its shard
  int32_t shard = -1;  // index into StreamSource::shards; -1 = a file of its own
  uint64_t offset = 0, size = 0;  // the member's bytes inside the shard
};

struct StreamSource {
  std::vector<std::string> shards;
  std::vector<StreamSample> samples;
  std::vector<std::string> captions;  // one per sample, or empty when the data has none
  int64_t channels = 3;               // what each decoded crop has (1 or 3)
  std::vector<std::string> skipped;   // listed but left out (data.on_bad_file: skip), with why

  int64_t size() const { return static_cast<int64_t>(samples.size()); }
  // Sample i's encoded bytes. Throws selfsup::Error naming it.
  std::string read(int64_t i) const;
  // "path/to/file.jpg" or "shard-000001.tar: 000123.jpg", for messages.
  std::string where(int64_t i) const;
  // The first n samples (all when n <= 0 or n >= size()).
  StreamSource head(int64_t n) const;
};

// A listed dataset: the source plus the per-sample label (-1 = none) and the class names.
struct StreamList {
  StreamSource source;
  std::vector<int64_t> labels;
  std::vector<std::string> class_names;
};

// How listing treats a sample it cannot use (a member without an image, a missing caption):
// false = error naming it, true = leave it out and record it in StreamSource::skipped.
struct ListOptions {
  bool skip_bad = false;
  bool need_captions = false;
  int64_t channels = 3;
};

// root/<class>/<image>, labelled by the sorted class folders (as image_folder.h).
StreamList list_image_folder_stream(const std::string& root, const ListOptions& options);

// WebDataset shards: `pattern` is a path with brace ranges ("train-{000000..000127}.tar").
// Members are grouped into samples by key (the path up to the first dot of the file name):
// the image (.jpg, .jpeg, .png or .bmp), its caption (.txt; .json's "caption" when no .txt) and
// its class index (.cls). Labels are the .cls values (-1 without), class names "0".."max".
StreamList list_webdataset(const std::string& pattern, const ListOptions& options);

// A CSV/TSV image-caption list as open_clip reads it: a header row naming the columns; image
// paths relative to the file's folder.
StreamList list_csv(const std::string& path, const std::string& image_key, const std::string& caption_key,
                    char separator, const ListOptions& options);

// "a{1..3}b" -> a1b, a2b, a3b; zero-padded ranges keep their width ("{008..010}" -> 008 009 010);
// several groups multiply; "{a,b}" lists alternatives. Throws selfsup::Error for an unclosed
// brace or a range of more than ten million names.
std::vector<std::string> expand_braces(const std::string& pattern);

}  // namespace selfsup::data
