// Image decoding (PNG, JPEG, BMP and whatever else stb_image recognises): at the file's own size
// and resized to 16 x 16 RGB, as the image-folder, Flickr8k and emoji loaders call it.
//
// stb_image's implementation is compiled into this target so that libFuzzer sees its branches
// (the shared libstb the library links is not instrumented); the executable's definitions take
// precedence over the shared library's.
#define STB_IMAGE_IMPLEMENTATION
#include <stb/stb_image.h>

#include "fuzz_input.h"
#include "selfsup/data/decode.h"

using namespace selfsup;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto path = fuzz::write_file("image.png", fuzz::as_text(data, size));
  fuzz::parses([&] {
    const auto image = data::decode_image(path, 0, 0);
    if (image.dim() != 3 || (image.size(0) != 1 && image.size(0) != 3)) fuzz::finding("decoded image is not 1|3 x H x W");
  });
  fuzz::parses([&] {
    const auto image = data::decode_image(path, 16, 3);
    if (image.sizes() != torch::IntArrayRef({3, 16, 16})) fuzz::finding("resized image is not 3 x 16 x 16");
  });
  return 0;
}
