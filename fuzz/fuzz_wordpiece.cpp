// A WordPiece vocab.txt and a caption: input = caption, a line "%%", the vocabulary. Encoding must
// give ids inside the vocabulary in the [CLS] ... [SEP] [PAD]... layout, for any bytes (invalid UTF-8
// included), cased and uncased.
#include "fuzz_input.h"
#include "selfsup/clip/tokenizer.h"

using namespace selfsup;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto parts = fuzz::split_at(fuzz::as_text(data, size), "\n%%\n");
  const std::string text(parts.first), vocab(parts.second);
  for (const bool lower_case : {true, false}) {
    std::unique_ptr<clip::Tokenizer> tokenizer;
    if (!fuzz::parses([&] { tokenizer = clip::wordpiece_from_vocab(vocab, "vocab.txt", lower_case); }))
      return 0;
    const auto encoding = tokenizer->encode_one(text, 16);
    if (encoding.ids.size() != 16 || encoding.mask.size() != 16) fuzz::finding("encoding is not 16 long");
    if (encoding.ids[0] != tokenizer->cls_id()) fuzz::finding("encoding does not start with [CLS]");
    for (const auto id : encoding.ids)
      if (id < 0 || id >= tokenizer->vocab_size()) fuzz::finding("id outside the vocabulary");
    tokenizer->decode(encoding.ids);
    const auto again = clip::tokenizer_from_serialized(tokenizer->kind(), tokenizer->serialize());
    if (again->encode_ids(text) != tokenizer->encode_ids(text))
      fuzz::finding("serialised tokenizer encodes differently");
  }
  return 0;
}
