// Image-caption datasets: the shared decoder's alpha handling, Flickr8k's CSV layouts and splits,
// the emoji packages (on a fake tree, and on the real data when setup-deps.sh fetched it).
#include "selfsup/core/error.h"
#include "selfsup/data/captions.h"
#include "selfsup/data/decode.h"
#include "selfsup/data/emoji.h"
#include "selfsup/data/source.h"
#include "run_cli.h"
#include "test_util.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <stb/stb_image_write.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>

namespace fs = std::filesystem;
using namespace selfsup::data;
using json = nlohmann::json;

using selfsup::test_util::contains;
using selfsup::test_util::error_message;
using selfsup::test_util::TempDir;

namespace {

// A fresh directory removed at scope exit.

// A w x h image of one colour (c = 1..4 components).
void write_png(const std::string& path, int w, int h, std::vector<uint8_t> pixel) {
  fs::create_directories(fs::path(path).parent_path());
  const int c = static_cast<int>(pixel.size());
  std::vector<uint8_t> data;
  for (int i = 0; i < w * h; ++i) data.insert(data.end(), pixel.begin(), pixel.end());
  ASSERT_TRUE(stbi_write_png(path.c_str(), w, h, c, data.data(), w * c)) << path;
}

std::vector<int64_t> to_vector(const torch::Tensor& t) {
  auto c = t.contiguous();
  return {c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel()};
}

// The captions whose group is `group`, in order.
std::vector<std::string> captions_of(const CaptionDataset& ds, int64_t group) {
  std::vector<std::string> out;
  const auto groups = to_vector(ds.caption_group);
  for (size_t j = 0; j < groups.size(); ++j)
    if (groups[j] == group) out.push_back(ds.captions[j]);
  return out;
}

// The group of the caption `text` (-1 when absent).
int64_t group_of_caption(const CaptionDataset& ds, const std::string& text) {
  const auto it = std::find(ds.captions.begin(), ds.captions.end(), text);
  return it == ds.captions.end() ? -1 : ds.caption_group[it - ds.captions.begin()].item<int64_t>();
}

}  // namespace

// ---------------------------------------------------------------- shared decoder

TEST(CaptionDecode, CompositesAlphaOntoWhite) {
  TempDir dir;
  write_png(dir / "clear.png", 4, 4, {255, 0, 0, 0});      // invisible red
  write_png(dir / "opaque.png", 4, 4, {0, 0, 255, 255});   // blue
  write_png(dir / "half.png", 4, 4, {0, 0, 0, 128});       // half-transparent black
  write_png(dir / "gray_alpha.png", 4, 4, {0, 0});         // invisible black, gray+alpha
  auto rgb = decode_images({dir / "clear.png", dir / "opaque.png", dir / "half.png"}, 0, 0);
  EXPECT_EQ(rgb.sizes(), (std::vector<int64_t>{3, 3, 4, 4}));  // RGBA -> 3 channels
  EXPECT_TRUE(rgb[0].equal(torch::full({3, 4, 4}, 255, torch::kUInt8)));
  EXPECT_TRUE(rgb[1][2].equal(torch::full({4, 4}, 255, torch::kUInt8)));
  EXPECT_EQ(rgb[1][0].max().item<int>(), 0);
  // (0 * 128 + 255 * 127 + 127) / 255
  EXPECT_TRUE(rgb[2].equal(torch::full({3, 4, 4}, 127, torch::kUInt8)));

  auto gray = decode_images({dir / "gray_alpha.png", dir / "clear.png"}, 2, 0);
  EXPECT_EQ(gray.sizes(), (std::vector<int64_t>{2, 1, 2, 2}));  // gray+alpha first -> 1 channel
  EXPECT_TRUE(gray.eq(255).all().item<bool>());                  // resized after compositing

  EXPECT_TRUE(decode_image(dir / "opaque.png", 8, 3).equal(
      decode_images({dir / "opaque.png"}, 8, 3)[0]));
  EXPECT_EQ(decode_images({}, 8, 3).sizes(), (std::vector<int64_t>{0, 3, 8, 8}));
}

TEST(CaptionDecode, FirstFailingFileInListOrderIsNamed) {
  TempDir dir;
  write_png(dir / "ok.png", 4, 4, {1, 2, 3});
  test_util::write_text_file(dir / "bad1.png", "not a png");
  test_util::write_text_file(dir / "bad2.png", "not a png either");
  std::vector<std::string> paths{dir / "ok.png"};
  for (int i = 0; i < 40; ++i) paths.push_back(dir / "ok.png");
  paths.push_back(dir / "bad1.png");
  paths.push_back(dir / "bad2.png");
  for (int64_t threads : {1, 2, 4}) {
    auto msg = error_message([&] { decode_images(paths, 0, 0, threads); });
    EXPECT_TRUE(contains(msg, dir / "bad1.png: cannot decode image: ")) << msg;
  }
  auto msg = error_message([&] { decode_images({dir / "missing.png"}, 4, 3); });
  EXPECT_TRUE(contains(msg, dir / "missing.png: cannot decode image")) << msg;
  EXPECT_TRUE(is_image_file("a/B.JPEG") && is_image_file("x.png") && !is_image_file("x.txt"));
}

// ---------------------------------------------------------------- Flickr8k

namespace {

// Five photos of different sizes and two captions each (the real set has five), with the
// awkward CSV cases: a quoted caption with commas, "" escapes, CRLF line ends, a blank line.
struct FlickrTree {
  TempDir dir;
  std::string root;
  std::vector<std::string> names{"a.jpg", "b.jpg", "c.jpg", "d.jpg", "e.jpg"};
  explicit FlickrTree(const std::string& image_dir = "Images") {
    root = dir / "flickr8k";
    for (size_t i = 0; i < names.size(); ++i) {
      fs::create_directories(root + "/" + image_dir);
      std::vector<uint8_t> rgb(static_cast<size_t>(6 + i) * 8 * 3, static_cast<uint8_t>(40 * i));
      const auto path = root + "/" + image_dir + "/" + names[i];
      stbi_write_jpg(path.c_str(), 8, static_cast<int>(6 + i), 3, rgb.data(), 95);
    }
  }
  void write_txt() {
    test_util::write_text_file(root + "/captions.txt",
               "image,caption\r\n"
               "a.jpg,A child climbs stairs .\r\n"
               "a.jpg,\"A girl, in pink, climbs .\"\r\n"
               "b.jpg,A dog says \"woof\" .\r\n"
               "b.jpg,\"A dog says \"\"woof\"\", loudly .\"\r\n"
               "c.jpg,A man rides a bike .\r\n"
               "\r\n"
               "c.jpg,Cyclist on a road .\r\n"
               "d.jpg,Two cats sleep .\r\n"
               "d.jpg,Cats on a sofa .\r\n"
               "e.jpg,A red car .\r\n"
               "e.jpg,A car parked outside .\r\n");
  }
};

}  // namespace

TEST(Flickr8k, CaptionsTxtWithQuotesAndSeededSplit) {
  FlickrTree tree;
  tree.write_txt();
  auto train = load_flickr8k(tree.root, "train", 16);
  auto val = load_flickr8k(tree.root, "val", 16);
  // 5 images: 5 / 5 = 1 goes to validation, like the seed's int(0.2 * n).
  EXPECT_EQ(train.num_images(), 4);
  EXPECT_EQ(val.num_images(), 1);
  EXPECT_EQ(train.num_captions(), 8);
  EXPECT_EQ(val.num_captions(), 2);
  EXPECT_EQ(train.images.images.sizes(), (std::vector<int64_t>{4, 3, 16, 16}));
  EXPECT_TRUE(train.images.labels.eq(-1).all().item<bool>());
  EXPECT_TRUE(train.images.class_names.empty());

  // Content id = position of the image in captions.txt; the two splits partition them.
  std::set<int64_t> ids;
  for (auto g : to_vector(train.image_group)) ids.insert(g);
  for (auto g : to_vector(val.image_group)) ids.insert(g);
  EXPECT_EQ(ids, (std::set<int64_t>{0, 1, 2, 3, 4}));
  for (const auto* ds : {&train, &val}) {
    for (int64_t i = 0; i < ds->num_images(); ++i) {
      const auto id = ds->image_group[i].item<int64_t>();
      EXPECT_EQ(fs::path(ds->paths[i]).filename().string(), tree.names[id]);
      EXPECT_EQ(captions_of(*ds, id).size(), 2u);
    }
    EXPECT_TRUE(ds->positives().any(1).all().item<bool>());
  }
  std::vector<std::string> all = train.captions;
  all.insert(all.end(), val.captions.begin(), val.captions.end());
  auto has = [&](const std::string& c) { return std::find(all.begin(), all.end(), c) != all.end(); };
  EXPECT_TRUE(has("A girl, in pink, climbs ."));
  EXPECT_TRUE(has("A dog says \"woof\" ."));  // a bare quote in an unquoted field stays literal
  EXPECT_TRUE(has("A dog says \"woof\", loudly ."));
  EXPECT_TRUE(has("Cyclist on a road ."));  // after the blank line

  // Deterministic: the same split again.
  auto again = load_flickr8k(tree.root, "val", 16);
  EXPECT_TRUE(again.image_group.equal(val.image_group));
  EXPECT_TRUE(again.images.images.equal(val.images.images));
}

TEST(Flickr8k, SeedsCsvVariantLowercaseImagesAndKarpathySplits) {
  FlickrTree tree("images");
  test_util::write_text_file(tree.root + "/captions.csv",
             "image,caption,id\n"
             "a.jpg,\"A child, climbing .\",0\n"
             "b.jpg,A dog .,1\n"
             "c.jpg,A bike .,2\n"
             "d.jpg,Cats .,3\n"
             "e.jpg,A car .,4\n");
  test_util::write_text_file(tree.root + "/Flickr_8k.trainImages.txt", "a.jpg\nc.jpg\ne.jpg\n");
  test_util::write_text_file(tree.root + "/Flickr_8k.devImages.txt", "b.jpg\n");
  test_util::write_text_file(tree.root + "/Flickr_8k.testImages.txt", "d.jpg\n\n");
  auto train = load_flickr8k(tree.root, "train", 8);
  auto val = load_flickr8k(tree.root, "val", 8);
  auto test = load_flickr8k(tree.root, "test", 8);
  EXPECT_EQ(to_vector(train.image_group), (std::vector<int64_t>{0, 2, 4}));
  EXPECT_EQ(to_vector(val.image_group), (std::vector<int64_t>{1}));
  EXPECT_EQ(to_vector(test.image_group), (std::vector<int64_t>{3}));
  EXPECT_EQ(train.captions, (std::vector<std::string>{"A child, climbing .", "A bike .", "A car ."}));
  EXPECT_TRUE(train.caption_group.equal(train.image_group));
  EXPECT_EQ(test.captions, (std::vector<std::string>{"Cats ."}));
  EXPECT_TRUE(contains(test.paths[0], "/images/d.jpg")) << test.paths[0];
}

TEST(Flickr8k, ErrorsNameFileAndLine) {
  FlickrTree tree;
  auto msg = error_message([&] { load_flickr8k(tree.root, "train", 8); });
  EXPECT_TRUE(contains(msg, tree.root + "/captions.txt: not found")) << msg;

  auto with = [&](const std::string& text) {
    test_util::write_text_file(tree.root + "/captions.txt", text);
    return error_message([&] { load_flickr8k(tree.root, "train", 8); });
  };
  msg = with("image,caption\na.jpg,ok .\nb.jpg,too,many\n");
  EXPECT_TRUE(contains(msg, tree.root + "/captions.txt:3: expected `image,caption` (2 fields), got 3"))
      << msg;
  msg = with("image,caption\na.jpg,ok .\n\nb.jpg,  \n");
  EXPECT_TRUE(contains(msg, tree.root + "/captions.txt:4: expected `image,caption`, got an empty caption"))
      << msg;
  msg = with("image,caption,id\na.jpg,ok .\n");
  EXPECT_TRUE(contains(msg, "captions.txt:2: expected `image,caption,id` (3 fields), got 2")) << msg;
  msg = with("file,text\na.jpg,ok .\n");
  EXPECT_TRUE(contains(msg, "captions.txt:1: expected the header `image,caption`")) << msg;
  msg = with("image,caption\na.jpg,\"ok .\nb.jpg,never closed .\n");
  EXPECT_TRUE(contains(msg, "captions.txt:2: unterminated quoted field")) << msg;
  msg = with("image,caption\na.jpg,ok .\nb.jpg,fine .\nzzz.jpg,gone .\n");
  EXPECT_TRUE(contains(msg, tree.root + "/captions.txt:4: image 'zzz.jpg' not found in " + tree.root +
                                "/Images"))
      << msg;

  tree.write_txt();
  msg = error_message([&] { load_flickr8k(tree.root, "test", 8); });
  EXPECT_TRUE(contains(msg, "no Flickr_8k.testImages.txt")) << msg;
  msg = error_message([&] { load_flickr8k(tree.root, "dev", 8); });
  EXPECT_TRUE(contains(msg, "split 'dev': expected train, val or test")) << msg;
  test_util::write_text_file(tree.root + "/Flickr_8k.trainImages.txt", "a.jpg\nnope.jpg\n");
  msg = error_message([&] { load_flickr8k(tree.root, "train", 8); });
  EXPECT_TRUE(contains(msg, "Flickr_8k.trainImages.txt:2: image 'nope.jpg' has no captions")) << msg;
  msg = error_message([&] { load_flickr8k(tree.root, "val", 8); });
  EXPECT_TRUE(contains(msg, "Flickr_8k.devImages.txt: not found")) << msg;
}

// ---------------------------------------------------------------- emoji (fake packages)

namespace {

// Two artists; five emoji: a face, a hand with three skin variations (one multi-tone, one
// missing from emojibase, one google lacks), a heart google lacks and whose emojibase hexcode
// has no FE0F, and the cat / cat face pair that share the short name "cat".
struct EmojiTree {
  TempDir dir;
  std::string root;
  EmojiTree() {
    root = dir / "emoji";
    auto img = [](bool apple, bool google) {
      return json{{"has_img_apple", apple}, {"has_img_google", google}};
    };
    auto entry = [&](const std::string& name, const std::string& unified,
                     std::vector<std::string> short_names, const std::string& category, bool apple,
                     bool google) {
      json e{{"name", name},       {"unified", unified},       {"non_qualified", nullptr},
             {"image", lower(unified) + ".png"}, {"short_name", short_names[0]},
             {"short_names", short_names},       {"category", category}, {"subcategory", "x"}};
      e.update(img(apple, google));
      return e;
    };
    json emoji = json::array();
    emoji.push_back(entry("GRINNING FACE", "1F600", {"grinning"}, "Smileys & Emotion", true, true));
    auto wave = entry("WAVING HAND SIGN", "1F44B", {"wave"}, "People & Body", true, true);
    auto variant = [&](const std::string& unified, bool apple, bool google) {
      json v{{"unified", unified}, {"image", lower(unified) + ".png"}};
      v.update(img(apple, google));
      return v;
    };
    wave["skin_variations"] = {{"1F3FE", variant("1F44B-1F3FE", true, false)},
                               {"1F3FB", variant("1F44B-1F3FB", true, true)},
                               {"1F3FB-1F3FC", variant("1F44B-1F3FB-1F3FC", true, true)}};
    emoji.push_back(wave);
    auto heart = entry("HEAVY BLACK HEART", "2764-FE0F", {"heart"}, "Smileys & Emotion", true, false);
    heart["non_qualified"] = "2764";
    emoji.push_back(heart);
    emoji.push_back(entry("CAT", "1F408", {"cat2", "cat"}, "Animals & Nature", true, true));
    emoji.push_back(entry("CAT FACE", "1F431", {"cat_face", "cat"}, "Animals & Nature", true, true));

    json base = json::array();
    base.push_back({{"label", "grinning face"}, {"hexcode", "1F600"}, {"tags", {"face", "grin", "smile"}}});
    base.push_back({{"label", "waving hand"},
                    {"hexcode", "1F44B"},
                    {"tags", {"hand", "wave"}},
                    {"skins",
                     {{{"label", "waving hand: light skin tone"}, {"hexcode", "1F44B-1F3FB"}, {"tone", 1}},
                      {{"label", "waving hand: light skin tone, medium-light skin tone"},
                       {"hexcode", "1f44b-1f3fb-1f3fc"},
                       {"tone", {1, 2}}}}}});
    base.push_back({{"label", "red heart"}, {"hexcode", "2764"}, {"tags", json::array({"love"})}});
    base.push_back({{"label", "cat"}, {"hexcode", "1F408"}, {"tags", json::array({"pet"})}});
    base.push_back({{"label", "cat face"}, {"hexcode", "1F431"}, {"tags", json::array({"pet"})}});
    base.push_back({{"label", "regional indicator A"}, {"hexcode", "1F1E6"}, {"tags", nullptr}});

    for (const std::string artist : {"apple", "google"}) {
      const auto pkg = root + "/emoji-datasource-" + artist;
      test_util::write_text_file(pkg + "/emoji.json", emoji.dump());
      const uint8_t shade = artist == "apple" ? 200 : 100;
      auto draw = [&](const json& e, int index) {
        if (!e.at("has_img_" + artist).get<bool>()) return;
        const auto path = pkg + "/img/" + artist + "/64/" + e["image"].get<std::string>();
        // The heart is transparent: it must come out white.
        const uint8_t alpha = e["image"] == "2764-fe0f.png" ? 0 : 255;
        write_png(path, 64, 64, {shade, static_cast<uint8_t>(index * 20), 0, alpha});
      };
      int index = 0;
      for (const auto& e : emoji) {
        draw(e, index++);
        if (e.contains("skin_variations"))
          for (const auto& [key, v] : e["skin_variations"].items()) draw(v, index++);
      }
    }
    test_util::write_text_file(root + "/emojibase-data/en/data.json", base.dump());
  }
  static std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
    return s;
  }
};

// Content ids in emoji.json order, variants by sorted key.
enum : int64_t { kGrin, kWave, kWaveLight, kWaveLightMediumLight, kWaveMediumDark, kHeart, kCat, kCatFace };

}  // namespace

TEST(Emoji, CaptionsGroupsAndCategories) {
  EmojiTree tree;
  auto ds = load_emoji(tree.root, {"apple", "google"}, 32, true);
  // apple draws all 8; google lacks the medium-dark hand and the heart.
  EXPECT_EQ(ds.num_images(), 14);
  EXPECT_EQ(ds.images.images.sizes(), (std::vector<int64_t>{14, 3, 32, 32}));
  EXPECT_EQ(to_vector(ds.image_group),
            (std::vector<int64_t>{kGrin, kWave, kWaveLight, kWaveLightMediumLight, kWaveMediumDark,
                                  kHeart, kCat, kCatFace, kGrin, kWave, kWaveLight,
                                  kWaveLightMediumLight, kCat, kCatFace}));
  EXPECT_TRUE(contains(ds.paths[5], "/emoji-datasource-apple/img/apple/64/2764-fe0f.png")) << ds.paths[5];
  EXPECT_TRUE(contains(ds.paths[8], "/emoji-datasource-google/img/google/64/1f600.png")) << ds.paths[8];
  EXPECT_EQ(ds.images.class_names,
            (std::vector<std::string>{"Animals & Nature", "People & Body", "Smileys & Emotion"}));
  EXPECT_EQ(to_vector(ds.images.labels), (std::vector<int64_t>{2, 1, 1, 1, 1, 2, 0, 0, 2, 1, 1, 1, 0, 0}));
  EXPECT_EQ(ds.num_groups(), 8);

  // Name and label coincide for the face: said once, lower-cased.
  EXPECT_EQ(captions_of(ds, kGrin),
            (std::vector<std::string>{"grinning face", "grinning", "face, grin, smile"}));
  EXPECT_EQ(captions_of(ds, kWave),
            (std::vector<std::string>{"waving hand sign", "waving hand", "wave", "hand, wave"}));
  EXPECT_EQ(captions_of(ds, kWaveLight),
            (std::vector<std::string>{"waving hand: light skin tone", "waving hand sign: light skin tone",
                                      "wave: light skin tone", "hand, wave, light skin tone"}));
  EXPECT_EQ(captions_of(ds, kWaveLightMediumLight),
            (std::vector<std::string>{"waving hand: light skin tone, medium-light skin tone",
                                      "waving hand sign: light skin tone, medium-light skin tone",
                                      "wave: light skin tone, medium-light skin tone",
                                      "hand, wave, light skin tone, medium-light skin tone"}));
  // Not in emojibase: built from the base's label.
  EXPECT_EQ(captions_of(ds, kWaveMediumDark),
            (std::vector<std::string>{"waving hand sign: medium-dark skin tone",
                                      "waving hand: medium-dark skin tone",
                                      "wave: medium-dark skin tone",
                                      "hand, wave, medium-dark skin tone"}));
  // Matched to emojibase's "2764" despite emoji.json's FE0F.
  EXPECT_EQ(captions_of(ds, kHeart), (std::vector<std::string>{"heavy black heart", "red heart", "heart", "love"}));
  // "cat" names the cat; the cat face only had it as a short name. "pet" was both cats' tags.
  EXPECT_EQ(captions_of(ds, kCat), (std::vector<std::string>{"cat", "cat2"}));
  EXPECT_EQ(captions_of(ds, kCatFace), (std::vector<std::string>{"cat face"}));

  // Positives follow the groups: the apple and google faces both match "grinning face".
  const auto pos = ds.positives();
  const auto j = std::find(ds.captions.begin(), ds.captions.end(), "grinning face") - ds.captions.begin();
  EXPECT_EQ(to_vector(pos.select(1, j).nonzero().flatten()), (std::vector<int64_t>{0, 8}));

  // The transparent heart is white; the opaque face keeps its colour.
  EXPECT_TRUE(ds.images.images[5].eq(255).all().item<bool>());
  auto native = load_emoji(tree.root, {"apple"}, 0, true);
  EXPECT_EQ(native.images.images.sizes(), (std::vector<int64_t>{8, 3, 64, 64}));
  EXPECT_TRUE(native.images.images[0][0].eq(200).all().item<bool>());
}

// data.dataset: emoji for the image-only methods (CMC): the drawings labelled by category, the
// training artists for training, the held-out ones for evaluation, subsets as for any dataset.
TEST(Emoji, AsAnImageDatasetLabelledByCategory) {
  EmojiTree tree;
  DataConfig c;
  c.dataset = "emoji";
  c.root = tree.root;
  c.artists = {"apple"};
  c.test_artists = {"google"};
  c.image_size = 16;
  const auto train = load_dataset(c, true), test = load_dataset(c, false);
  EXPECT_EQ(train.images.sizes(), (std::vector<int64_t>{8, 3, 16, 16}));
  EXPECT_EQ(to_vector(train.labels), (std::vector<int64_t>{2, 1, 1, 1, 1, 2, 0, 0}));
  EXPECT_EQ(to_vector(test.labels), (std::vector<int64_t>{2, 1, 1, 1, 0, 0}));
  EXPECT_EQ(train.class_names, (std::vector<std::string>{"Animals & Nature", "People & Body", "Smileys & Emotion"}));
  c.subset = 3;
  EXPECT_EQ(to_vector(load_dataset(c, true).labels), (std::vector<int64_t>{2, 1, 1}));
}

TEST(Emoji, ArtistFilteringAndSkinToneToggleKeepIds) {
  EmojiTree tree;
  auto google = load_emoji(tree.root, {"google"}, 16, true);
  EXPECT_EQ(to_vector(google.image_group),
            (std::vector<int64_t>{kGrin, kWave, kWaveLight, kWaveLightMediumLight, kCat, kCatFace}));
  // No google heart: its captions are not listed either.
  EXPECT_EQ(group_of_caption(google, "red heart"), -1);
  EXPECT_EQ(group_of_caption(google, "waving hand: medium-dark skin tone"), -1);
  EXPECT_EQ(group_of_caption(google, "wave"), kWave);
  EXPECT_TRUE(google.images.images[0][0].eq(100).all().item<bool>());

  auto plain = load_emoji(tree.root, {"google", "apple"}, 16, false);
  EXPECT_EQ(to_vector(plain.image_group),
            (std::vector<int64_t>{kGrin, kWave, kCat, kCatFace, kGrin, kWave, kHeart, kCat, kCatFace}));
  EXPECT_EQ(group_of_caption(plain, "red heart"), kHeart);
  for (const auto& c : plain.captions) EXPECT_FALSE(contains(c, "skin tone")) << c;
  EXPECT_TRUE(contains(plain.source, "google, apple")) << plain.source;
}

TEST(Emoji, LabelsBaseEmojiAndUnseenNames) {
  EmojiTree tree;
  const auto apple = load_emoji(tree.root, {"apple"}, 16, true);
  EXPECT_EQ(apple.image_label,
            (std::vector<std::string>{"grinning face", "waving hand", "waving hand: light skin tone",
                                      "waving hand: light skin tone, medium-light skin tone",
                                      "waving hand: medium-dark skin tone",  // not in emojibase: built from the base's
                                      "red heart", "cat", "cat face"}));
  EXPECT_EQ(to_vector(apple.image_base_group), (std::vector<int64_t>{kGrin, kWave, kWave, kWave, kWave, kHeart, kCat, kCatFace}));
  EXPECT_FALSE(apple.image_unseen.any().item<bool>());

  // Half the emoji held out: a fixed choice, whole emoji with their tones, gone from training
  // (images and captions), kept and marked in the evaluation split.
  const auto train = load_emoji(tree.root, {"apple"}, 16, true, 0.5, true);
  const auto test = load_emoji(tree.root, {"apple"}, 16, true, 0.5, false);
  EXPECT_EQ(test.image_label, apple.image_label);
  const auto unseen = to_vector(test.image_base_group.masked_select(test.image_unseen));
  const auto seen = to_vector(test.image_base_group.masked_select(~test.image_unseen));
  ASSERT_FALSE(unseen.empty());  // 5 emoji at 0.5: the hash holds out some, not all
  ASSERT_FALSE(seen.empty());
  for (const auto base : unseen) EXPECT_EQ(std::count(seen.begin(), seen.end(), base), 0) << base;  // tones go together
  EXPECT_EQ(to_vector(train.image_base_group), seen);  // (and validate() found a training image for every caption)
  EXPECT_TRUE(torch::equal(load_emoji(tree.root, {"apple"}, 16, true, 0.5, false).image_unseen, test.image_unseen));
  EXPECT_TRUE(contains(error_message([&] { load_emoji(tree.root, {"apple"}, 16, true, 1.0, true); }), "expected a fraction in [0, 1)"));
}

// A tiny CLIP trained on the fake packages reports the label protocol, with the held-out emoji.
TEST(ClipCli, EmojiRunReportsTheLabelProtocol) {  // ClipCli: the sanitizer build skips it (sentencepiece is dlopened with RTLD_DEEPBIND)
  EmojiTree tree;
  const auto runs = test_util::tmp_dir("emoji_runs");
  const auto r = run_cli("train " + std::string(SELFSUP_SOURCE_DIR) + "/recipes/clip_tiny_test.yaml data.dataset=emoji data.root=" +
                         tree.root + " \"data.artists=[apple]\" \"data.test_artists=[google]\" data.unseen_names=0.5 "
                         "train.epochs=2 train.batch_size=2 eval.baselines=true run_dir=" + runs);
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "label protocol (6 labels as queries), R@1/5/10: text->image")) << r.output;
  EXPECT_TRUE(contains(r.output, "R@1 counting any skin tone: text->image")) << r.output;
  EXPECT_TRUE(contains(r.output, "emoji unseen in training (")) << r.output;
  EXPECT_TRUE(contains(r.output, "raw pixels (each label = its training images, best match): text->image")) << r.output;
  std::ifstream in(runs + "/clip_tiny_test/metrics.json");
  const auto label = nlohmann::json::parse(in)["eval"]["label_protocol"];
  EXPECT_EQ(label["text_to_image"]["queries"], 6);  // google's 6 images, each its own label
  EXPECT_EQ(label["text_to_image"]["r5"].get<double>() <= label["text_to_image"]["r10"].get<double>(), true);
  EXPECT_EQ(label["text_to_image"]["r10"], 1.0);  // 6 candidates: always within 10
  EXPECT_GE(label["any_tone_r1"]["text_to_image"].get<double>(), label["text_to_image"]["r1"].get<double>());
  EXPECT_EQ(label["raw_pixels"]["text_to_image"]["queries"], 6);
  fs::remove_all(runs);
}

TEST(Emoji, Errors) {
  EmojiTree tree;
  auto msg = error_message([&] { load_emoji(tree.root, {"twitter"}, 32, true); });
  EXPECT_TRUE(contains(msg, tree.root + "/emoji-datasource-twitter/emoji.json: not found: run scripts/setup-deps.sh"))
      << msg;
  msg = error_message([&] { load_emoji(tree.root, {"apple", "twitter"}, 32, true); });
  EXPECT_TRUE(contains(msg, tree.root + "/emoji-datasource-twitter/img/twitter/64: no such directory")) << msg;
  msg = error_message([&] { load_emoji(tree.root, {}, 32, true); });
  EXPECT_TRUE(contains(msg, "no artists")) << msg;
  msg = error_message([&] { load_emoji(tree.root, {"apple", "apple"}, 32, true); });
  EXPECT_TRUE(contains(msg, "'apple' is listed twice")) << msg;

  fs::remove(tree.root + "/emoji-datasource-apple/img/apple/64/1f408.png");
  msg = error_message([&] { load_emoji(tree.root, {"apple"}, 32, true); });
  EXPECT_TRUE(contains(msg, "/img/apple/64/1f408.png: cannot decode image")) << msg;

  test_util::write_text_file(tree.root + "/emojibase-data/en/data.json", "[{\"label\": ");
  msg = error_message([&] { load_emoji(tree.root, {"google"}, 32, true); });
  EXPECT_TRUE(contains(msg, tree.root + "/emojibase-data/en/data.json: malformed JSON")) << msg;
  test_util::write_text_file(tree.root + "/emojibase-data/en/data.json", "[]");
  test_util::write_text_file(tree.root + "/emoji-datasource-google/emoji.json", "[{\"name\": \"X\"}]");
  msg = error_message([&] { load_emoji(tree.root, {"google"}, 32, true); });
  EXPECT_TRUE(contains(msg, tree.root + "/emoji-datasource-google/emoji.json: unexpected layout")) << msg;
}

// ---------------------------------------------------------------- emoji (real packages)

TEST(Emoji, RealPackagesWhenInstalled) {
  const auto root = default_emoji_root();
  for (const auto& a : emoji_artists())
    if (!fs::exists(root + "/emoji-datasource-" + a + "/emoji.json"))
      GTEST_SKIP() << root << ": emoji packages not installed (scripts/setup-deps.sh)";
  const auto start = std::chrono::steady_clock::now();
  auto ds = load_emoji(root, emoji_artists(), 32, true);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << "[ emoji    ] " << ds.num_images() << " images, " << ds.num_captions() << " captions, "
            << ds.num_groups() << " contents, " << ds.images.num_classes() << " categories in "
            << seconds << " s\n";
  ds.validate();  // every image has a caption and every caption an image

  // Per artist: thousands of images; the same file is the same content for every artist.
  std::map<std::string, std::map<std::string, int64_t>> group_by_file;  // artist -> file -> group
  for (int64_t i = 0; i < ds.num_images(); ++i) {
    const fs::path p(ds.paths[i]);
    group_by_file[p.parent_path().parent_path().filename().string()][p.filename().string()] =
        ds.image_group[i].item<int64_t>();
  }
  ASSERT_EQ(group_by_file.size(), 4u);
  for (const auto& [artist, files] : group_by_file) {
    EXPECT_GT(files.size(), 3000u) << artist;
    for (const auto& [file, group] : files) {
      const auto& apple = group_by_file["apple"];
      if (apple.count(file)) EXPECT_EQ(apple.at(file), group) << artist << " " << file;
    }
  }
  const auto heart = group_of_caption(ds, "red heart");
  ASSERT_NE(heart, -1);
  EXPECT_EQ(group_by_file["twitter"]["2764-fe0f.png"], heart);
  EXPECT_NE(group_of_caption(ds, "waving hand: medium-dark skin tone"), -1);
  EXPECT_NE(group_of_caption(ds, "grinning face"), -1);
  EXPECT_EQ(ds.images.class_names.front(), "Activities");
  EXPECT_EQ(ds.images.images.sizes(), (std::vector<int64_t>{ds.num_images(), 3, 32, 32}));
}
