#include "selfsup/data/idx.h"

#include "selfsup/core/error.h"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <sstream>

namespace selfsup::data {
namespace {

constexpr uint32_t kImagesMagic = 0x00000803;  // unsigned bytes, 3 dimensions
constexpr uint32_t kLabelsMagic = 0x00000801;  // unsigned bytes, 1 dimension

// gzopen/gzread read gzip and raw files alike, so one reader serves both.
class GzFile {
 public:
  explicit GzFile(std::string path) : path_(std::move(path)) {
    if (!std::filesystem::is_regular_file(path_)) throw Error(path_ + ": no such file");
    file_ = gzopen(path_.c_str(), "rb");
    if (!file_) throw Error(path_ + ": cannot open: " + std::strerror(errno));
    gzbuffer(file_, 1 << 17);
  }
  ~GzFile() { gzclose(file_); }
  GzFile(const GzFile&) = delete;
  GzFile& operator=(const GzFile&) = delete;

  const std::string& path() const { return path_; }

  // Up to n bytes; fewer only at end of data (a truncated gzip stream counts as its end).
  size_t read(uint8_t* dst, size_t n) {
    size_t got = 0;
    while (got < n) {
      const auto chunk = static_cast<unsigned>(std::min<size_t>(n - got, size_t{1} << 24));
      const int r = gzread(file_, dst + got, chunk);
      if (r <= 0) break;
      got += static_cast<size_t>(r);
    }
    int err = Z_OK;
    const char* message = gzerror(file_, &err);
    // Z_BUF_ERROR is zlib's "unexpected end of file": reported by the caller as truncation.
    if (err != Z_OK && err != Z_BUF_ERROR) {
      std::string what = message;  // zlib prefixes its message with the path: keep it once
      if (what.rfind(path_ + ": ", 0) == 0) what = what.substr(path_.size() + 2);
      throw Error(path_ + ": corrupt gzip data: " + what);
    }
    return got;
  }

  // The data must end after the header's `expected` bytes of `what`. Reading up to the end also
  // makes zlib check the gzip trailer (CRC-32 and length), so a flipped byte anywhere in a .gz
  // file is an error instead of silently wrong pixels.
  void expect_end(size_t expected, const std::string& what) {
    uint8_t extra = 0;
    if (read(&extra, 1) != 0)
      throw Error(path_ + ": more data after the header's " + std::to_string(expected) + " bytes of " + what +
                  ": not an IDX file of the size its header gives");
    int err = Z_OK;
    gzerror(file_, &err);
    if (err == Z_BUF_ERROR) throw Error(path_ + ": truncated gzip stream: its trailer (CRC-32, length) is missing");
  }

 private:
  std::string path_;
  gzFile file_ = nullptr;
};

[[noreturn]] void throw_truncated(const GzFile& f, const std::string& what, size_t expected,
                                  size_t got) {
  std::ostringstream msg;
  msg << f.path() << ": truncated: expected " << expected << " bytes of " << what << ", got "
      << got;
  throw Error(msg.str());
}

// Exactly n bytes, grown in chunks so a corrupt header cannot trigger a huge allocation.
std::vector<uint8_t> read_exact(GzFile& f, size_t n, const std::string& what) {
  std::vector<uint8_t> out;
  while (out.size() < n) {
    const size_t old = out.size();
    const size_t want = std::min(n - old, std::max<size_t>(size_t{1} << 24, old));
    out.resize(old + want);
    const size_t got = f.read(out.data() + old, want);
    if (got < want) throw_truncated(f, what, n, old + got);
  }
  return out;
}

uint32_t big_endian_u32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

// The magic number followed by one 32-bit size per dimension.
std::vector<int64_t> read_header(GzFile& f, uint32_t magic, size_t dims, const char* kind) {
  // Magic first, so a wrong kind of file is reported as such even when it is short.
  const uint32_t found = big_endian_u32(read_exact(f, 4, "magic number").data());
  if (found != magic) {
    std::ostringstream msg;
    msg << f.path() << ": bad magic number 0x" << std::hex << found << ": expected 0x" << magic
        << " (IDX " << kind << " file)";
    throw Error(msg.str());
  }
  const auto bytes = read_exact(f, 4 * dims, "header");
  std::vector<int64_t> sizes;
  for (size_t d = 0; d < dims; ++d) sizes.push_back(big_endian_u32(bytes.data() + 4 * d));
  return sizes;
}

torch::Tensor read_images(const std::string& path) {
  GzFile f(path);
  const auto dims = read_header(f, kImagesMagic, 3, "image");
  const int64_t n = dims[0], h = dims[1], w = dims[2];
  if (n == 0 || h == 0 || w == 0) {
    std::ostringstream msg;
    msg << path << ": empty image set " << n << "x" << h << "x" << w
        << ": expected at least one non-empty image";
    throw Error(msg.str());
  }
  // Each size is below 2^32, so h * w fits; the product with n may not, and a header declaring more
  // than 2^40 bytes (1 TiB) of pixels is corrupt whatever the file holds.
  const uint64_t image_bytes = static_cast<uint64_t>(h) * static_cast<uint64_t>(w);
  if (static_cast<uint64_t>(n) > (uint64_t{1} << 40) / image_bytes) {
    std::ostringstream msg;
    msg << path << ": header declares " << n << " images of " << h << "x" << w << ": more than 1 TiB, a corrupt header";
    throw Error(msg.str());
  }
  auto pixels = read_exact(f, static_cast<size_t>(n * h * w), "pixels");
  f.expect_end(pixels.size(), "pixels");
  return torch::from_blob(pixels.data(), {n, 1, h, w}, torch::kUInt8).clone();
}

torch::Tensor read_labels(const std::string& path) {
  GzFile f(path);
  const int64_t n = read_header(f, kLabelsMagic, 1, "label")[0];
  auto bytes = read_exact(f, static_cast<size_t>(n), "labels");
  f.expect_end(bytes.size(), "labels");
  return torch::from_blob(bytes.data(), {n}, torch::kUInt8).to(torch::kLong);
}

void check_labels(const torch::Tensor& labels, const std::string& path,
                  const std::vector<std::string>& class_names) {
  const int64_t classes = static_cast<int64_t>(class_names.size());
  const auto bad = (labels >= classes).nonzero();
  if (bad.size(0) == 0) return;
  const int64_t at = bad[0][0].item<int64_t>();
  std::ostringstream msg;
  msg << path << ": label " << labels[at].item<int64_t>() << " at index " << at
      << " is out of range: expected 0.." << classes - 1 << " (" << classes << " classes)";
  throw Error(msg.str());
}

std::vector<std::string> numbered_classes(int64_t count) {
  std::vector<std::string> names;
  for (int64_t i = 0; i < count; ++i) names.push_back(std::to_string(i));
  return names;
}

// name.gz is preferred over a raw name when both exist.
std::string find_idx_file(const std::string& root, const std::string& name) {
  const auto base = std::filesystem::path(root) / name;
  for (const char* suffix : {".gz", ""}) {
    auto candidate = base.string() + suffix;
    if (std::filesystem::is_regular_file(candidate)) return candidate;
  }
  throw Error(base.string() + "(.gz): no such file");
}

}  // namespace

ImageDataset load_idx(const std::string& images_path, const std::string& labels_path,
                      std::vector<std::string> class_names) {
  ImageDataset ds;
  ds.images = read_images(images_path);
  ds.labels = read_labels(labels_path);
  if (ds.images.size(0) != ds.labels.size(0)) {
    std::ostringstream msg;
    msg << labels_path << ": " << ds.labels.size(0) << " labels: expected " << ds.images.size(0)
        << " (one per image in " << images_path << ")";
    throw Error(msg.str());
  }
  if (class_names.empty()) class_names = numbered_classes(ds.labels.max().item<int64_t>() + 1);
  check_labels(ds.labels, labels_path, class_names);
  ds.class_names = std::move(class_names);
  ds.source = images_path;
  return ds;
}

ImageDataset load_mnist_like(const std::string& root, bool train,
                             std::vector<std::string> class_names) {
  const std::string prefix = train ? "train" : "t10k";
  const auto images = find_idx_file(root, prefix + "-images-idx3-ubyte");
  const auto labels = find_idx_file(root, prefix + "-labels-idx1-ubyte");
  return load_idx(images, labels, std::move(class_names));
}

std::vector<std::string> fashion_mnist_classes() {
  return {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
          "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
}

std::vector<std::string> mnist_classes() { return numbered_classes(10); }

}  // namespace selfsup::data
