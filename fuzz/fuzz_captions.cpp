// Flickr8k captions files (captions.txt / the seed's captions.csv: RFC 4180 CSV with a header) over
// a folder of two images, a.png and b.png, loaded as the train and the val split.
#include <stb/stb_image_write.h>

#include "fuzz_input.h"
#include "selfsup/data/captions.h"

using namespace selfsup;

namespace {

std::string root;

void write_images() {
  root = fuzz::work_dir() + "/flickr";
  std::filesystem::create_directories(root + "/Images");
  const unsigned char pixels[4 * 4 * 3] = {10, 200, 30, 40, 50, 60};
  for (const char* name : {"a.png", "b.png"})
    if (!stbi_write_png((root + "/Images/" + name).c_str(), 4, 4, 3, pixels, 4 * 3)) fuzz::finding("cannot write images");
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  write_images();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::write_file("flickr/captions.txt", fuzz::as_text(data, size));
  for (const char* split : {"train", "val"})
    fuzz::parses([&] {
      const auto dataset = data::load_flickr8k(root, split, 8);
      dataset.validate();
      for (const auto& caption : dataset.captions)
        if (caption.empty()) fuzz::finding("an empty caption was accepted");
    });
  return 0;
}
