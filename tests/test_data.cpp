#include "selfsup/core/error.h"
#include "selfsup/data/dataset.h"
#include "selfsup/data/decode.h"
#include "selfsup/data/idx.h"
#include "selfsup/data/image_folder.h"
#include "selfsup/data/loader.h"
#include "selfsup/data/source.h"
#include "test_util.h"

#include <gtest/gtest.h>
#include <stb/stb_image_write.h>
#include <unistd.h>
#include <zlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

namespace fs = std::filesystem;
using namespace selfsup::data;

using selfsup::test_util::contains;
using selfsup::test_util::error_message;
using selfsup::test_util::TempDir;

namespace {

const std::string kFashion = "/usr/share/datasets/fashion-mnist";

// A fresh directory removed at scope exit.
void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()),
             static_cast<std::streamsize>(bytes.size()));
}

void put_u32(std::vector<uint8_t>& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(v >> shift));
}

// A raw IDX image file of n images h x w with pixel = (image index + pixel index) % 256.
std::vector<uint8_t> idx_images(uint32_t n, uint32_t h, uint32_t w) {
  std::vector<uint8_t> out;
  for (uint32_t v : {0x803u, n, h, w}) put_u32(out, v);
  for (uint32_t i = 0; i < n; ++i)
    for (uint32_t p = 0; p < h * w; ++p) out.push_back(static_cast<uint8_t>((i + p) % 256));
  return out;
}

std::vector<uint8_t> idx_labels(const std::vector<uint8_t>& labels) {
  std::vector<uint8_t> out;
  put_u32(out, 0x801u);
  put_u32(out, static_cast<uint32_t>(labels.size()));
  out.insert(out.end(), labels.begin(), labels.end());
  return out;
}

}  // namespace

// ---------------------------------------------------------------- IDX

TEST(Idx, FashionMnistTrainMatchesPythonReader) {
  auto ds = load_mnist_like(kFashion, true, fashion_mnist_classes());
  EXPECT_EQ(ds.images.sizes(), (std::vector<int64_t>{60000, 1, 28, 28}));
  EXPECT_EQ(ds.images.scalar_type(), torch::kUInt8);
  EXPECT_TRUE(ds.images.is_contiguous());
  EXPECT_EQ(ds.labels.scalar_type(), torch::kLong);
  EXPECT_EQ(ds.num_classes(), 10);
  EXPECT_EQ(ds.class_names[ds.labels[0].item<int64_t>()], "Ankle boot");
  EXPECT_TRUE(ds.labels.slice(0, 0, 10).equal(torch::tensor({9, 0, 0, 3, 0, 2, 7, 2, 5, 5})));
  // Expected values computed with python3 gzip + struct.
  EXPECT_EQ(ds.images[0].sum().item<int64_t>(), 76247);
  EXPECT_EQ(ds.images.sum().item<int64_t>(), 3431114169LL);
  EXPECT_EQ(ds.images[0][0][14][14].item<int64_t>(), 217);
  EXPECT_EQ(ds.labels.bincount().min().item<int64_t>(), 6000);
}

TEST(Idx, FashionMnistTest) {
  auto ds = load_mnist_like(kFashion, false, fashion_mnist_classes());
  EXPECT_EQ(ds.size(), 10000);
  EXPECT_TRUE(ds.labels.slice(0, 0, 10).equal(torch::tensor({9, 2, 1, 1, 6, 1, 4, 6, 5, 7})));
  EXPECT_EQ(ds.images[0].sum().item<int64_t>(), 33456);
  EXPECT_EQ(ds.images.sum().item<int64_t>(), 573469082LL);
}

TEST(Idx, RawFilesWithoutGzAndDefaultClassNames) {
  TempDir dir;
  write_bytes(dir / "train-images-idx3-ubyte", idx_images(3, 2, 4));
  write_bytes(dir / "train-labels-idx1-ubyte", idx_labels({2, 0, 1}));
  auto ds = load_mnist_like(dir.path.string(), true, {});
  EXPECT_EQ(ds.images.sizes(), (std::vector<int64_t>{3, 1, 2, 4}));
  EXPECT_EQ(ds.images[2][0][1][3].item<int64_t>(), 2 + 7);
  EXPECT_EQ(ds.class_names, (std::vector<std::string>{"0", "1", "2"}));
  EXPECT_EQ(mnist_classes().size(), 10u);
  EXPECT_EQ(mnist_classes()[7], "7");
}

TEST(Idx, TruncatedGzipNamesFileAndCounts) {
  TempDir dir;
  const auto src = kFashion + "/t10k-images-idx3-ubyte.gz";
  std::ifstream in(src, std::ios::binary);
  std::vector<char> head(20000);
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  const auto path = dir / "t10k-images-idx3-ubyte.gz";
  std::ofstream(path, std::ios::binary).write(head.data(), in.gcount());
  const auto msg = error_message(
      [&] { load_idx(path, kFashion + "/t10k-labels-idx1-ubyte.gz", fashion_mnist_classes()); });
  EXPECT_TRUE(contains(msg, path + ": truncated: expected 7840000 bytes of pixels, got ")) << msg;
}

TEST(Idx, TruncatedRawFile) {
  TempDir dir;
  auto bytes = idx_images(4, 3, 3);
  bytes.resize(bytes.size() - 5);
  write_bytes(dir / "img", bytes);
  write_bytes(dir / "lab", idx_labels({0, 1, 0, 1}));
  const auto msg = error_message([&] { load_idx(dir / "img", dir / "lab", {"a", "b"}); });
  EXPECT_EQ(msg, dir / "img" + ": truncated: expected 36 bytes of pixels, got 31");
}

// The gzip trailer's CRC-32 is checked: the reader reads to the end of the stream.
TEST(Idx, CorruptGzipTrailingDataAndMissingTrailerAreErrors) {
  TempDir dir;
  const auto raw = idx_images(4, 3, 3);
  write_bytes(dir / "lab", idx_labels({0, 1, 0, 1}));
  const auto path = dir / "img.gz";
  gzFile gz = gzopen(path.c_str(), "wb");
  gzwrite(gz, raw.data(), static_cast<unsigned>(raw.size()));
  gzclose(gz);
  EXPECT_EQ(load_idx(path, dir / "lab", {"a", "b"}).size(), 4);
  std::ifstream in(path, std::ios::binary);
  std::vector<uint8_t> gzip((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());

  auto flipped = gzip;
  flipped[flipped.size() - 8] ^= 0xFF;  // the CRC-32 no longer matches the (intact) pixels
  write_bytes(path, flipped);
  auto msg = error_message([&] { load_idx(path, dir / "lab", {"a", "b"}); });
  EXPECT_TRUE(contains(msg, path + ": corrupt gzip data: incorrect data check")) << msg;

  write_bytes(path, std::vector<uint8_t>(gzip.begin(), gzip.end() - 8));  // no trailer
  msg = error_message([&] { load_idx(path, dir / "lab", {"a", "b"}); });
  EXPECT_EQ(msg, path + ": truncated gzip stream: its trailer (CRC-32, length) is missing");

  auto longer = raw;
  longer.push_back(7);  // one byte more than 4 x 3 x 3 pixels
  write_bytes(dir / "img", longer);
  msg = error_message([&] { load_idx(dir / "img", dir / "lab", {"a", "b"}); });
  EXPECT_EQ(msg, dir / "img" + ": more data after the header's 36 bytes of pixels: not an IDX file of the size its header gives");
}

// Found by fuzz/fuzz_idx.cpp: n x h x w overflowed int64 before the size was checked.
TEST(Idx, HeaderDeclaringMoreThanATebibyteIsAnError) {
  TempDir dir;
  std::vector<uint8_t> header;
  for (uint32_t v : {0x803u, 0x80000000u, 0xFFFFFFFFu, 0xFFFFFFFFu}) put_u32(header, v);
  write_bytes(dir / "img", header);
  write_bytes(dir / "lab", idx_labels({0}));
  EXPECT_EQ(error_message([&] { load_idx(dir / "img", dir / "lab", {}); }),
            dir / "img" + ": header declares 2147483648 images of 4294967295x4294967295: more than 1 TiB, a corrupt header");
}

TEST(Idx, BadMagicMissingFileMismatchAndLabelRange) {
  TempDir dir;
  write_bytes(dir / "img", idx_images(2, 2, 2));
  write_bytes(dir / "lab", idx_labels({0, 1}));
  write_bytes(dir / "lab3", idx_labels({0, 1, 1}));
  write_bytes(dir / "bad_lab", idx_labels({0, 5}));

  auto msg = error_message([&] { load_idx(dir / "lab", dir / "lab", {}); });
  EXPECT_TRUE(contains(msg, dir / "lab" + ": bad magic number 0x801")) << msg;

  msg = error_message([&] { load_idx(dir / "nope", dir / "lab", {}); });
  EXPECT_EQ(msg, dir / "nope" + ": no such file");

  msg = error_message([&] { load_mnist_like(dir.path.string(), false, {}); });
  EXPECT_TRUE(contains(msg, dir / "t10k-images-idx3-ubyte(.gz)")) << msg;

  msg = error_message([&] { load_idx(dir / "img", dir / "lab3", {}); });
  EXPECT_TRUE(contains(msg, dir / "lab3" + ": 3 labels: expected 2")) << msg;

  msg = error_message([&] { load_idx(dir / "img", dir / "bad_lab", {"a", "b"}); });
  EXPECT_TRUE(contains(msg, dir / "bad_lab" + ": label 5 at index 1 is out of range")) << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos);
}

TEST(Dataset, HeadIsAViewOfTheFirstImages) {
  ImageDataset ds;
  ds.images = torch::arange(5 * 4, torch::kUInt8).view({5, 1, 2, 2});
  ds.labels = torch::arange(5);
  auto h = ds.head(2);
  EXPECT_EQ(h.size(), 2);
  EXPECT_EQ(h.labels.size(0), 2);
  EXPECT_EQ(h.images.data_ptr(), ds.images.data_ptr());
  EXPECT_EQ(ds.head(0).size(), 5);
  EXPECT_EQ(ds.head(9).size(), 5);
}

// ---------------------------------------------------------------- ImageFolder

namespace {

// root/cat/{a.png (RGB gradient), b.jpg (RGB flat), notes.txt}, root/dog/{c.png (gray), d.bmp}
// all 6 (high) x 8 (wide).
struct ImageTree {
  TempDir dir;
  std::string root;
  std::vector<uint8_t> rgb;  // a.png's pixels, HWC
  ImageTree() {
    root = dir / "root";
    fs::create_directories(root + "/cat");
    fs::create_directories(root + "/dog");
    fs::create_directories(root + "/.hidden");
    for (int i = 0; i < 6 * 8 * 3; ++i) rgb.push_back(static_cast<uint8_t>(i * 5 % 256));
    stbi_write_png((root + "/cat/a.png").c_str(), 8, 6, 3, rgb.data(), 8 * 3);
    std::vector<uint8_t> flat(6 * 8 * 3, 120);
    stbi_write_jpg((root + "/cat/b.jpg").c_str(), 8, 6, 3, flat.data(), 95);
    std::ofstream(root + "/cat/notes.txt") << "not an image";
    std::vector<uint8_t> gray(6 * 8, 100);
    stbi_write_png((root + "/dog/c.png").c_str(), 8, 6, 1, gray.data(), 8);
    stbi_write_bmp((root + "/dog/d.bmp").c_str(), 8, 6, 1, gray.data());
  }
};

}  // namespace

TEST(ImageFolder, ClassesLabelsAndExactPixels) {
  ImageTree tree;
  auto ds = load_image_folder(tree.root, 0, 0);
  EXPECT_EQ(ds.class_names, (std::vector<std::string>{"cat", "dog"}));
  EXPECT_TRUE(ds.labels.equal(torch::tensor({0, 0, 1, 1})));
  EXPECT_EQ(ds.images.sizes(), (std::vector<int64_t>{4, 3, 6, 8}));  // first image is RGB
  auto a = torch::from_blob(tree.rgb.data(), {6, 8, 3}, torch::kUInt8).permute({2, 0, 1});
  EXPECT_TRUE(ds.images[0].equal(a));
  EXPECT_LE((ds.images[1].to(torch::kInt) - 120).abs().max().item<int>(), 2);  // JPEG
  EXPECT_TRUE(ds.images[2].equal(torch::full({3, 6, 8}, 100, torch::kUInt8)));
  EXPECT_TRUE(ds.images[3].equal(ds.images[2]));
}

TEST(ImageFolder, ResizesAndConvertsChannels) {
  ImageTree tree;
  auto gray = load_image_folder(tree.root, 4, 1);
  EXPECT_EQ(gray.images.sizes(), (std::vector<int64_t>{4, 1, 4, 4}));
  EXPECT_TRUE(gray.images[3].equal(torch::full({1, 4, 4}, 100, torch::kUInt8)));
  auto big = load_image_folder(tree.root, 12, 3);
  EXPECT_EQ(big.images.sizes(), (std::vector<int64_t>{4, 3, 12, 12}));
  EXPECT_TRUE(big.images[2].equal(torch::full({3, 12, 12}, 100, torch::kUInt8)));
  // Downscaling a gradient keeps it inside its original range.
  EXPECT_LE(gray.images[0].max().item<int>(), 255);
  EXPECT_GT(gray.images[0].to(torch::kFloat).std().item<float>(), 1.0f);
}

TEST(ImageFolder, Errors) {
  ImageTree tree;
  auto msg = error_message([&] { load_image_folder(tree.dir / "missing", 0, 0); });
  EXPECT_TRUE(contains(msg, tree.dir / "missing")) << msg;

  fs::create_directories(tree.dir / "empty");
  msg = error_message([&] { load_image_folder(tree.dir / "empty", 0, 0); });
  EXPECT_TRUE(contains(msg, "no class folders")) << msg;

  std::vector<uint8_t> small(2 * 2, 7);
  stbi_write_png((tree.root + "/dog/e.png").c_str(), 2, 2, 1, small.data(), 2);
  msg = error_message([&] { load_image_folder(tree.root, 0, 0); });
  EXPECT_TRUE(contains(msg, tree.root + "/dog/e.png: image is 2x2: expected 6x8")) << msg;
  EXPECT_EQ(load_image_folder(tree.root, 5, 0).size(), 5);

  fs::create_directories(tree.root + "/bird");  // a class without images
  msg = error_message([&] { load_image_folder(tree.root, 5, 0); });
  EXPECT_EQ(msg, tree.root + "/bird: empty class folder: expected .png/.jpg/.jpeg/.bmp files (remove the folder or add images)");
  fs::remove(tree.root + "/bird");

  std::ofstream(tree.root + "/cat/corrupt.png") << "definitely not a png";
  msg = error_message([&] { load_image_folder(tree.root, 5, 0); });
  EXPECT_TRUE(contains(msg, tree.root + "/cat/corrupt.png: cannot decode image: ")) << msg;
}

TEST(ImageFolder, UndecodableFilesSayWhatTheyAre) {
  ImageTree tree;
  std::ifstream in(tree.root + "/cat/a.png", std::ios::binary);
  std::vector<char> png((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::ofstream(tree.root + "/cat/short.png", std::ios::binary).write(png.data(), 12);  // signature + part of IHDR
  std::ofstream(tree.root + "/dog/empty.png");
  std::ofstream(tree.root + "/dog/text.png") << "definitely not an image";
  for (const auto& [file, reason] : std::vector<std::pair<std::string, std::string>>{
           {"/cat/short.png", "a PNG whose header is truncated or corrupt"},
           {"/dog/empty.png", "the file is empty"},
           {"/dog/text.png", "not a PNG, JPEG or BMP file"}}) {
    const std::string path = tree.root + file;  // C++17 lambdas cannot capture structured bindings
    const auto msg = error_message([&] { decode_image(path, 0, 3); });
    EXPECT_EQ(msg, tree.root + file + ": cannot decode image: " + reason);
  }
}

// Found by fuzz/fuzz_image.cpp. The header alone sized the output tensor (38 GB from 282 bytes, or a
// negative size), and Debian's stb_image 2.27 overflows its Huffman arrays on a JPEG table with
// more than 256 codes.
TEST(ImageFolder, BadSizesAndOverfullJpegHuffmanTablesAreErrors) {
  TempDir dir;
  std::string png, jpg;
  auto append = [](void* out, void* data, int size) { static_cast<std::string*>(out)->append(static_cast<char*>(data), size); };
  const std::vector<unsigned char> pixels(8 * 8 * 3, 128);
  stbi_write_png_to_func(append, &png, 8, 8, 1, pixels.data(), 8);  // gray: stb's own limit is 1 GB
  stbi_write_jpg_to_func(append, &jpg, 8, 8, 3, pixels.data(), 90);
  // IHDR's width and height (big-endian, bytes 16..23): 20000 x 20000 (stb does not check the CRC).
  for (const size_t at : {16u, 20u}) png.replace(at, 4, std::string{0, 0, '\x4e', '\x20'});
  std::ofstream(dir / "huge.png", std::ios::binary) << png;
  EXPECT_EQ(error_message([&] { decode_image(dir / "huge.png", 0, 3); }),
            dir / "huge.png" + ": cannot decode image: its header says 20000x20000 pixels, more than the 256 Mpx this reader accepts");
  // A BMP's width is a signed 32-bit field: negative reached LibTorch as a negative tensor size.
  std::string bmp;
  stbi_write_bmp_to_func(append, &bmp, 7, 5, 3, pixels.data());
  bmp[21] = '\xFD';  // the width's top byte (little-endian, bytes 18..21)
  std::ofstream(dir / "negative.bmp", std::ios::binary) << bmp;
  EXPECT_EQ(error_message([&] { decode_image(dir / "negative.bmp", 0, 3); }),
            dir / "negative.bmp" + ": cannot decode image: its header says -50331641x5 pixels: the file is corrupt");
  const auto dht = jpg.find("\xFF\xC4");
  ASSERT_NE(dht, std::string::npos);
  jpg[dht + 5] = '\xFF';  // the first table's count of 1-bit codes: 255 on top of the others
  std::ofstream(dir / "dht.jpg", std::ios::binary) << jpg;
  EXPECT_TRUE(contains(error_message([&] { decode_image(dir / "dht.jpg", 0, 3); }),
                       dir / "dht.jpg" + ": cannot decode image: a JPEG whose Huffman table declares "));
}

TEST(ImageFolder, TestSplitMustHaveTheTrainingClasses) {
  ImageTree tree;
  const std::string test = tree.dir / "test";
  fs::create_directories(test + "/cat");
  fs::create_directories(test + "/cow");
  fs::copy_file(tree.root + "/cat/a.png", test + "/cat/a.png");
  fs::copy_file(tree.root + "/dog/c.png", test + "/cow/c.png");
  DataConfig c;
  c.dataset = "image_folder";
  c.root = tree.root;
  c.test_root = test;
  c.image_size = 4;
  const auto msg = error_message([&] { load_dataset(c, /*train=*/false); });
  EXPECT_EQ(msg, "data.test_root: " + test + " has the classes [cat, cow], data.root " + tree.root +
                     " has [cat, dog]: both splits need the same class folders");
  fs::rename(test + "/cow", test + "/dog");
  EXPECT_EQ(load_dataset(c, /*train=*/false).size(), 2);
}

// ---------------------------------------------------------------- Loader

namespace {

ImageDataset counting_dataset(int64_t n) {
  ImageDataset ds;
  ds.images = (torch::arange(n) % 256)
                  .to(torch::kUInt8)
                  .view({n, 1, 1, 1})
                  .expand({n, 1, 2, 2})
                  .contiguous();
  ds.labels = torch::arange(n);
  ds.class_names = {"x"};
  ds.source = "counting";
  return ds;
}

// Uses the generator, so batches differ if its seeding depends on the worker.
void noisy_view(Batch& batch, at::Generator& gen) {
  batch.views.push_back(batch.images.to(torch::kFloat) + torch::rand(batch.images.sizes(), gen));
}

std::vector<Batch> run_epoch(Loader& loader, int64_t epoch, int64_t first_step = 0) {
  loader.start_epoch(epoch, first_step);
  std::vector<Batch> out;
  while (auto b = loader.next()) out.push_back(std::move(*b));
  return out;
}

LoaderOptions options(int64_t batch, int64_t workers, bool drop_last = true) {
  LoaderOptions o;
  o.batch_size = batch;
  o.workers = workers;
  o.drop_last = drop_last;
  o.seed = 42;
  o.prefetch = 3;
  return o;
}

}  // namespace

TEST(Loader, MixSeed) {
  EXPECT_EQ(mix_seed(1, 2), mix_seed(1, 2, 0));
  EXPECT_NE(mix_seed(1, 2), mix_seed(2, 1));
  EXPECT_NE(mix_seed(0, 0), mix_seed(0, 1));
  EXPECT_NE(mix_seed(0, 0, 0), 0u);
}

TEST(Loader, DeterministicAcrossWorkerCounts) {
  auto ds = counting_dataset(103);
  Loader one(ds, options(10, 1), noisy_view), three(ds, options(10, 3), noisy_view),
      inline_(ds, options(10, 0), noisy_view);
  auto a = run_epoch(one, 2), b = run_epoch(three, 2), c = run_epoch(inline_, 2);
  ASSERT_EQ(a.size(), 10u);
  ASSERT_EQ(b.size(), a.size());
  ASSERT_EQ(c.size(), a.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].step, static_cast<int64_t>(i));
    EXPECT_EQ(a[i].epoch, 2);
    EXPECT_TRUE(a[i].indices.equal(b[i].indices));
    EXPECT_TRUE(a[i].views[0].equal(b[i].views[0]));
    EXPECT_TRUE(a[i].views[0].equal(c[i].views[0]));
    EXPECT_TRUE(a[i].labels.equal(a[i].indices));
    EXPECT_TRUE(a[i].images.equal(ds.images.index_select(0, a[i].indices)));
  }
  EXPECT_FALSE(a[0].views[0].equal(a[1].views[0].view_as(a[0].views[0])));
}

TEST(Loader, EpochsShuffleDifferentlyAndShuffleOffIsIdentity) {
  auto ds = counting_dataset(103);
  Loader loader(ds, options(103, 2));
  auto e0 = run_epoch(loader, 0), e1 = run_epoch(loader, 1), again = run_epoch(loader, 0);
  EXPECT_FALSE(e0[0].indices.equal(e1[0].indices));
  EXPECT_TRUE(e0[0].indices.equal(again[0].indices));
  auto o = options(50, 1);
  o.shuffle = false;
  Loader ordered(ds, o);
  EXPECT_TRUE(run_epoch(ordered, 3)[1].indices.equal(torch::arange(50, 100)));
}

TEST(Loader, GroupedShufflingKeepsEachGroupTogether) {
  // 103 images in groups of 3 (ids 0..34, the last group has one member); batches of 9 then hold
  // whole groups except where a group straddles two batches.
  auto ds = counting_dataset(103);
  auto o = options(103, 1, false);
  o.groups = torch::arange(103).div(3, "floor") * 7;  // ids need not be dense
  Loader loader(ds, o);
  const auto perm = run_epoch(loader, 4)[0].indices;
  EXPECT_TRUE(std::get<0>(perm.sort()).equal(torch::arange(103)));  // a permutation
  const auto ids = o.groups.index_select(0, perm);
  int64_t runs = 1;  // maximal runs of one id: exactly one per group when groups are contiguous
  for (int64_t i = 1; i < ids.size(0); ++i) runs += ids[i].item<int64_t>() != ids[i - 1].item<int64_t>();
  EXPECT_EQ(runs, 35);
  // Random order of the groups and within them: not the identity, another epoch differs.
  EXPECT_FALSE(perm.equal(torch::arange(103)));
  EXPECT_FALSE(perm.equal(run_epoch(loader, 5)[0].indices));
  EXPECT_TRUE(perm.equal(run_epoch(loader, 4)[0].indices));
  o.groups = torch::zeros({5}, torch::kLong);
  EXPECT_THROW(Loader(ds, o), Error);
}

TEST(Loader, DropLastAndFullCoverage) {
  auto ds = counting_dataset(103);
  Loader dropping(ds, options(10, 2));
  EXPECT_EQ(dropping.batches_per_epoch(), 10);
  EXPECT_EQ(run_epoch(dropping, 0).size(), 10u);
  Loader keeping(ds, options(10, 2, false));
  EXPECT_EQ(keeping.batches_per_epoch(), 11);
  auto batches = run_epoch(keeping, 5);
  ASSERT_EQ(batches.size(), 11u);
  EXPECT_EQ(batches.back().indices.size(0), 3);
  std::vector<torch::Tensor> all;
  for (auto& b : batches) all.push_back(b.indices);
  EXPECT_TRUE(std::get<0>(torch::cat(all).sort()).equal(torch::arange(103)));
  EXPECT_FALSE(keeping.next().has_value());
}

TEST(Loader, ResumeMidEpochMatchesFullRun) {
  auto ds = counting_dataset(103);
  Loader full(ds, options(8, 2), noisy_view), resumed(ds, options(8, 1), noisy_view);
  auto all = run_epoch(full, 7);
  auto tail = run_epoch(resumed, 7, 4);
  ASSERT_EQ(tail.size(), all.size() - 4);
  EXPECT_EQ(tail[0].step, 4);
  for (size_t i = 0; i < tail.size(); ++i) {
    EXPECT_TRUE(tail[i].indices.equal(all[i + 4].indices));
    EXPECT_TRUE(tail[i].views[0].equal(all[i + 4].views[0]));
  }
}

TEST(Loader, TransformExceptionIsRethrownFromNext) {
  auto ds = counting_dataset(40);
  Loader loader(ds, options(10, 2), [](Batch& b, at::Generator&) {
    if (b.step == 2) throw std::runtime_error("augment failed at step 2");
  });
  loader.start_epoch(0);
  EXPECT_EQ(loader.next()->step, 0);
  EXPECT_EQ(loader.next()->step, 1);
  try {
    loader.next();
    ADD_FAILURE() << "expected the transform's exception";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "augment failed at step 2");
  }
  EXPECT_EQ(loader.next()->step, 3);
}

TEST(Loader, DestroyMidEpochDoesNotHangAndWaitIsMeasured) {
  auto ds = counting_dataset(1000);
  const auto t0 = std::chrono::steady_clock::now();
  {
    Loader loader(ds, options(10, 2), [](Batch&, at::Generator&) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    });
    loader.start_epoch(0);
    ASSERT_TRUE(loader.next().has_value());
    EXPECT_GT(loader.wait_seconds(), 0.005);
    loader.reset_wait_seconds();
    EXPECT_EQ(loader.wait_seconds(), 0.0);
    loader.start_epoch(1, 50);  // restart while workers are busy
    EXPECT_EQ(loader.next()->step, 50);
  }
  { Loader never_started(ds, options(10, 3)); }
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 2.0);
}
