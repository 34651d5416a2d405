// SentencePiece .model files (a protobuf), as a CLIP checkpoint stores its tokenizer and as
// `selfsup clip` reads a user's model, then one caption encoded with it.
//
// Built without AddressSanitizer: the library is opened with RTLD_DEEPBIND (clip/sentencepiece.cpp
// says why), which ASan refuses. UBSan and libFuzzer's own checks (crashes, leaks of memory
// limits, timeouts) still apply.
#include <cstdlib>

#include "fuzz_input.h"
#include "selfsup/clip/tokenizer.h"

using namespace selfsup;

// With SELFSUP_FUZZ_WRITE_SEED=PATH: trains a small model, writes it to PATH as the seed and exits.
void write_seed(const std::string& path) {
  const auto tokenizer = clip::train_sentencepiece(
      {"a dog runs through the grass", "two cats sleep on a sofa", "a man rides a bike on a road",
       "children play in the park", "a black dog and a white dog"},
      60);
  tokenizer->save(path);
  std::exit(0);
}

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  if (const char* seed = std::getenv("SELFSUP_FUZZ_WRITE_SEED")) write_seed(seed);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::unique_ptr<clip::Tokenizer> tokenizer;
  if (!fuzz::parses([&] { tokenizer = clip::sentencepiece_from_model(std::string(fuzz::as_text(data, size)), "fuzz.model"); }))
    return 0;
  const auto encoding = tokenizer->encode_one("a dog runs through the grass", 16);
  for (const auto id : encoding.ids)
    if (id < 0 || id >= tokenizer->vocab_size()) fuzz::finding("id outside the vocabulary");
  tokenizer->decode(encoding.ids);
  return 0;
}
