// The streaming data path: crop boxes, the antialiased resize, libjpeg-turbo region decoding, tar
// shards, brace patterns, CSV lists, the streaming loader (determinism, resume, bad files) and a
// training run on each kind of streamed data.
#include <gtest/gtest.h>
#include <stb/stb_image_write.h>

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "selfsup/core/fs.h"
#include "selfsup/data/check.h"
#include "selfsup/data/crop.h"
#include "selfsup/data/encoded_image.h"
#include "selfsup/data/loader.h"
#include "selfsup/data/resize.h"
#include "selfsup/data/source.h"
#include "selfsup/data/stream.h"
#include "selfsup/io/tar.h"
#include "selfsup/models/state_dict.h"
#include "selfsup/ssl/registry.h"
#include "selfsup/train/checkpoint.h"
#include "selfsup/train/recipe.h"
#include "selfsup/train/trainer.h"
#include "test_util.h"

namespace selfsup {
namespace {

using test_util::contains;
using test_util::error_message;
using test_util::TempDir;

// A smooth colour picture (gradients and a disc) w x h, RGB interleaved: compresses like a photo.
std::vector<uint8_t> picture(int w, int h, int seed) {
  std::vector<uint8_t> rgb(static_cast<size_t>(w) * h * 3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const bool disc = std::hypot(x - w * 0.4, y - h * 0.6) < std::min(w, h) * 0.25;
      uint8_t* p = &rgb[(static_cast<size_t>(y) * w + x) * 3];
      p[0] = static_cast<uint8_t>(disc ? 230 : 255 * x / w);
      p[1] = static_cast<uint8_t>(disc ? 40 : 255 * y / h);
      p[2] = static_cast<uint8_t>((seed * 53 + x + y) % 256 / 2 + 64);
    }
  return rgb;
}

std::string encode_jpeg(const std::vector<uint8_t>& rgb, int w, int h, int quality = 95) {
  std::string out;
  stbi_write_jpg_to_func([](void* ctx, void* data, int size) { static_cast<std::string*>(ctx)->append(static_cast<char*>(data), size); },
                         &out, w, h, 3, rgb.data(), quality);
  return out;
}

std::string encode_png(const std::vector<uint8_t>& rgb, int w, int h) {
  std::string out;
  stbi_write_png_to_func([](void* ctx, void* data, int size) { static_cast<std::string*>(ctx)->append(static_cast<char*>(data), size); },
                         &out, w, h, 3, rgb.data(), w * 3);
  return out;
}

void write(const std::string& path, const std::string& bytes) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << bytes;
}

// C x H x W uint8 from interleaved H x W x C pixels.
torch::Tensor chw(const uint8_t* pixels, int64_t w, int64_t h, int64_t c) {
  return torch::from_blob(const_cast<uint8_t*>(pixels), {h, w, c}, torch::kUInt8).permute({2, 0, 1}).contiguous();
}

double mean_abs_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kFloat) - b.to(torch::kFloat)).abs().mean().item<double>();
}

torch::Tensor resize_reference(const data::Pixels& p, const data::CropBox& box, int64_t size, bool flip = false) {
  auto out = torch::empty({p.channels, size, size}, torch::kUInt8);
  data::resize_region({p.data.get(), p.width, p.height, p.channels, p.width * p.channels}, box, size, flip,
                      out.data_ptr<uint8_t>());
  return out;
}

TEST(CropBox, TorchvisionSemantics) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(7);
  data::CropSpec spec{224, 0.2, 1.0, 3.0 / 4, 4.0 / 3, 0.5};
  double area = 0;
  for (int i = 0; i < 2000; ++i) {
    const auto b = data::random_crop_box(500, 375, spec, gen);
    ASSERT_EQ(b.x, std::floor(b.x));  // whole pixels, inside the image
    ASSERT_EQ(b.w, std::floor(b.w));
    ASSERT_GE(b.x, 0);
    ASSERT_GE(b.y, 0);
    ASSERT_LE(b.x + b.w, 500);
    ASSERT_LE(b.y + b.h, 375);
    area += b.w * b.h / (500.0 * 375);
  }
  // torchvision's get_params gives a mean area of 0.4958 here (20,000 draws, torchvision 0.14): large
  // areas at extreme ratios do not fit a 4:3 image and are drawn again.
  EXPECT_NEAR(area / 2000, 0.496, 0.015);
  // No try can fit a ratio of 2..3 at the full area of a square: torchvision's centred fallback.
  data::CropSpec wide{64, 1.0, 1.0, 2.0, 3.0, 0};
  const auto b = data::random_crop_box(100, 100, wide, gen);
  EXPECT_EQ(b.w, 100);
  EXPECT_EQ(b.h, 50);
  EXPECT_EQ(b.x, 0);
  EXPECT_EQ(b.y, 25);
  const auto c = data::center_crop_box(400, 300, 0.875);
  EXPECT_DOUBLE_EQ(c.w, 262.5);
  EXPECT_DOUBLE_EQ(c.x, (400 - 262.5) / 2);
}

TEST(Resize, MatchesLibTorchAntialiasedBilinear) {
  const auto rgb = picture(97, 61, 1);
  const auto src = chw(rgb.data(), 97, 61, 3);
  for (int64_t size : {61, 24, 13}) {
    // A square box of the full height: torch's antialiased bilinear (PIL's filter) on that box.
    const data::CropBox box{18, 0, 61, 61};
    auto out = torch::empty({3, size, size}, torch::kUInt8);
    data::resize_region({rgb.data(), 97, 61, 3, 97 * 3}, box, size, false, out.data_ptr<uint8_t>());
    namespace F = torch::nn::functional;
    const auto ref = F::interpolate(src.slice(2, 18, 79).unsqueeze(0).to(torch::kFloat),
                                    F::InterpolateFuncOptions().size(std::vector<int64_t>{size, size}).mode(torch::kBilinear)
                                        .align_corners(false).antialias(true))
                         .squeeze(0).round().clamp(0, 255);
    const auto diff = (out.to(torch::kFloat) - ref).abs();
    EXPECT_LE(diff.max().item<double>(), 2.0) << size;
    EXPECT_LT(diff.mean().item<double>(), 0.1) << size;  // rounding: a wrong filter is off by several levels
    if (size == 61) EXPECT_TRUE(torch::equal(out, src.slice(2, 18, 79))) << "the identity resize must copy";
  }
  auto flipped = torch::empty({3, 24, 24}, torch::kUInt8), plain = flipped.clone();
  data::resize_region({rgb.data(), 97, 61, 3, 97 * 3}, {3, 5, 40, 40}, 24, true, flipped.data_ptr<uint8_t>());
  data::resize_region({rgb.data(), 97, 61, 3, 97 * 3}, {3, 5, 40, 40}, 24, false, plain.data_ptr<uint8_t>());
  EXPECT_TRUE(torch::equal(flipped, plain.flip(2)));
}

TEST(EncodedImage, LibjpegTurboMatchesStbAndCropsAsAFullDecode) {
  const int w = 320, h = 240;
  const auto jpeg = encode_jpeg(picture(w, h, 2), w, h);
  const data::EncodedImage image(jpeg, "pic.jpg", 3);
  ASSERT_EQ(image.width(), w);
  ASSERT_EQ(image.height(), h);
  const auto stb = image.decode_all();
  // Golden decode: libjpeg-turbo (a box of the whole image at its own size) against stb.
  const auto turbo = image.crop({0, 0, w, h}, h, false);  // a square output of the whole (4:3) picture
  const auto stb_same = resize_reference(stb, {0, 0, w, h}, h);
  EXPECT_LT(mean_abs_diff(turbo, stb_same), 1.5);
  // Crop on the original while decoding == decode everything, then crop: at DCT scale 1, 2, 4, 8.
  for (const auto& [box, size] : std::vector<std::pair<data::CropBox, int64_t>>{
           {{40, 30, 160, 120}, 100}, {{40, 30, 160, 120}, 64}, {{0, 0, 240, 240}, 48}, {{64, 16, 240, 200}, 24}}) {
    const auto decoded = image.crop(box, size, false);
    const auto reference = resize_reference(stb, box, size);
    EXPECT_LT(mean_abs_diff(decoded, reference), 2.0) << "box " << box.x << "," << box.y << " size " << size
                                                      << " (DCT 1/" << data::EncodedImage::dct_denominator(box, size) << ")";
  }
  EXPECT_EQ(data::EncodedImage::dct_denominator({0, 0, 240, 240}, 48), 4);
  EXPECT_EQ(data::EncodedImage::dct_denominator({0, 0, 100, 80}, 64), 1);
  EXPECT_TRUE(torch::equal(image.crop({10, 10, 100, 100}, 32, true), image.crop({10, 10, 100, 100}, 32, false).flip(2)));
  // Gray output from a colour JPEG: the luma.
  const data::EncodedImage gray(jpeg, "pic.jpg", 1);
  EXPECT_EQ(gray.crop({0, 0, 100, 100}, 20, false).size(0), 1);
}

TEST(EncodedImage, PngCropIsTheReferenceResizeExactly) {
  const auto rgb = picture(50, 40, 3);
  const data::EncodedImage png(encode_png(rgb, 50, 40), "pic.png", 3);
  const auto p = png.decode_all();
  EXPECT_TRUE(torch::equal(png.crop({5, 3, 30, 30}, 16, false), resize_reference(p, {5, 3, 30, 30}, 16)));
}

TEST(EncodedImage, BadBytesAreErrorsNamingTheFile) {
  const auto jpeg = encode_jpeg(picture(160, 120, 4), 160, 120);
  const data::EncodedImage cut(jpeg.substr(0, jpeg.size() / 2), "cut.jpg", 3);  // the header survives
  EXPECT_TRUE(contains(error_message([&] { cut.crop({0, 0, 160, 120}, 32, false); }), "cut.jpg: cannot decode image"));
  EXPECT_TRUE(contains(error_message([] { data::EncodedImage("hello, world", "notes.jpg", 3); }), "notes.jpg"));
  EXPECT_TRUE(contains(error_message([] { data::EncodedImage("", "empty.jpg", 3); }), "empty"));
}

TEST(Tar, WriterAndIndexRoundTripLongNamesAndErrors) {
  TempDir dir;
  io::TarWriter w;
  const std::string long_name = std::string(120, 'a') + "/000001.jpg";
  w.add("000000.jpg", "JPEGDATA");
  w.add("000000.txt", "a caption");
  w.add(long_name, std::string(1000, 'x'));
  const auto archive = w.finish();
  write(dir / "s.tar", archive);
  const auto members = io::index_tar(dir / "s.tar");
  ASSERT_EQ(members.size(), 3u);
  EXPECT_EQ(members[0].name, "000000.jpg");
  EXPECT_EQ(members[2].name, long_name);
  EXPECT_EQ(io::read_tar_member(dir / "s.tar", members[1]), "a caption");
  EXPECT_EQ(io::read_tar_member(dir / "s.tar", members[2]), std::string(1000, 'x'));
  // Python's tarfile reads what the writer wrote (the format is standard, not just self-consistent).
  const std::string cmd = "/usr/bin/python3 -c \"import tarfile,sys; t=tarfile.open(sys.argv[1]); "
                          "assert [m.name for m in t] == ['000000.jpg','000000.txt','" + long_name + "'], [m.name for m in t]\" " + dir / "s.tar";
  EXPECT_EQ(std::system(cmd.c_str()), 0);
  write(dir / "cut.tar", archive.substr(0, 1024 + 512 + 100));
  EXPECT_TRUE(contains(error_message([&] { io::index_tar(dir / "cut.tar"); }), "cut short by the end of the file"));
  write(dir / "gz.tar", std::string("\x1f\x8b\x08\x00", 4) + std::string(600, '\0'));
  EXPECT_TRUE(contains(error_message([&] { io::index_tar(dir / "gz.tar"); }), "gzip-compressed"));
  write(dir / "text.tar", std::string(2048, 'z'));
  EXPECT_TRUE(contains(error_message([&] { io::index_tar(dir / "text.tar"); }), "not a tar archive"));
}

TEST(Stream, BraceExpansion) {
  using V = std::vector<std::string>;
  EXPECT_EQ(data::expand_braces("a/train-{000008..000011}.tar"),
            (V{"a/train-000008.tar", "a/train-000009.tar", "a/train-000010.tar", "a/train-000011.tar"}));
  EXPECT_EQ(data::expand_braces("{1..2}-{x,y}"), (V{"1-x", "1-y", "2-x", "2-y"}));
  EXPECT_EQ(data::expand_braces("plain.tar"), V{"plain.tar"});
  EXPECT_TRUE(contains(error_message([] { data::expand_braces("s-{1..3.tar"); }), "unclosed"));
  EXPECT_TRUE(contains(error_message([] { data::expand_braces("s-{9..3}.tar"); }), "counts down"));
  EXPECT_TRUE(contains(error_message([] { data::expand_braces("s-{a..z}.tar"); }), "range of numbers"));
}

// Shards of `per_shard` samples: key.jpg + key.txt + key.cls; sample `no_caption` lacks its .txt.
void write_shards(const TempDir& dir, int shards, int per_shard, int no_caption = -1) {
  for (int s = 0; s < shards; ++s) {
    io::TarWriter w;
    for (int i = 0; i < per_shard; ++i) {
      const int k = s * per_shard + i;
      char key[16];
      std::snprintf(key, sizeof key, "%06d", k);
      w.add(std::string(key) + ".jpg", encode_jpeg(picture(64 + k % 5 * 8, 48 + k % 3 * 8, k), 64 + k % 5 * 8, 48 + k % 3 * 8));
      if (k != no_caption) w.add(std::string(key) + ".txt", "picture number " + std::to_string(k) + "\n");
      w.add(std::string(key) + ".cls", std::to_string(k % 2));
    }
    write(dir / ("train-" + std::to_string(s) + ".tar"), w.finish());
  }
}

TEST(Stream, WebDatasetSamplesCaptionsClassesAndMissingCaptionPolicy) {
  TempDir dir;
  write_shards(dir, 2, 3, /*no_caption=*/4);
  data::ListOptions o;
  o.need_captions = true;
  const std::string pattern = dir / "train-{0..1}.tar";
  EXPECT_TRUE(contains(error_message([&] { data::list_webdataset(pattern, o); }), "sample '000004' has no caption"));
  o.skip_bad = true;
  const auto list = data::list_webdataset(pattern, o);
  ASSERT_EQ(list.source.size(), 5);
  ASSERT_EQ(list.source.skipped.size(), 1u);
  EXPECT_EQ(list.source.captions[1], "picture number 1");
  EXPECT_EQ(list.labels, (std::vector<int64_t>{0, 1, 0, 1, 1}));
  EXPECT_EQ(list.class_names, (std::vector<std::string>{"0", "1"}));
  EXPECT_EQ(list.source.where(3), dir / "train-1.tar" + ": 000003.jpg");
  EXPECT_EQ(data::EncodedImage(list.source.read(3), "x", 3).width(), 64 + 3 * 8);
  o.need_captions = false;  // SSL: captions not needed, nothing skipped
  EXPECT_EQ(data::list_webdataset(pattern, o).source.size(), 6);
  EXPECT_TRUE(contains(error_message([&] { data::list_webdataset(dir / "train-{0..2}.tar", o); }), "train-2.tar: no such shard"));
}

TEST(Stream, CsvListsWithQuotingSeparatorsAndRelativePaths) {
  TempDir dir;
  write(dir / "img/a.jpg", encode_jpeg(picture(40, 30, 1), 40, 30));
  write(dir / "img/b.png", encode_png(picture(30, 40, 2), 30, 40));
  write(dir / "list.csv", "filepath,title\nimg/a.jpg,\"a red, round \"\"thing\"\"\"\n" + dir / "img/b.png" + ",plain\n");
  data::ListOptions o;
  o.need_captions = true;
  const auto list = data::list_csv(dir / "list.csv", "filepath", "title", ',', o);
  ASSERT_EQ(list.source.size(), 2);
  EXPECT_EQ(list.source.captions[0], "a red, round \"thing\"");
  EXPECT_EQ(list.source.samples[0].name, dir / "img/a.jpg");
  write(dir / "list.tsv", "filepath\ttitle\nimg/a.jpg\tone\nimg/missing.jpg\ttwo\n");
  EXPECT_TRUE(contains(error_message([&] { data::list_csv(dir / "list.tsv", "filepath", "title", '\t', o); }),
                       "list.tsv:3: no such image file"));
  EXPECT_TRUE(contains(error_message([&] { data::list_csv(dir / "list.tsv", "path", "title", '\t', o); }),
                       "no column 'path'"));
  EXPECT_TRUE(contains(error_message([&] { data::list_csv(dir / "list.tsv", "filepath", "title", ',', o); }),
                       "wrong data.csv_separator?"));
}

// An image folder of JPEGs of different sizes (two classes), with one file that is not a JPEG.
std::string image_folder(const TempDir& dir, int per_class, bool with_bad_file) {
  for (int c = 0; c < 2; ++c)
    for (int i = 0; i < per_class; ++i) {
      const int w = 40 + (i * 7) % 30, h = 36 + (i * 5) % 20;
      write(dir / ("folder/" + std::string(c ? "b" : "a") + "/" + std::to_string(i) + ".jpg"),
            encode_jpeg(picture(w, h, c * 100 + i), w, h));
    }
  if (with_bad_file) write(dir / "folder/a/zz_bad.jpg", "this is not a JPEG");
  return dir / "folder";
}

data::ImageDataset streamed_folder(const std::string& root, bool skip) {
  data::DataConfig c;
  c.dataset = "image_folder";
  c.root = root;
  c.cache = "stream";
  c.on_bad_file = skip ? "skip" : "error";
  return data::load_dataset(c, true);
}

std::vector<torch::Tensor> epoch_crops(data::Loader& loader, int64_t epoch, int64_t first_step = 0) {
  std::vector<torch::Tensor> out;
  loader.start_epoch(epoch, first_step);
  while (auto b = loader.next()) out.push_back(torch::cat({b->crops[0].flatten(), b->crops[1].flatten(), b->labels.to(torch::kUInt8)}));
  return out;
}

TEST(StreamLoader, DeterministicAcrossWorkerCountsAndResumable) {
  TempDir dir;
  const auto ds = streamed_folder(image_folder(dir, 10, false), false);
  ASSERT_TRUE(ds.streamed());
  ASSERT_EQ(ds.size(), 20);
  data::LoaderOptions o;
  o.batch_size = 6;
  o.seed = 3;
  o.crops = {{24, 0.2, 1.0, 0.75, 4.0 / 3, 0.5}, {16, 0.05, 0.4, 0.75, 4.0 / 3, 0.5}};
  std::vector<std::vector<torch::Tensor>> runs;
  for (int64_t workers : {0, 1, 3}) {
    o.workers = workers;
    data::Loader loader(ds, o);
    runs.push_back(epoch_crops(loader, 1));
    ASSERT_EQ(runs.back().size(), 3u);
  }
  for (size_t s = 0; s < 3; ++s) {
    EXPECT_TRUE(torch::equal(runs[0][s], runs[1][s])) << "step " << s;
    EXPECT_TRUE(torch::equal(runs[0][s], runs[2][s])) << "step " << s;
  }
  data::Loader loader(ds, o);
  const auto resumed = epoch_crops(loader, 1, /*first_step=*/2);  // as --resume mid-epoch would
  ASSERT_EQ(resumed.size(), 1u);
  EXPECT_TRUE(torch::equal(resumed[0], runs[0][2]));
  EXPECT_FALSE(torch::equal(epoch_crops(loader, 2)[0], runs[0][0]));  // another epoch, other crops
}

TEST(StreamLoader, BadFilesStopOrAreSkippedAndCounted) {
  TempDir dir;
  const auto root = image_folder(dir, 4, true);
  data::LoaderOptions o;
  o.batch_size = 9;  // every image, the bad one included
  o.crops = {{16, 0.5, 1.0, 0.75, 4.0 / 3, 0.5}};
  o.workers = 0;
  {
    data::Loader loader(streamed_folder(root, false), o);
    loader.start_epoch(0);
    EXPECT_TRUE(contains(error_message([&] { loader.next(); }), "zz_bad.jpg: cannot decode image"));
  }
  o.skip_bad_files = true;
  data::Loader loader(streamed_folder(root, true), o);
  loader.start_epoch(0);
  const auto batch = loader.next();
  ASSERT_TRUE(batch.has_value());
  EXPECT_EQ(batch->crops[0].size(0), 9);
  EXPECT_EQ(loader.skipped_files(), 1);
  EXPECT_FALSE(torch::isin(torch::tensor({4}, torch::kLong), batch->indices).item<bool>());  // zz_bad.jpg is index 4
}

// MoCo trains through the streaming path on each kind of streamed data and evaluates by kNN on
// streamed centre crops.
TEST(StreamTraining, MocoOnFolderShardsAndCsv) {
  TempDir dir;
  const auto root = image_folder(dir, 16, false);
  write_shards(dir, 2, 16);
  std::string csv = "filepath,title\n";
  for (int i = 0; i < 16; ++i) csv += "folder/a/" + std::to_string(i) + ".jpg,an image\n";
  write(dir / "list.csv", csv);
  const std::vector<std::vector<std::string>> datasets{
      {"data.dataset=image_folder", "data.root=" + root, "data.test_root=" + root, "data.cache=stream"},
      {"data.dataset=webdataset", "data.shards=" + dir / "train-{0..1}.tar", "data.test_shards=" + dir / "train-1.tar"},
      {"data.dataset=csv", "data.csv=" + dir / "list.csv", "data.csv_separator=comma", "train.knn_every=0"}};
  for (const auto& data : datasets) {
    std::vector<std::string> o{"run_dir=" + dir / "runs", "name=" + data[0].substr(13), "data.subset=0", "data.test_subset=0",
                               "data.channels=3", "augment.views.0.crop.size=24", "augment.views.1.crop.size=24",
                               "augment.views.0.mean=[0.5]", "augment.views.0.std=[0.5]", "augment.views.1.mean=[0.5]",
                               "augment.views.1.std=[0.5]", "train.batch_size=8", "train.epochs=1", "eval.knn.k=3",
                               "eval.linear.epochs=1", "data.workers=2", "method.moco.bn_splits=2", "model.in_channels=3"};
    o.insert(o.end(), data.begin(), data.end());
    const auto recipe = load_recipe(std::string(SELFSUP_SOURCE_DIR) + "/recipes/tiny_test.yaml", o);
    const auto metrics = train::run_training(recipe, false);
    EXPECT_EQ(metrics["skipped_files"], 0) << data[0];
    EXPECT_GT(metrics["images_per_second"].get<double>(), 0) << data[0];
    if (data[0] != "data.dataset=csv") {
      EXPECT_GE(metrics["eval"]["knn_top1"].get<double>(), 0.0) << data[0];
    } else {
      EXPECT_FALSE(metrics.contains("eval")) << "unlabelled data: no evaluation";
    }
  }
}

// `selfsup data check` and `data shards`: the report names the unreadable file and counts the rest;
// a folder repacked as shards lists the same images (byte for byte), labels and order.
TEST(DataTools, CheckReportsAndShardsRoundTrip) {
  TempDir dir;
  const auto root = image_folder(dir, 5, true);
  const auto list = data::list_path({root}, {});
  const auto report = data::check_samples(list, /*decode=*/true, 2);
  EXPECT_EQ(report.samples, 11);
  ASSERT_EQ(report.bad.size(), 1u);
  EXPECT_TRUE(contains(report.bad[0], "zz_bad.jpg: cannot decode image"));
  EXPECT_EQ(report.classes, (std::vector<std::pair<std::string, int64_t>>{{"a", 6}, {"b", 5}}));
  EXPECT_EQ(report.min_width, 40);
  EXPECT_EQ(report.max_width, 68);
  const auto pattern = data::write_shards(list, {dir / "shards", "train", 4, false, 0});
  EXPECT_EQ(pattern, dir / "shards/train-{000000..000002}.tar");
  const auto back = data::list_path({pattern}, {});
  ASSERT_EQ(back.source.size(), list.source.size());
  EXPECT_EQ(back.labels, list.labels);
  for (int64_t i = 0; i < back.source.size(); ++i) EXPECT_EQ(back.source.read(i), list.source.read(i)) << i;
  EXPECT_TRUE(contains(error_message([&] { data::list_path({dir / "notes.txt"}, {}); }), "expected a folder of class folders"));
}

// A run stopped mid-epoch (train.stop_after_steps) and resumed continues with the batches it would
// have seen: it ends with exactly the weights of an uninterrupted run, on WebDataset shards.
TEST(StreamTraining, ResumeMidEpochFromShardsMatchesAnUninterruptedRun) {
  TempDir dir;
  write_shards(dir, 2, 16);
  const std::string recipe_path = std::string(SELFSUP_SOURCE_DIR) + "/recipes/tiny_test.yaml";
  auto with = [&](const std::string& name, const std::string& extra) {
    return load_recipe(recipe_path, {"run_dir=" + dir / "runs", "name=" + name, "data.dataset=webdataset",
                                     "data.shards=" + dir / "train-{0..1}.tar", "data.subset=0", "data.channels=3",
                                     "model.in_channels=3", "augment.views.0.crop.size=20", "augment.views.1.crop.size=20",
                                     "augment.views.0.mean=[0.5]", "augment.views.0.std=[0.5]", "augment.views.1.mean=[0.5]",
                                     "augment.views.1.std=[0.5]", "train.batch_size=8", "train.epochs=2",
                                     "method.moco.bn_splits=2", "eval.at_end=false", "data.workers=2", extra});
  };
  train::run_training(with("straight", "seed=0"), false);
  train::run_training(with("sliced", "train.stop_after_steps=3"), false);  // 4 steps per epoch: stops mid-epoch 1
  EXPECT_EQ(train::read_checkpoint_info(dir / "runs/sliced/checkpoint.pt").global_step, 3);
  EXPECT_EQ(train::read_checkpoint_info(dir / "runs/sliced/checkpoint.pt").epochs_done, 0);
  train::run_training(with("sliced", "train.stop_after_steps=3"), true);  // steps 4-6: through the epoch's end
  EXPECT_EQ(train::read_checkpoint_info(dir / "runs/sliced/checkpoint.pt").global_step, 6);
  train::run_training(with("sliced", "seed=0"), true);
  const auto recipe = with("x", "seed=0");
  auto a = ssl::make_method(recipe, 3), b = ssl::make_method(recipe, 3);
  train::load_checkpoint(dir / "runs/straight/checkpoint.pt", *a, nullptr);
  train::load_checkpoint(dir / "runs/sliced/checkpoint.pt", *b, nullptr);
  const auto sb = models::state_dict(*b);
  for (const auto& [name, t] : models::state_dict(*a)) EXPECT_TRUE(torch::equal(t, sb.at(name))) << name;
}

// CLIP trains on streamed image-caption pairs (shards and a CSV list) and evaluates retrieval on
// the evaluation split decoded into memory.
TEST(StreamTraining, ClipOnShardsAndCsv) {
  TempDir dir;
  write_shards(dir, 2, 12);
  std::string csv = "filepath\ttitle\n";
  for (int i = 0; i < 16; ++i) {
    write(dir / ("img/" + std::to_string(i) + ".jpg"), encode_jpeg(picture(40 + i, 30, i), 40 + i, 30));
    csv += "img/" + std::to_string(i) + ".jpg\ta picture numbered " + std::to_string(i) + "\n";
  }
  write(dir / "list.tsv", csv);
  const std::vector<std::vector<std::string>> datasets{
      {"data.dataset=webdataset", "data.shards=" + dir / "train-{0..1}.tar", "data.test_shards=" + dir / "train-1.tar"},
      {"data.dataset=csv", "data.csv=" + dir / "list.tsv", "data.test_csv=" + dir / "list.tsv"}};
  for (const auto& data : datasets) {
    std::vector<std::string> o{"run_dir=" + dir / "runs", "name=" + data[0].substr(13), "data.image_size=24",
                               "augment.views.0.crop.size=24", "train.batch_size=8", "train.epochs=1", "clip.eval_every=1",
                               "clip.text.vocab_size=40", "clip.embed_dim=16", "clip.text.dim=16", "clip.text.hidden_dim=32",
                               "clip.text.layers=1", "clip.zeroshot_templates=[\"{}\"]", "data.workers=1"};
    o.insert(o.end(), data.begin(), data.end());
    const auto recipe = load_recipe(std::string(SELFSUP_SOURCE_DIR) + "/recipes/clip_emoji.yaml", o);
    const auto metrics = train::run_training(recipe, false);
    EXPECT_EQ(metrics["skipped_files"], 0) << data[0];
    const double r10 = metrics["eval"]["retrieval"]["text_to_image"]["r10"];
    EXPECT_GE(r10, 0.0) << data[0];
    EXPECT_LE(r10, 1.0) << data[0];
  }
}

// The recipes for data at scale (recipes/at_scale/) parse, validate and train for two steps on a
// generated folder and shards (at 64 px, so the ResNet-50 step takes a second).
TEST(AtScaleRecipes, TrainOnGeneratedData) {
  TempDir dir;
  const auto root = image_folder(dir, 8, false);
  write_shards(dir, 2, 8);
  const std::string at_scale = std::string(SELFSUP_SOURCE_DIR) + "/recipes/at_scale/";
  const std::vector<std::string> common{"run_dir=" + dir / "runs", "train.epochs=1", "train.batch_size=8", "data.workers=2",
                                        "augment.views.0.crop.size=64", "train.checkpoint_every_steps=0"};
  auto with = [&](std::vector<std::string> extra) {
    extra.insert(extra.begin(), common.begin(), common.end());
    return extra;
  };
  auto moco = train::run_training(
      load_recipe(at_scale + "moco_v2_imagenet.yaml",
                  with({"data.root=" + root, "data.test_root=" + root, "augment.views.1.crop.size=64",
                        "augment.views.0.blur.kernel_size=7", "augment.views.1.blur.kernel_size=7", "method.moco.bn_splits=2"})),
      false);
  EXPECT_EQ(moco["train_images"], 16);
  auto clip = train::run_training(
      load_recipe(at_scale + "clip_webdataset.yaml",
                  with({"data.shards=" + dir / "train-{0..1}.tar", "data.test_shards=" + dir / "train-1.tar", "data.image_size=64",
                        "clip.text.vocab_size=40", "clip.eval_every=0"})),
      false);
  EXPECT_GE(clip["eval"]["retrieval"]["text_to_image"]["r10"].get<double>(), 0.0);
}

}  // namespace
}  // namespace selfsup
