#include "selfsup/data/stream.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <filesystem>

#include "selfsup/core/error.h"
#include "selfsup/core/fs.h"
#include "selfsup/data/csv.h"
#include "selfsup/data/image_folder.h"
#include "selfsup/io/tar.h"

namespace selfsup::data {
namespace {

namespace fs = std::filesystem;

std::string lowercase(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// Leaves a sample out (recording why) or stops with the reason, as the policy says.
void reject(StreamSource& source, const ListOptions& options, const std::string& what) {
  if (!options.skip_bad) throw Error(what + " (data.on_bad_file: skip leaves such samples out)");
  source.skipped.push_back(what);
}

// A member's sample key: its path up to the first dot of the file name ("a/000123.seg.png" -> "a/000123").
std::string key_of(const std::string& name) {
  const size_t slash = name.rfind('/');
  return name.substr(0, name.find('.', slash == std::string::npos ? 0 : slash + 1));
}

std::string trimmed(const std::string& s) {
  const auto a = s.find_first_not_of(" \t\r\n");
  return a == std::string::npos ? "" : s.substr(a, s.find_last_not_of(" \t\r\n") - a + 1);
}

}  // namespace

std::string StreamSource::read(int64_t i) const {
  const auto& s = samples.at(static_cast<size_t>(i));
  if (s.shard < 0) return read_file(s.name, "image");
  return io::read_tar_member(shards.at(static_cast<size_t>(s.shard)), {s.name, s.offset, s.size});
}

std::string StreamSource::where(int64_t i) const {
  const auto& s = samples.at(static_cast<size_t>(i));
  return s.shard < 0 ? s.name : shards.at(static_cast<size_t>(s.shard)) + ": " + s.name;
}

StreamSource StreamSource::head(int64_t n) const {
  if (n <= 0 || n >= size()) return *this;
  StreamSource out = *this;
  out.samples.resize(static_cast<size_t>(n));
  if (!out.captions.empty()) out.captions.resize(static_cast<size_t>(n));
  return out;
}

StreamList list_image_folder_stream(const std::string& root, const ListOptions& options) {
  const auto files = list_image_folder_files(root);
  StreamList out;
  out.source.channels = options.channels;
  out.class_names = files.class_names;
  out.labels = files.labels;
  out.source.samples.reserve(files.paths.size());
  for (const auto& p : files.paths) out.source.samples.push_back({p, -1, 0, 0});
  if (options.need_captions) throw Error(root + ": an image folder has no captions (use data.dataset: webdataset or csv)");
  return out;
}

std::vector<std::string> expand_braces(const std::string& pattern) {
  const size_t open = pattern.find('{');
  if (open == std::string::npos) {
    if (pattern.find('}') != std::string::npos) throw Error(pattern + ": '}' without '{'");
    return {pattern};
  }
  const size_t close = pattern.find('}', open);
  if (close == std::string::npos) throw Error(pattern + ": unclosed '{'");
  const std::string inside = pattern.substr(open + 1, close - open - 1);
  std::vector<std::string> choices;
  const size_t dots = inside.find("..");
  if (dots != std::string::npos) {
    const std::string a = inside.substr(0, dots), b = inside.substr(dots + 2);
    const auto digits = [](const std::string& s) {
      return !s.empty() && s.size() <= 18 && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); });
    };
    if (!digits(a) || !digits(b)) throw Error(pattern + ": expected a range of numbers like {000000..000127}");
    const int64_t from = std::stoll(a), to = std::stoll(b);
    if (to < from) throw Error(pattern + ": the range " + inside + " counts down");
    if (to - from >= 10'000'000) throw Error(pattern + ": the range " + inside + " names more than ten million files");
    const size_t width = a.size() > 1 && a[0] == '0' ? a.size() : 0;  // zero-padded: keep the width
    for (int64_t v = from; v <= to; ++v) {
      std::string s = std::to_string(v);
      if (s.size() < width) s.insert(0, width - s.size(), '0');
      choices.push_back(s);
    }
  } else {
    size_t start = 0;
    while (true) {
      const size_t comma = inside.find(',', start);
      choices.push_back(inside.substr(start, comma - start));
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  }
  std::vector<std::string> out;
  const auto rest = expand_braces(pattern.substr(close + 1));
  for (const auto& c : choices)
    for (const auto& r : rest) out.push_back(pattern.substr(0, open) + c + r);
  return out;
}

StreamList list_webdataset(const std::string& pattern, const ListOptions& options) {
  StreamList out;
  auto& source = out.source;
  source.channels = options.channels;
  source.shards = expand_braces(pattern);
  int64_t max_class = -1;
  for (size_t s = 0; s < source.shards.size(); ++s) {
    const auto& shard = source.shards[s];
    if (!fs::is_regular_file(shard)) throw Error(shard + ": no such shard (data.shards: " + pattern + ")");
    const auto members = io::index_tar(shard);
    // Members of one sample are adjacent (the WebDataset convention): group runs of equal keys.
    for (size_t m = 0; m < members.size();) {
      const std::string key = key_of(members[m].name);
      const io::TarMember* image = nullptr;
      std::string caption;
      bool has_caption = false;
      int64_t label = -1;
      for (; m < members.size() && key_of(members[m].name) == key; ++m) {
        const auto& member = members[m];
        const std::string ext = lowercase(member.name.substr(std::min(member.name.size(), key.size() + 1)));
        if (!image && (ext == "jpg" || ext == "jpeg" || ext == "png" || ext == "bmp")) {
          image = &member;
        } else if (ext == "txt" && options.need_captions) {
          caption = trimmed(io::read_tar_member(shard, member));
          has_caption = true;
        } else if (ext == "json" && options.need_captions && !has_caption) {
          const auto j = nlohmann::json::parse(io::read_tar_member(shard, member), nullptr, false);
          if (j.is_object() && j.contains("caption") && j["caption"].is_string()) caption = trimmed(j["caption"]);
        } else if (ext == "cls") {
          const std::string text = trimmed(io::read_tar_member(shard, member));
          try {
            size_t used = 0;
            label = std::stoll(text, &used);
            if (used != text.size() || label < 0) throw std::invalid_argument("");
          } catch (const std::exception&) {
            throw Error(shard + ": " + member.name + ": expected a class index >= 0, got '" + text.substr(0, 40) + "'");
          }
        }
      }
      const std::string where = shard + ": sample '" + key + "'";
      if (!image) {
        reject(source, options, where + " has no .jpg/.jpeg/.png/.bmp image");
        continue;
      }
      if (options.need_captions && caption.empty()) {
        reject(source, options, where + " has no caption (.txt, or .json with \"caption\")");
        continue;
      }
      source.samples.push_back({image->name, static_cast<int32_t>(s), image->offset, image->size});
      if (options.need_captions) source.captions.push_back(caption);
      out.labels.push_back(label);
      max_class = std::max(max_class, label);
    }
  }
  if (source.samples.empty()) throw Error(pattern + ": the shards hold no samples with an image");
  for (int64_t c = 0; c <= max_class; ++c) out.class_names.push_back(std::to_string(c));
  return out;
}

StreamList list_csv(const std::string& path, const std::string& image_key, const std::string& caption_key,
                    char separator, const ListOptions& options) {
  const auto records = read_csv(path, separator);
  if (records.empty()) throw Error(path + ": empty file: expected a header row naming the columns");
  const auto& header = records[0].fields;
  const auto column = [&](const std::string& key, const char* setting) {
    const auto it = std::find(header.begin(), header.end(), key);
    if (it == header.end()) {
      std::string names;
      for (const auto& h : header) names += (names.empty() ? "" : ", ") + h;
      throw Error(path + ":1: no column '" + key + "' (" + setting + "); the header has: " + names +
                  (header.size() == 1 ? " (wrong data.csv_separator?)" : ""));
    }
    return static_cast<size_t>(it - header.begin());
  };
  const size_t image_col = column(image_key, "data.csv_image_key");
  const size_t caption_col = options.need_captions ? column(caption_key, "data.csv_caption_key") : 0;
  const fs::path folder = fs::path(path).parent_path();
  StreamList out;
  out.source.channels = options.channels;
  for (size_t r = 1; r < records.size(); ++r) {
    const auto& rec = records[r];
    const std::string where = path + ":" + std::to_string(rec.line);
    if (rec.fields.size() != header.size())
      throw Error(where + ": " + std::to_string(rec.fields.size()) + " fields, the header has " + std::to_string(header.size()));
    const fs::path image = rec.fields[image_col];
    const std::string file = (image.is_absolute() ? image : folder / image).string();
    if (!fs::is_regular_file(file)) {
      reject(out.source, options, where + ": no such image file " + file);
      continue;
    }
    if (options.need_captions && trimmed(rec.fields[caption_col]).empty()) {
      reject(out.source, options, where + ": empty caption");
      continue;
    }
    out.source.samples.push_back({file, -1, 0, 0});
    if (options.need_captions) out.source.captions.push_back(trimmed(rec.fields[caption_col]));
    out.labels.push_back(-1);
  }
  if (out.source.samples.empty()) throw Error(path + ": no rows with an image");
  return out;
}

}  // namespace selfsup::data
