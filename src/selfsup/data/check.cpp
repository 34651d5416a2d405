#include "selfsup/data/check.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <algorithm>
#include <filesystem>
#include <map>

#include "selfsup/core/error.h"
#include "selfsup/core/fs.h"
#include "selfsup/data/encoded_image.h"
#include "selfsup/data/parallel.h"
#include "selfsup/io/tar.h"

namespace selfsup::data {
namespace {

namespace fs = std::filesystem;

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

std::string format_of(const std::string& bytes) {
  const auto b = [&](size_t i) { return i < bytes.size() ? static_cast<uint8_t>(bytes[i]) : 0; };
  if (b(0) == 0xFF && b(1) == 0xD8) return "jpeg";
  if (b(0) == 0x89 && b(1) == 'P') return "png";
  if (b(0) == 'B' && b(1) == 'M') return "bmp";
  return "other";
}

const char* extension_of(const std::string& format) {
  return format == "png" ? "png" : format == "bmp" ? "bmp" : "jpg";
}

}  // namespace

StreamList list_path(const PathSpec& spec, const ListOptions& options) {
  const std::string& p = spec.path;
  if (fs::is_directory(p)) return list_image_folder_stream(p, options);
  if (ends_with(p, ".csv") || ends_with(p, ".tsv")) {
    const char sep = spec.separator ? spec.separator : ends_with(p, ".csv") ? ',' : '\t';
    return list_csv(p, spec.image_key, spec.caption_key, sep, options);
  }
  if (p.find(".tar") != std::string::npos) return list_webdataset(p, options);
  throw Error(p + ": expected a folder of class folders, a .csv/.tsv list or .tar shards");
}

CheckReport check_samples(const StreamList& list, bool decode, int64_t threads, const ProgressFn& progress) {
  const auto& source = list.source;
  const int64_t n = source.size();
  std::vector<int64_t> widths(n, -1), heights(n, -1);
  std::vector<std::string> formats(n), bad(n);
  std::vector<uint64_t> sizes(n, 0);
  parallel_for_each(n, threads, [&](int64_t i) {
    try {
      const auto bytes = source.read(i);
      sizes[i] = bytes.size();
      formats[i] = format_of(bytes);
      const EncodedImage image(bytes, source.where(i), source.channels);
      if (decode) image.crop({0, 0, static_cast<double>(image.width()), static_cast<double>(image.height())}, 8, false);
      widths[i] = image.width();
      heights[i] = image.height();
    } catch (const Error& e) {
      bad[i] = e.what();
    }
  }, progress);
  CheckReport r;
  r.samples = n;
  r.captions = static_cast<int64_t>(source.captions.size());
  std::map<std::string, int64_t> format_counts;
  std::vector<int64_t> classes(list.class_names.size(), 0);
  std::vector<int64_t> good_w, good_h;
  for (int64_t i = 0; i < n; ++i) {
    r.bytes += sizes[i];
    if (!formats[i].empty()) ++format_counts[formats[i]];
    const int64_t label = i < static_cast<int64_t>(list.labels.size()) ? list.labels[i] : -1;
    if (label >= 0 && label < static_cast<int64_t>(classes.size())) ++classes[label];
    if (!bad[i].empty()) {
      r.bad.push_back(bad[i]);
    } else {
      good_w.push_back(widths[i]);
      good_h.push_back(heights[i]);
    }
  }
  for (const auto& why : source.skipped) r.bad.push_back(why);
  for (size_t c = 0; c < classes.size(); ++c) r.classes.emplace_back(list.class_names[c], classes[c]);
  r.formats.assign(format_counts.begin(), format_counts.end());
  if (!good_w.empty()) {
    std::sort(good_w.begin(), good_w.end());
    std::sort(good_h.begin(), good_h.end());
    r.min_width = good_w.front();
    r.max_width = good_w.back();
    r.median_width = good_w[good_w.size() / 2];
    r.min_height = good_h.front();
    r.max_height = good_h.back();
    r.median_height = good_h[good_h.size() / 2];
  }
  return r;
}

std::string write_shards(const StreamList& list, const ShardOptions& o, const ProgressFn& progress) {
  if (o.samples_per_shard <= 0) throw Error("--shard-size: expected a positive number of samples");
  const auto& source = list.source;
  const int64_t n = source.size();
  std::vector<int64_t> order(n);
  for (int64_t i = 0; i < n; ++i) order[i] = i;
  if (o.shuffle) {
    auto gen = at::make_generator<at::CPUGeneratorImpl>(o.seed);
    const auto perm = torch::randperm(n, gen, torch::kLong);
    for (int64_t i = 0; i < n; ++i) order[i] = perm[i].item<int64_t>();
  }
  fs::create_directories(o.out_dir);
  const int64_t shards = (n + o.samples_per_shard - 1) / o.samples_per_shard;
  const auto shard_name = [&](int64_t s) {
    std::string digits = std::to_string(s);
    digits.insert(0, 6 - std::min<size_t>(6, digits.size()), '0');
    return o.prefix + "-" + digits + ".tar";
  };
  const int key_width = std::max<int>(6, static_cast<int>(std::to_string(n).size()));
  for (int64_t s = 0; s < shards; ++s) {
    io::TarWriter tar;
    for (int64_t k = s * o.samples_per_shard; k < std::min(n, (s + 1) * o.samples_per_shard); ++k) {
      const int64_t i = order[k];
      std::string key = std::to_string(k);
      key.insert(0, key_width - std::min<size_t>(key_width, key.size()), '0');
      const auto bytes = source.read(i);
      tar.add(key + "." + extension_of(format_of(bytes)), bytes);
      if (i < static_cast<int64_t>(list.labels.size()) && list.labels[i] >= 0) tar.add(key + ".cls", std::to_string(list.labels[i]));
      if (!source.captions.empty()) tar.add(key + ".txt", source.captions[i]);
      if (progress) progress(k + 1);
    }
    atomic_write((fs::path(o.out_dir) / shard_name(s)).string(), tar.finish());
  }
  if (shards == 1) return (fs::path(o.out_dir) / shard_name(0)).string();
  const std::string last = shard_name(shards - 1);
  return (fs::path(o.out_dir) / (o.prefix + "-{000000.." + last.substr(o.prefix.size() + 1, last.size() - o.prefix.size() - 5) + "}.tar")).string();
}

}  // namespace selfsup::data
