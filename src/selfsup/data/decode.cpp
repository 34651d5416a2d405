#include "selfsup/data/decode.h"

#include "selfsup/core/error.h"

#include <stb_image.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <limits>
#include <memory>
#include <sstream>
#include <thread>

namespace selfsup::data {
namespace {

ByteSpan span_of(const std::vector<stbi_uc>& v) { return {v.data(), v.size()}; }

// The file's bytes, read once so the header probe and the decode do not open it twice.
std::vector<stbi_uc> read_image_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot decode image: cannot open file");
  std::vector<stbi_uc> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (bytes.size() > static_cast<size_t>(std::numeric_limits<int>::max()))
    throw Error(path + ": cannot decode image: file larger than 2 GiB");
  return bytes;
}

// stb answers "unknown image type" whenever no decoder accepts the header, which hides what the
// file is: say whether it is empty, a damaged PNG/JPEG/BMP, or something else.
[[noreturn]] void throw_undecodable(const std::string& path, const ByteSpan& bytes) {
  const char* stb = stbi_failure_reason();
  std::string reason = stb ? stb : "unknown reason";
  auto starts_with = [&](std::initializer_list<int> magic) {
    if (bytes.size() < magic.size()) return false;
    size_t i = 0;
    for (int b : magic)
      if (bytes[i++] != b) return false;
    return true;
  };
  if (bytes.empty()) {
    reason = "the file is empty";
  } else if (reason == "unknown image type") {
    if (starts_with({0x89, 'P', 'N', 'G'})) reason = "a PNG whose header is truncated or corrupt";
    else if (starts_with({0xFF, 0xD8})) reason = "a JPEG whose header is truncated or corrupt";
    else if (starts_with({'B', 'M'})) reason = "a BMP whose header is truncated or corrupt";
    else reason = "not a PNG, JPEG or BMP file";
  }
  throw Error(path + ": cannot decode image: " + reason);
}

// stb_image 2.27 (Debian 12's) trusts the code counts of a JPEG Huffman table: counts adding up
// to more than 256 overflow its tables (fixed upstream in 2.28; found by fuzz/fuzz_image.cpp).
// So every DHT segment is checked first, walking the segments the way stb reads them: a marker
// and its length, and byte by byte through entropy-coded data (where 0xFF is followed by 0x00 or
// a restart marker).
void check_jpeg_huffman_tables(const std::string& path, const ByteSpan& b) {
  // stb takes any run of 0xFF fill bytes before the start-of-image marker.
  size_t i = 0;
  while (i < b.size() && b[i] == 0xFF) ++i;
  if (i == 0 || i >= b.size() || b[i] != 0xD8) return;
  ++i;
  while (i + 4 <= b.size()) {
    const int marker = b[i + 1];
    if (b[i] != 0xFF || marker == 0xFF) {  // entropy-coded data or a fill byte
      ++i;
      continue;
    }
    if (marker == 0x00 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD9)) {  // no length field
      i += 2;
      continue;
    }
    const size_t length = size_t{b[i + 2]} << 8 | b[i + 3];
    if (marker == 0xC4) {
      int64_t left = static_cast<int64_t>(length) - 2;  // stb reads tables while bytes are left
      for (size_t t = i + 4; left > 0 && t < b.size();) {
        int codes = 0;
        for (size_t k = 1; k <= 16 && t + k < b.size(); ++k) codes += b[t + k];  // stb reads 0 past the end
        if (codes > 256)
          throw Error(path + ": cannot decode image: a JPEG whose Huffman table declares " + std::to_string(codes) +
                      " codes (at most 256): the file is corrupt");
        t += 17 + codes;
        left -= 17 + codes;
      }
    }
    i += 2 + length;
  }
}

constexpr int64_t kMaxPixels = int64_t{1} << 28;  // 16384 x 16384: far beyond any training image

// Components stored in the file: 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA.
int file_components(const std::string& path, const ByteSpan& bytes, int* w, int* h) {
  check_jpeg_huffman_tables(path, bytes);
  int c = 0;
  if (!stbi_info_from_memory(bytes.data(), static_cast<int>(bytes.size()), w, h, &c))
    throw_undecodable(path, bytes);
  // The header alone decides the allocation: a damaged one must not ask for gigabytes, nor give a
  // negative size (a BMP's width is signed; found by fuzz/fuzz_image.cpp).
  const std::string says = path + ": cannot decode image: its header says " + std::to_string(*w) + "x" +
                           std::to_string(*h) + " pixels";
  if (*w <= 0 || *h <= 0) throw Error(says + ": the file is corrupt");
  if (int64_t{*w} * *h > kMaxPixels)
    throw Error(says + ", more than the " + std::to_string(kMaxPixels >> 20) + " Mpx this reader accepts");
  return c;
}

struct Geometry {
  int64_t channels, height, width;
};

// Output geometry from the first image's header, so the result can be allocated up front.
Geometry plan_geometry(const std::string& first, int64_t size, int64_t channels) {
  int w = 0, h = 0;
  const int c = file_components(first, span_of(read_image_file(first)), &w, &h);
  if (channels == 0) channels = c <= 2 ? 1 : 3;  // gray or gray+alpha -> 1
  return {channels, size > 0 ? size : h, size > 0 ? size : w};
}

torch::Tensor resize(const torch::Tensor& chw, int64_t height, int64_t width) {
  namespace F = torch::nn::functional;
  auto out = F::interpolate(chw.unsqueeze(0).to(torch::kFloat),
                            F::InterpolateFuncOptions()
                                .size(std::vector<int64_t>{height, width})
                                .mode(torch::kBilinear)
                                .align_corners(false)
                                .antialias(true));
  return out.squeeze(0).round_().clamp_(0, 255).to(torch::kUInt8);
}

// In place: `channels`+1 interleaved components with alpha last -> `channels` components over
// white. The write index never passes the read index, so one forward pass is safe.
void composite_on_white(stbi_uc* pixels, int64_t count, int64_t channels) {
  const int64_t stride = channels + 1;
  for (int64_t p = 0; p < count; ++p) {
    const int a = pixels[p * stride + channels];
    for (int64_t k = 0; k < channels; ++k) {
      const int v = pixels[p * stride + k];
      pixels[p * channels + k] = static_cast<stbi_uc>((v * a + 255 * (255 - a) + 127) / 255);
    }
  }
}

}  // namespace

ImageHeader read_image_header(const ByteSpan& bytes, const std::string& name) {
  ImageHeader h;
  int w = 0, ht = 0;
  h.components = file_components(name, bytes, &w, &ht);
  h.width = w;
  h.height = ht;
  return h;
}

Pixels decode_pixels(const ByteSpan& bytes, const std::string& name, int64_t channels) {
  int w = 0, h = 0;
  const int c = file_components(name, bytes, &w, &h);
  if (channels == 0) channels = c <= 2 ? 1 : 3;
  // Alpha is loaded along with the colour (stb converts both together) and then flattened.
  const bool alpha = c == 2 || c == 4;
  const int load_channels = static_cast<int>(channels) + (alpha ? 1 : 0);
  int file_c = 0;
  Pixels p{{stbi_load_from_memory(bytes.data(), static_cast<int>(bytes.size()), &w, &h, &file_c, load_channels),
            stbi_image_free},
           w, h, channels};
  if (!p.data) throw_undecodable(name, bytes);
  if (alpha) composite_on_white(p.data.get(), int64_t{w} * h, channels);
  return p;
}

namespace {

// Decodes one file into out (C x H x W uint8).
void decode_into(const std::string& path, const Geometry& g, bool resize_to_fit, torch::Tensor out) {
  const auto bytes = read_image_file(path);
  const auto p = decode_pixels(span_of(bytes), path, g.channels);
  const int64_t w = p.width, h = p.height;
  auto chw = torch::from_blob(p.data.get(), {h, w, g.channels}, torch::kUInt8).permute({2, 0, 1});
  if (h == g.height && w == g.width) {
    out.copy_(chw);
  } else if (resize_to_fit) {
    out.copy_(resize(chw, g.height, g.width));
  } else {
    std::ostringstream msg;
    msg << path << ": image is " << h << "x" << w << ": expected " << g.height << "x" << g.width
        << " like the first image (or pass a size to resize)";
    throw Error(msg.str());
  }
}

void check_arguments(int64_t size, int64_t channels) {
  if (channels != 0 && channels != 1 && channels != 3)
    throw Error("decode: channels " + std::to_string(channels) + ": expected 0, 1 or 3");
  if (size < 0) throw Error("decode: size " + std::to_string(size) + ": expected >= 0");
}

}  // namespace

bool is_image_file(const std::string& path) {
  auto ext = std::filesystem::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".bmp";
}

// The error of the first failing file (in list order) wins, so the message does not depend on
// thread timing.
torch::Tensor decode_images(const std::vector<std::string>& paths, int64_t size, int64_t channels,
                            int64_t threads) {
  check_arguments(size, channels);
  const auto n = static_cast<int64_t>(paths.size());
  if (n == 0) return torch::empty({0, channels == 0 ? 3 : channels, size, size}, torch::kUInt8);
  const auto g = plan_geometry(paths.front(), size, channels);
  auto images = torch::empty({n, g.channels, g.height, g.width}, torch::kUInt8);

  std::atomic<int64_t> next{0};
  std::atomic<int64_t> first_error{std::numeric_limits<int64_t>::max()};
  std::vector<std::exception_ptr> errors(paths.size());
  auto work = [&] {
    torch::NoGradGuard no_grad;
    for (int64_t i = next++; i < n && i < first_error.load(); i = next++) {
      try {
        decode_into(paths[i], g, size > 0, images[i]);
      } catch (...) {
        errors[i] = std::current_exception();
        int64_t seen = first_error.load();
        while (i < seen && !first_error.compare_exchange_weak(seen, i)) {
        }
      }
    }
  };
  if (threads <= 0) threads = std::clamp<int64_t>(std::thread::hardware_concurrency(), 1, 4);
  threads = std::min(threads, n);
  std::vector<std::thread> pool;
  for (int64_t t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (auto& thread : pool) thread.join();
  if (first_error.load() < n) std::rethrow_exception(errors[first_error.load()]);
  return images;
}

torch::Tensor decode_image(const std::string& path, int64_t size, int64_t channels) {
  return decode_images({path}, size, channels, 1)[0];
}

torch::Tensor decode_image_bytes(const ByteSpan& bytes, const std::string& name, int64_t size, int64_t channels) {
  check_arguments(size, channels);
  if (channels == 0) throw Error("decode: channels 0: expected 1 or 3 for an image in memory");
  const auto p = decode_pixels(bytes, name, channels);
  const auto chw = torch::from_blob(p.data.get(), {p.height, p.width, channels}, torch::kUInt8).permute({2, 0, 1});
  if (size == 0 || (p.height == size && p.width == size)) return chw.clone();
  return resize(chw, size, size);
}

}  // namespace selfsup::data
