#include "selfsup/data/emoji.h"

#include "selfsup/core/error.h"
#include "selfsup/data/decode.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <unordered_map>

namespace selfsup::data {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

// ASCII plus the Latin-1 capitals (UTF-8 C3 80..9E, not the multiplication sign C3 97): enough
// for the packages' English text ("flag: Åland Islands") without a Unicode library.
std::string lower_utf8(std::string s) {
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 'A' && c <= 'Z') {
      s[i] = static_cast<char>(c + 32);
    } else if (c == 0xC3 && i + 1 < s.size()) {
      const auto d = static_cast<unsigned char>(s[i + 1]);
      if (d >= 0x80 && d <= 0x9E && d != 0x97) s[i + 1] = static_cast<char>(d + 0x20);
      ++i;
    }
  }
  return s;
}

// Code points as both packages write them ("2764-FE0F", "1f44b"), upper-cased and without the
// FE0F variation selector, which the two packages do not place consistently.
std::string code_key(const std::string& hex) {
  std::string out, part;
  auto flush = [&] {
    if (!part.empty() && part != "FE0F") out += (out.empty() ? "" : "-") + part;
    part.clear();
  };
  for (char c : hex) {
    if (c == '-') {
      flush();
    } else {
      part += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
  }
  flush();
  return out;
}

json read_json(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw Error(path + ": not found: run scripts/setup-deps.sh (or scripts/fetch-emoji.sh) to "
                       "fetch the emoji packages");
  try {
    return json::parse(in);
  } catch (const json::exception& e) {
    throw Error(path + ": malformed JSON: " + e.what());
  }
}

std::string tone_name(const std::string& modifier) {
  static const std::map<std::string, std::string> names{{"1F3FB", "light skin tone"},
                                                        {"1F3FC", "medium-light skin tone"},
                                                        {"1F3FD", "medium skin tone"},
                                                        {"1F3FE", "medium-dark skin tone"},
                                                        {"1F3FF", "dark skin tone"}};
  const auto it = names.find(modifier);
  return it == names.end() ? "" : it->second;
}

// "1F3FB-1F3FC" -> "light skin tone, medium-light skin tone"; a repeated tone is said once, as in
// Unicode's "people holding hands: light skin tone".
std::string tones_text(const std::string& key, const std::string& where) {
  std::vector<std::string> said;
  size_t start = 0;
  while (start <= key.size()) {
    const auto end = std::min(key.find('-', start), key.size());
    const auto name = tone_name(code_key(key.substr(start, end - start)));
    if (name.empty())
      throw Error(where + ": skin variation '" + key + "': expected modifiers 1F3FB..1F3FF");
    if (std::find(said.begin(), said.end(), name) == said.end()) said.push_back(name);
    start = end + 1;
  }
  std::string out;
  for (const auto& s : said) out += (out.empty() ? "" : ", ") + s;
  return out;
}

// emojibase's label and tags for an entry or one of its skins, by code_key.
struct Emojibase {
  std::string label;
  std::vector<std::string> tags;
};

std::unordered_map<std::string, Emojibase> read_emojibase(const std::string& path) {
  const auto data = read_json(path);
  std::unordered_map<std::string, Emojibase> out;
  try {
    for (const auto& e : data) {
      Emojibase base{e.at("label").get<std::string>(), {}};
      if (e.contains("tags") && e["tags"].is_array()) base.tags = e["tags"].get<std::vector<std::string>>();
      out[code_key(e.at("hexcode").get<std::string>())] = base;
      if (e.contains("skins"))
        for (const auto& s : e["skins"])
          out[code_key(s.at("hexcode").get<std::string>())] = {s.at("label").get<std::string>(), {}};
    }
  } catch (const json::exception& e) {
    throw Error(path + ": unexpected layout (expected emojibase's data.json): " + e.what());
  }
  return out;
}

// Caption kinds, most specific first: when several contents would share a text, the one for
// which it is the most specific kind keeps it (the cat is "cat"; the cat face only has it as a
// short name).
enum Rank { kName = 0, kShortName = 1, kTags = 2 };

// One emoji or skin-tone variant: what the images show and the texts that describe it.
struct Content {
  std::string image;  // file name under img/<artist>/64
  std::map<std::string, bool> has_img;  // artist -> drawn
  int64_t category = -1;
  bool variant = false;
  int64_t base = 0;    // content id of the emoji itself (a variant's base; its own id otherwise)
  std::string label;   // plain emojibase label, lower-cased ("waving hand: medium skin tone")
  std::vector<std::pair<std::string, Rank>> captions;
};

void add_caption(Content& c, const std::string& text, Rank rank) {
  if (text.empty()) return;
  const auto lowered = lower_utf8(text);
  for (auto& [t, r] : c.captions)
    if (t == lowered) {
      r = std::min(r, rank);
      return;
    }
  c.captions.emplace_back(lowered, rank);
}

std::string nullable_string(const json& j, const char* key) {
  return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : "";
}

std::string join(const std::vector<std::string>& parts, const std::string& sep) {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : sep) + p;
  return out;
}

struct Catalog {
  std::vector<Content> contents;  // content id = index
  std::vector<std::string> categories;
};

// Every emoji and variant of emoji.json, whatever the artists, so content ids are stable.
Catalog read_catalog(const std::string& emoji_json, const std::string& emojibase_json) {
  const auto meta = read_json(emoji_json);
  const auto base_texts = read_emojibase(emojibase_json);
  auto lookup = [&](const json& e) -> const Emojibase* {
    for (const char* key : {"unified", "non_qualified"}) {
      const auto hex = nullable_string(e, key);
      if (hex.empty()) continue;
      const auto it = base_texts.find(code_key(hex));
      if (it != base_texts.end()) return &it->second;
    }
    return nullptr;
  };
  auto drawn = [](const json& e) {
    std::map<std::string, bool> out;
    for (const auto& [key, value] : e.items())
      if (key.rfind("has_img_", 0) == 0 && value.is_boolean()) out[key.substr(8)] = value.get<bool>();
    return out;
  };

  Catalog cat;
  std::set<std::string> categories;
  try {
    for (const auto& e : meta) categories.insert(e.at("category").get<std::string>());
    cat.categories.assign(categories.begin(), categories.end());
    for (const auto& e : meta) {
      const auto unified = e.at("unified").get<std::string>();
      const auto where = emoji_json + ": emoji " + unified;
      const auto category = std::lower_bound(cat.categories.begin(), cat.categories.end(),
                                             e.at("category").get<std::string>()) -
                            cat.categories.begin();
      const auto name = nullable_string(e, "name");
      std::vector<std::string> short_names;
      for (auto s : e.at("short_names").get<std::vector<std::string>>()) {
        std::replace(s.begin(), s.end(), '_', ' ');
        short_names.push_back(s);
      }
      const Emojibase* base = lookup(e);
      const std::string label = base ? base->label : "";
      const std::string tags = base ? join(base->tags, ", ") : "";

      Content c;
      c.image = e.at("image").get<std::string>();
      c.has_img = drawn(e);
      c.category = category;
      const auto base_id = static_cast<int64_t>(cat.contents.size());
      const auto base_label = lower_utf8(label.empty() ? name : label);
      c.base = base_id;
      c.label = base_label;
      add_caption(c, name, kName);
      add_caption(c, label, kName);
      for (const auto& s : short_names) add_caption(c, s, kShortName);
      add_caption(c, tags, kTags);
      cat.contents.push_back(std::move(c));

      if (!e.contains("skin_variations")) continue;
      for (const auto& [key, v] : e["skin_variations"].items()) {  // sorted by key
        const auto tones = tones_text(key, where);
        const auto suffix = ": " + tones;
        Content s;
        s.image = v.at("image").get<std::string>();
        s.has_img = drawn(v);
        s.category = category;
        s.variant = true;
        s.base = base_id;
        const Emojibase* own = lookup(v);
        s.label = own ? lower_utf8(own->label) : base_label + suffix;
        if (own) add_caption(s, own->label, kName);
        if (!name.empty()) add_caption(s, name + suffix, kName);
        if (!label.empty()) add_caption(s, label + suffix, kName);
        for (const auto& n : short_names) add_caption(s, n + suffix, kShortName);
        if (!tags.empty()) add_caption(s, tags + ", " + tones, kTags);
        cat.contents.push_back(std::move(s));
      }
    }
  } catch (const json::exception& e) {
    throw Error(emoji_json + ": unexpected layout (expected emoji-datasource's emoji.json): " +
                e.what());
  }

  // A text several contents share keeps only its most specific unique holder; else it is dropped
  // everywhere, so that a caption is a positive for exactly one content.
  std::unordered_map<std::string, std::vector<std::pair<Rank, size_t>>> holders;
  for (size_t id = 0; id < cat.contents.size(); ++id)
    for (const auto& [text, rank] : cat.contents[id].captions) holders[text].emplace_back(rank, id);
  for (size_t id = 0; id < cat.contents.size(); ++id) {
    auto& caps = cat.contents[id].captions;
    caps.erase(std::remove_if(caps.begin(), caps.end(),
                              [&](const auto& cap) {
                                const auto& h = holders[cap.first];
                                if (h.size() == 1) return false;
                                const auto best = std::min_element(h.begin(), h.end())->first;
                                size_t at_best = 0;
                                for (const auto& [r, other] : h) at_best += r == best;
                                return !(cap.second == best && at_best == 1);
                              }),
               caps.end());
  }
  return cat;
}

// Whether emoji `base` is among the `fraction` held out of training: a fixed hash of its content id
// (splitmix64), so the choice is the same in every run, split and artist list.
bool unseen_name(int64_t base, double fraction) {
  uint64_t z = static_cast<uint64_t>(base) + 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return static_cast<double>(z >> 11) * 0x1.0p-53 < fraction;
}

}  // namespace

std::string default_emoji_root() {
  const char* dir = std::getenv("SELFSUP_DATA_DIR");
  return (dir && *dir ? std::string(dir) : std::string("/usr/local/share/selfsup")) + "/emoji";
}

const std::vector<std::string>& emoji_artists() {
  static const std::vector<std::string> artists{"apple", "google", "twitter", "facebook"};
  return artists;
}

CaptionDataset load_emoji(const std::string& root, const std::vector<std::string>& artists,
                          int64_t image_size, bool include_skin_tones, double unseen_names, bool training) {
  if (!(unseen_names >= 0 && unseen_names < 1))
    throw Error(root + ": emoji unseen_names " + std::to_string(unseen_names) + ": expected a fraction in [0, 1)");
  if (artists.empty()) throw Error(root + ": emoji: no artists (expected some of apple, google, twitter, facebook)");
  if (image_size < 0) throw Error(root + ": emoji image_size " + std::to_string(image_size) + ": expected >= 0");
  for (size_t a = 0; a < artists.size(); ++a)
    if (std::find(artists.begin(), artists.begin() + a, artists[a]) != artists.begin() + a)
      throw Error(root + ": emoji artist '" + artists[a] + "' is listed twice");
  const auto package = [&](const std::string& artist) {
    return (fs::path(root) / ("emoji-datasource-" + artist)).string();
  };
  const auto emoji_json = package(artists.front()) + "/emoji.json";
  const auto catalog =
      read_catalog(emoji_json, (fs::path(root) / "emojibase-data" / "en" / "data.json").string());

  CaptionDataset ds;
  std::vector<int64_t> image_group, labels, base_group, unseen;
  std::vector<bool> shown(catalog.contents.size(), false);
  for (const auto& artist : artists) {
    const auto dir = package(artist) + "/img/" + artist + "/64";
    if (!fs::is_directory(dir))
      throw Error(dir + ": no such directory: run scripts/setup-deps.sh (artists: apple, google, "
                        "twitter, facebook)");
    if (!catalog.contents.empty() && !catalog.contents.front().has_img.count(artist))
      throw Error(emoji_json + ": no has_img_" + artist + " field: unknown artist '" + artist + "'");
    for (size_t id = 0; id < catalog.contents.size(); ++id) {
      const auto& c = catalog.contents[id];
      if (c.variant && !include_skin_tones) continue;
      const auto drawn = c.has_img.find(artist);
      if (drawn == c.has_img.end() || !drawn->second) continue;
      const bool held_out = unseen_names > 0 && unseen_name(c.base, unseen_names);
      if (held_out && training) continue;
      ds.paths.push_back(dir + "/" + c.image);
      ds.image_label.push_back(c.label);
      base_group.push_back(c.base);
      unseen.push_back(held_out);
      image_group.push_back(static_cast<int64_t>(id));
      labels.push_back(c.category);
      shown[id] = true;
    }
  }
  std::vector<int64_t> caption_group;
  for (size_t id = 0; id < catalog.contents.size(); ++id) {
    if (!shown[id]) continue;
    for (const auto& cap : catalog.contents[id].captions) {
      ds.captions.push_back(cap.first);
      caption_group.push_back(static_cast<int64_t>(id));
    }
  }

  ds.source = root + " (emoji: " + join(artists, ", ") + ")";
  ds.images.images = decode_images(ds.paths, image_size > 0 ? image_size : 64, 3);
  ds.images.labels = torch::tensor(labels, torch::kLong);
  ds.images.class_names = catalog.categories;
  ds.images.source = ds.source;
  ds.image_group = torch::tensor(image_group, torch::kLong);
  ds.caption_group = torch::tensor(caption_group, torch::kLong);
  ds.image_base_group = torch::tensor(base_group, torch::kLong);
  ds.image_unseen = torch::tensor(unseen, torch::kLong).ne(0);
  ds.validate();
  return ds;
}

}  // namespace selfsup::data
