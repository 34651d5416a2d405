// IDX images + labels (raw or gzip: zlib reads both), as MNIST and Fashion-MNIST ship them.
// Input: byte 0 = n, the next n bytes the labels file, the rest the images file.
#include "fuzz_input.h"
#include "selfsup/data/idx.h"

using namespace selfsup;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto input = fuzz::as_text(data, size);
  if (input.empty()) return 0;
  const size_t n = std::min<size_t>(static_cast<uint8_t>(input[0]), input.size() - 1);
  const auto labels = fuzz::write_file("labels-idx1-ubyte", input.substr(1, n));
  const auto images = fuzz::write_file("images-idx3-ubyte", input.substr(1 + n));
  fuzz::parses([&] {
    const auto dataset = data::load_idx(images, labels, {});
    if (dataset.images.size(0) != dataset.labels.size(0)) fuzz::finding("images and labels differ in count");
    if (dataset.labels.numel() > 0 && dataset.labels.max().item<int64_t>() >= static_cast<int64_t>(dataset.class_names.size()))
      fuzz::finding("a label without a class name");
  });
  return 0;
}
