// The streaming loader's decoder: an encoded image (JPEG through libjpeg-turbo's region and
// DCT-scaled decoding, PNG/BMP through stb) cropped at boxes that exercise every DCT scale, the
// edges and a box reaching past the image, to RGB and to gray.
#include "fuzz_input.h"
#include "selfsup/data/encoded_image.h"

using namespace selfsup;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(fuzz::as_text(data, size));
  for (const int64_t channels : {3, 1}) {
    fuzz::parses([&] {
      const data::EncodedImage image(bytes, "image", channels);
      const double w = static_cast<double>(image.width()), h = static_cast<double>(image.height());
      const std::vector<std::pair<data::CropBox, int64_t>> crops{
          {{0, 0, w, h}, 16}, {{0, 0, w, h}, 3}, {{w / 3, h / 4, w / 2, h / 2}, 8}, {{w - 1, h - 1, 1, 1}, 5},
          {{w / 2, h / 2, w, h}, 7}};  // the last one reaches past the image
      for (const auto& [box, out] : crops) {
        const auto crop = image.crop(box, out, true);
        if (crop.sizes() != torch::IntArrayRef({channels, out, out})) fuzz::finding("crop has the wrong shape");
      }
    });
  }
  return 0;
}
