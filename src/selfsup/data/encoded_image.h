// One encoded image held as bytes and decoded on demand, straight into a crop: JPEG through
// libjpeg-turbo, decoding only the rows and columns the crop needs and using its DCT scaling (1/2,
// 1/4, 1/8) when the crop is downscaled by that much; PNG and BMP through stb. The streaming
// loader's hot path.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <string>

#include "selfsup/data/crop.h"
#include "selfsup/data/decode.h"

namespace selfsup::data {

class EncodedImage {
 public:
  // Reads the header (size, components); channels 1 or 3 is what crop() returns. Throws
  // selfsup::Error naming `name` for a file that is not a readable PNG/JPEG/BMP.
  EncodedImage(std::string bytes, std::string name, int64_t channels);

  int64_t width() const { return header_.width; }
  int64_t height() const { return header_.height; }
  const std::string& name() const { return name_; }

  // `box` (in this image's pixels) resized to size x size as C x S x S uint8, mirrored when
  // flip. A JPEG cut short or with corrupt data is an error (libjpeg would fill it with grey).
  torch::Tensor crop(const CropBox& box, int64_t size, bool flip) const;
  // The same into `out` (size x size planes, C x S x S bytes): the loader's batch slot.
  void crop_into(const CropBox& box, int64_t size, bool flip, uint8_t* out) const;

  // The whole image decoded with stb (the in-memory path), H x W x C: for tests and checks.
  Pixels decode_all() const;

  // The DCT scale denominator (1, 2, 4 or 8) crop() uses for a JPEG box resized to `size`.
  static int dct_denominator(const CropBox& box, int64_t size);

 private:
  bool is_jpeg() const;
  void crop_jpeg(const CropBox& box, int64_t size, bool flip, uint8_t* out) const;

  std::string bytes_, name_;
  int64_t channels_;
  ImageHeader header_;
  mutable std::shared_ptr<Pixels> pixels_;  // PNG/BMP: decoded once, shared by the crops of one image
};

}  // namespace selfsup::data

namespace selfsup::data {

struct StreamSource;

// Evaluation crops of samples [begin, end) of a stream: the centred square of `fraction` x the
// shorter side, resized to size x size, as B x C x S x S uint8, decoded on `threads` threads (0 =
// the machine's cores). skip_bad: an undecodable image becomes mid-grey (with a warning) rather
// than an error.
torch::Tensor decode_center_crops(const StreamSource& stream, int64_t begin, int64_t end, int64_t size,
                                  double fraction, bool skip_bad, int64_t threads = 0);

}  // namespace selfsup::data
