// Image file decoding shared by the in-memory datasets (image folders, Flickr8k, emoji): PNG, JPEG
// and BMP files to uint8 tensors, on a few threads, with transparency composited onto white.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace selfsup::data {

// Bytes of an encoded image, owned elsewhere.
struct ByteSpan {
  const uint8_t* ptr = nullptr;
  size_t length = 0;
  const uint8_t* data() const { return ptr; }
  size_t size() const { return length; }
  bool empty() const { return length == 0; }
  uint8_t operator[](size_t i) const { return ptr[i]; }
};

struct ImageHeader {
  int64_t width = 0, height = 0;
  int components = 0;  // stored in the file: 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA
};

// Interleaved 8-bit pixels (H x W x channels), alpha already composited onto white.
struct Pixels {
  std::unique_ptr<uint8_t, void (*)(void*)> data;
  int64_t width, height, channels;
};

// The size and components of a PNG, JPEG or BMP from its header, checked as decode_images checks
// them (sizes, the pixel limit, JPEG Huffman tables). Throws selfsup::Error naming `name`.
ImageHeader read_image_header(const ByteSpan& bytes, const std::string& name);

// One encoded image decoded by stb to `channels` (1 or 3; 0 = from the file, as decode_images).
Pixels decode_pixels(const ByteSpan& bytes, const std::string& name, int64_t channels);

// True for the extensions the decoder reads: .png .jpg .jpeg .bmp (any case).
bool is_image_file(const std::string& path);

// Decodes every file into one N x C x S x S uint8 tensor (C x H x W when size is 0, from the
// first image; all images must then have that size). channels: 1 or 3, or 0 = from the first
// image (gray or gray+alpha -> 1, else 3). Images with an alpha channel are composited onto a
// white background (out = a*rgb + (1-a)*255) before the antialiased bilinear resize, so
// transparent emoji come out on white rather than on whatever their invisible pixels hold.
// threads: 0 = the machine's cores, at most 4. An empty list gives 0 x C x S x S (channels 0
// -> 3). Throws selfsup::Error naming the first failing file in list order.
torch::Tensor decode_images(const std::vector<std::string>& paths, int64_t size, int64_t channels,
                            int64_t threads = 0);

// One file as C x S x S (C x H x W when size is 0), decoded like decode_images.
torch::Tensor decode_image(const std::string& path, int64_t size, int64_t channels);
// The same from bytes in memory (an upload): the header is checked (sizes, the pixel limit) before
// anything is allocated; `name` is for the error message. channels: 1 or 3.
torch::Tensor decode_image_bytes(const ByteSpan& bytes, const std::string& name, int64_t size, int64_t channels);

}  // namespace selfsup::data
