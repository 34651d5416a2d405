#include "selfsup/data/encoded_image.h"

#include <csetjmp>
#include <cstdio>
#include <jpeglib.h>
#include <jerror.h>

#include <algorithm>
#include <cmath>
#include <iostream>

#include "selfsup/core/error.h"
#include "selfsup/data/parallel.h"
#include "selfsup/data/resize.h"
#include "selfsup/data/stream.h"

namespace selfsup::data {
namespace {

// libjpeg reports errors through a callback that must not return: jump back to the decode call,
// which throws. Only a cut-short file (JWRN_JPEG_EOF) among the warnings is made an error:
// libjpeg would pad it with grey, while the others ("extraneous bytes before marker") are common
// in real photo collections and harmless.
struct JpegErrors {
  jpeg_error_mgr mgr;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX] = {0};
};

void on_error(j_common_ptr cinfo) {
  auto* e = reinterpret_cast<JpegErrors*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, e->message);
  std::longjmp(e->jump, 1);
}

void on_message(j_common_ptr cinfo, int level) {
  if (level < 0 && cinfo->err->msg_code == JWRN_JPEG_EOF) on_error(cinfo);
}

bool starts_with_jpeg_marker(const std::string& b) {
  return b.size() >= 3 && static_cast<uint8_t>(b[0]) == 0xFF && static_cast<uint8_t>(b[1]) == 0xD8 &&
         static_cast<uint8_t>(b[2]) == 0xFF;
}

}  // namespace

EncodedImage::EncodedImage(std::string bytes, std::string name, int64_t channels)
    : bytes_(std::move(bytes)), name_(std::move(name)), channels_(channels) {
  if (channels_ != 1 && channels_ != 3) throw Error(name_ + ": channels " + std::to_string(channels_) + ": expected 1 or 3");
  header_ = read_image_header({reinterpret_cast<const uint8_t*>(bytes_.data()), bytes_.size()}, name_);
}

bool EncodedImage::is_jpeg() const { return starts_with_jpeg_marker(bytes_); }

Pixels EncodedImage::decode_all() const {
  return decode_pixels({reinterpret_cast<const uint8_t*>(bytes_.data()), bytes_.size()}, name_, channels_);
}

int EncodedImage::dct_denominator(const CropBox& box, int64_t size) {
  const double shrink = std::min(box.w, box.h) / static_cast<double>(size);
  int d = 1;
  while (d < 8 && shrink >= 2.0 * d) d *= 2;
  return d;
}

torch::Tensor EncodedImage::crop(const CropBox& box, int64_t size, bool flip) const {
  if (size <= 0) throw Error(name_ + ": crop size " + std::to_string(size) + ": expected > 0");
  auto out = torch::empty({channels_, size, size}, torch::kUInt8);
  crop_into(box, size, flip, out.data_ptr<uint8_t>());
  return out;
}

void EncodedImage::crop_into(const CropBox& box, int64_t size, bool flip, uint8_t* out) const {
  if (size <= 0) throw Error(name_ + ": crop size " + std::to_string(size) + ": expected > 0");
  if (is_jpeg()) return crop_jpeg(box, size, flip, out);
  if (!pixels_) pixels_ = std::make_shared<Pixels>(decode_all());
  const PixelView view{pixels_->data.get(), pixels_->width, pixels_->height, channels_, pixels_->width * channels_};
  resize_region(view, box, size, flip, out);
}

// Decodes only the rows and the (MCU-aligned) columns the box needs, at the coarsest DCT scale
// that still leaves the box at least `size` pixels on its shorter side.
void EncodedImage::crop_jpeg(const CropBox& box, int64_t size, bool flip, uint8_t* out) const {
  jpeg_decompress_struct cinfo;
  JpegErrors errors;
  cinfo.err = jpeg_std_error(&errors.mgr);
  errors.mgr.error_exit = on_error;
  errors.mgr.emit_message = on_message;
  std::vector<uint8_t> rows;  // declared before setjmp: nothing with a destructor is created after it
  if (setjmp(errors.jump)) {
    jpeg_destroy_decompress(&cinfo);
    throw Error(name_ + ": cannot decode image: " + errors.message);
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, reinterpret_cast<const unsigned char*>(bytes_.data()), static_cast<unsigned long>(bytes_.size()));
  jpeg_read_header(&cinfo, TRUE);
  if (cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK) {
    // libjpeg cannot convert CMYK to RGB; stb can (rare in photo collections).
    jpeg_destroy_decompress(&cinfo);
    auto pixels = decode_all();
    const PixelView view{pixels.data.get(), pixels.width, pixels.height, channels_, pixels.width * channels_};
    resize_region(view, box, size, flip, out);
    return;
  }
  cinfo.out_color_space = channels_ == 1 ? JCS_GRAYSCALE : JCS_RGB;
  cinfo.scale_num = 1;
  cinfo.scale_denom = static_cast<unsigned>(dct_denominator(box, size));
  jpeg_start_decompress(&cinfo);
  // The box in the scaled image, widened by the filter's reach so the edges resample as a full
  // decode would.
  const double sx = static_cast<double>(cinfo.output_width) / static_cast<double>(header_.width);
  const double sy = static_cast<double>(cinfo.output_height) / static_cast<double>(header_.height);
  const CropBox scaled{box.x * sx, box.y * sy, box.w * sx, box.h * sy};
  const double reach_x = std::max(scaled.w / static_cast<double>(size), 1.0) + 1;
  const double reach_y = std::max(scaled.h / static_cast<double>(size), 1.0) + 1;
  const auto clamp_x = [&](double v) { return static_cast<JDIMENSION>(std::clamp(v, 0.0, static_cast<double>(cinfo.output_width))); };
  const auto clamp_y = [&](double v) { return static_cast<JDIMENSION>(std::clamp(v, 0.0, static_cast<double>(cinfo.output_height))); };
  JDIMENSION x0 = clamp_x(std::floor(scaled.x - reach_x));
  JDIMENSION width = clamp_x(std::ceil(scaled.x + scaled.w + reach_x)) - x0;
  const JDIMENSION y0 = clamp_y(std::floor(scaled.y - reach_y));
  const JDIMENSION y1 = std::max(clamp_y(std::ceil(scaled.y + scaled.h + reach_y)), y0 + 1);
  if (width < cinfo.output_width) jpeg_crop_scanline(&cinfo, &x0, &width);  // x0 moves to an MCU edge
  const int64_t stride = static_cast<int64_t>(width) * channels_;
  rows.resize(static_cast<size_t>(stride) * (y1 - y0));
  if (y0 > 0) jpeg_skip_scanlines(&cinfo, y0);
  while (cinfo.output_scanline < y1) {
    JSAMPROW row = rows.data() + static_cast<size_t>(cinfo.output_scanline - y0) * stride;
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  jpeg_abort_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  const PixelView view{rows.data(), static_cast<int64_t>(width), static_cast<int64_t>(y1 - y0), channels_, stride};
  const CropBox local{scaled.x - x0, scaled.y - y0, scaled.w, scaled.h};
  resize_region(view, local, size, flip, out);
}

torch::Tensor decode_center_crops(const StreamSource& stream, int64_t begin, int64_t end, int64_t size,
                                  double fraction, bool skip_bad, int64_t threads) {
  const int64_t n = end - begin;
  auto out = torch::empty({n, stream.channels, size, size}, torch::kUInt8);
  std::vector<std::exception_ptr> errors(static_cast<size_t>(n));
  parallel_for_each(n, threads, [&](int64_t i) {
    auto* slot = out[i].data_ptr<uint8_t>();
    try {
      const EncodedImage image(stream.read(begin + i), stream.where(begin + i), stream.channels);
      image.crop_into(center_crop_box(image.width(), image.height(), fraction), size, false, slot);
    } catch (const Error& e) {
      if (!skip_bad) {
        errors[static_cast<size_t>(i)] = std::current_exception();
        return;
      }
      std::cerr << "evaluating with a grey image for " << e.what() << std::endl;
      std::fill(slot, slot + stream.channels * size * size, uint8_t{128});
    }
  });
  for (const auto& e : errors)
    if (e) std::rethrow_exception(e);  // the first in list order
  return out;
}

}  // namespace selfsup::data
