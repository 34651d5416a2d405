#include "selfsup/clip/tokenizer.h"

#include <algorithm>

#include "selfsup/core/error.h"
#include "selfsup/core/fs.h"

namespace selfsup::clip {

Encoding Tokenizer::encode_one(const std::string& text, int64_t max_length) const {
  if (max_length < 2)
    throw Error("max_length " + std::to_string(max_length) + " too small: expected >= 2 (room for [CLS] and [SEP])");
  const auto body = encode_ids(text);
  const auto kept = std::min<int64_t>(static_cast<int64_t>(body.size()), max_length - 2);
  Encoding out;
  out.ids.reserve(static_cast<size_t>(max_length));
  out.ids.push_back(cls_id_);
  out.ids.insert(out.ids.end(), body.begin(), body.begin() + kept);
  out.ids.push_back(sep_id_);
  out.mask.assign(out.ids.size(), 1);
  out.ids.resize(static_cast<size_t>(max_length), pad_id_);
  out.mask.resize(static_cast<size_t>(max_length), 0);
  return out;
}

TokenBatch Tokenizer::encode(const std::vector<std::string>& texts, int64_t max_length) const {
  const auto batch = static_cast<int64_t>(texts.size());
  auto ids = torch::empty({batch, max_length}, torch::kLong);
  auto mask = torch::empty({batch, max_length}, torch::kLong);
  auto* ids_data = ids.data_ptr<int64_t>();
  auto* mask_data = mask.data_ptr<int64_t>();
  for (int64_t b = 0; b < batch; ++b) {
    const auto row = encode_one(texts[static_cast<size_t>(b)], max_length);
    std::copy(row.ids.begin(), row.ids.end(), ids_data + b * max_length);
    std::copy(row.mask.begin(), row.mask.end(), mask_data + b * max_length);
  }
  return {ids, mask};
}

void Tokenizer::save(const std::string& path) const {
  atomic_write(path, serialize());
}

std::unique_ptr<Tokenizer> tokenizer_from_serialized(const std::string& kind, const std::string& data) {
  if (kind == "wordpiece" || kind == "wordpiece_cased")
    return wordpiece_from_vocab(data, "serialized " + kind + " vocab", kind == "wordpiece");
  if (kind == "sentencepiece") return sentencepiece_from_model(data, "serialized sentencepiece model");
  throw Error("unknown tokenizer kind '" + kind + "': expected wordpiece, wordpiece_cased or sentencepiece");
}

}  // namespace selfsup::clip

