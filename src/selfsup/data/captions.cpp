#include "selfsup/data/captions.h"

#include "selfsup/core/error.h"
#include "selfsup/core/fs.h"
#include "selfsup/data/csv.h"
#include "selfsup/data/decode.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

namespace selfsup::data {
namespace {

namespace fs = std::filesystem;

std::string trim(const std::string& s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return "";
  return s.substr(first, s.find_last_not_of(" \t\r\n") - first + 1);
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

struct Flickr8kFiles {
  std::string captions;  // captions.txt or captions.csv
  std::string images;    // Images/ or images/
};

Flickr8kFiles locate_flickr8k(const std::string& root) {
  if (!fs::is_directory(root)) throw Error(root + ": no such directory (expected a Flickr8k folder)");
  Flickr8kFiles f;
  for (const char* name : {"captions.txt", "captions.csv"})
    if (fs::is_regular_file(fs::path(root) / name)) {
      f.captions = (fs::path(root) / name).string();
      break;
    }
  if (f.captions.empty())
    throw Error(root + "/captions.txt: not found: expected the Flickr8k captions file "
                       "(`image,caption` CSV; or captions.csv with `image,caption,id`)");
  for (const char* name : {"Images", "images"})
    if (fs::is_directory(fs::path(root) / name)) {
      f.images = (fs::path(root) / name).string();
      break;
    }
  if (f.images.empty()) throw Error(root + "/Images: no such directory: expected the Flickr8k images");
  return f;
}

struct Flickr8kCaptions {
  std::vector<std::string> images;        // content id -> file name, in first-appearance order
  std::vector<int64_t> first_line;        // content id -> the line that first named it
  std::vector<std::string> captions;      // file order
  std::vector<int64_t> caption_group;     // content id of each caption
  std::unordered_map<std::string, int64_t> id_of;
};

Flickr8kCaptions parse_captions(const std::string& path) {
  const auto records = read_csv(path);
  if (records.empty()) throw Error(path + ":1: expected the header `image,caption`, got an empty file");
  std::vector<std::string> header;
  for (const auto& f : records[0].fields) header.push_back(lower(trim(f)));
  const bool two = header == std::vector<std::string>{"image", "caption"};
  const bool three = header == std::vector<std::string>{"image", "caption", "id"};
  if (!two && !three)
    throw Error(path + ":1: expected the header `image,caption` or `image,caption,id`");
  const std::string layout = two ? "`image,caption`" : "`image,caption,id`";
  const size_t width = header.size();

  Flickr8kCaptions out;
  for (size_t r = 1; r < records.size(); ++r) {
    const auto& rec = records[r];
    const std::string where = path + ":" + std::to_string(rec.line) + ": expected " + layout;
    if (rec.fields.size() != width)
      throw Error(where + " (" + std::to_string(width) + " fields), got " +
                  std::to_string(rec.fields.size()) + " fields (quote captions that contain commas)");
    const auto image = trim(rec.fields[0]);
    const auto caption = trim(rec.fields[1]);
    if (image.empty()) throw Error(where + ", got an empty image name");
    if (caption.empty()) throw Error(where + ", got an empty caption");
    auto [it, inserted] = out.id_of.emplace(image, static_cast<int64_t>(out.images.size()));
    if (inserted) {
      out.images.push_back(image);
      out.first_line.push_back(rec.line);
    }
    out.captions.push_back(caption);
    out.caption_group.push_back(it->second);
  }
  if (out.captions.empty()) throw Error(path + ": no captions after the header");
  return out;
}

// Karpathy's split file: the listed images, each of which must have captions.
std::vector<bool> split_from_file(const std::string& path, const Flickr8kCaptions& caps,
                                  const std::string& captions_path) {
  std::vector<bool> chosen(caps.images.size(), false);
  std::istringstream lines(read_file(path));
  std::string raw;
  for (int64_t line = 1; std::getline(lines, raw); ++line) {
    const auto name = trim(raw);
    if (name.empty()) continue;
    const auto it = caps.id_of.find(name);
    if (it == caps.id_of.end())
      throw Error(path + ":" + std::to_string(line) + ": image '" + name + "' has no captions in " +
                  captions_path);
    chosen[it->second] = true;
  }
  return chosen;
}

// The seed's split: 20% of the images, drawn with seed 42, validate; the rest train. Fisher-Yates
// with mt19937_64 spelled out, because std::shuffle differs between standard libraries.
std::vector<bool> seeded_split(int64_t n, bool val) {
  std::vector<int64_t> perm(n);
  for (int64_t i = 0; i < n; ++i) perm[i] = i;
  std::mt19937_64 rng(42);
  for (int64_t i = n - 1; i > 0; --i)
    std::swap(perm[i], perm[static_cast<int64_t>(rng() % static_cast<uint64_t>(i + 1))]);
  std::vector<bool> chosen(n, !val);
  for (int64_t i = 0; i < n / 5; ++i) chosen[perm[i]] = val;
  return chosen;
}

}  // namespace

int64_t CaptionDataset::num_groups() const {
  if (!image_group.defined()) return 0;
  const auto g = image_group.contiguous();
  std::unordered_set<int64_t> ids(g.data_ptr<int64_t>(), g.data_ptr<int64_t>() + g.numel());
  return static_cast<int64_t>(ids.size());
}

torch::Tensor CaptionDataset::positives() const {
  return image_group.unsqueeze(1) == caption_group.unsqueeze(0);  // N x M
}

void CaptionDataset::validate() const {
  const auto fail = [&](const std::string& what) { throw Error(source + ": caption dataset: " + what); };
  const int64_t n = num_images(), m = num_captions();
  if (static_cast<int64_t>(paths.size()) != n) fail("paths and images differ in count");
  if (!image_group.defined() || image_group.dim() != 1 || image_group.size(0) != n ||
      image_group.scalar_type() != torch::kLong)
    fail("image_group must be N int64");
  if (!caption_group.defined() || caption_group.dim() != 1 || caption_group.size(0) != m ||
      caption_group.scalar_type() != torch::kLong)
    fail("caption_group must be M int64");
  if (n > 0 && (!images.labels.defined() || images.labels.numel() != n))
    fail("labels and images differ in count");
  const auto ig = image_group.contiguous(), cg = caption_group.contiguous();
  const std::unordered_set<int64_t> image_ids(ig.data_ptr<int64_t>(), ig.data_ptr<int64_t>() + n);
  const std::unordered_set<int64_t> caption_ids(cg.data_ptr<int64_t>(), cg.data_ptr<int64_t>() + m);
  for (int64_t i = 0; i < n; ++i)
    if (!caption_ids.count(ig.data_ptr<int64_t>()[i])) fail(paths[i] + " has no caption");
  for (int64_t j = 0; j < m; ++j)
    if (!image_ids.count(cg.data_ptr<int64_t>()[j])) fail("caption '" + captions[j] + "' has no image");
}

CaptionDataset load_flickr8k(const std::string& root, const std::string& split, int64_t image_size) {
  if (split != "train" && split != "val" && split != "test")
    throw Error(root + ": Flickr8k split '" + split + "': expected train, val or test");
  if (image_size <= 0)
    throw Error(root + ": Flickr8k image_size " + std::to_string(image_size) +
                ": expected > 0 (the photos differ in size)");
  const auto files = locate_flickr8k(root);
  const auto caps = parse_captions(files.captions);

  // Every referenced image is checked, not only this split's, so a broken download shows up
  // whichever split is loaded first.
  for (size_t id = 0; id < caps.images.size(); ++id)
    if (!fs::is_regular_file(fs::path(files.images) / caps.images[id]))
      throw Error(files.captions + ":" + std::to_string(caps.first_line[id]) + ": image '" +
                  caps.images[id] + "' not found in " + files.images);

  const auto karpathy = [&](const std::string& s) {
    const std::string name = s == "train" ? "trainImages" : s == "val" ? "devImages" : "testImages";
    return (fs::path(root) / ("Flickr_8k." + name + ".txt")).string();
  };
  std::vector<bool> chosen;
  if (fs::is_regular_file(karpathy(split))) {
    chosen = split_from_file(karpathy(split), caps, files.captions);
  } else if (fs::exists(karpathy("train")) || fs::exists(karpathy("val")) || fs::exists(karpathy("test"))) {
    throw Error(karpathy(split) + ": not found, though other Karpathy split files are in " + root);
  } else if (split == "test") {
    throw Error(root + ": no Flickr_8k.testImages.txt: without Karpathy's split files there are only "
                       "train and val (the seed's seeded 80/20 split)");
  } else {
    chosen = seeded_split(static_cast<int64_t>(caps.images.size()), split == "val");
  }

  CaptionDataset ds;
  std::vector<int64_t> image_group;
  for (size_t id = 0; id < caps.images.size(); ++id) {
    if (!chosen[id]) continue;
    ds.paths.push_back((fs::path(files.images) / caps.images[id]).string());
    image_group.push_back(static_cast<int64_t>(id));
  }
  std::vector<int64_t> caption_group;
  for (size_t j = 0; j < caps.captions.size(); ++j) {
    if (!chosen[caps.caption_group[j]]) continue;
    ds.captions.push_back(caps.captions[j]);
    caption_group.push_back(caps.caption_group[j]);
  }
  if (ds.paths.empty()) throw Error(root + ": Flickr8k split '" + split + "' has no images");

  ds.source = root + " (flickr8k " + split + ")";
  ds.images.images = decode_images(ds.paths, image_size, 3);
  ds.images.labels = torch::full({static_cast<int64_t>(ds.paths.size())}, -1, torch::kLong);
  ds.images.source = ds.source;
  ds.image_group = torch::tensor(image_group, torch::kLong);
  ds.caption_group = torch::tensor(caption_group, torch::kLong);
  ds.validate();
  return ds;
}

}  // namespace selfsup::data
