// Caption tokenizers for CLIP's text tower: BERT's WordPiece when a vocab.txt is given, otherwise a
// SentencePiece model or a whole-word vocabulary trained on the captions themselves. All produce the
// same layout, [CLS] tokens... [SEP] [PAD]..., so the text model does not care which one it got.
//
//   auto tok = load_wordpiece("bert-base-uncased/vocab.txt");   // or train_sentencepiece(captions)
//   auto batch = tok->encode({"a dog", "two cats"}, 32);        // ids, mask: 2 x 32 int64
//   auto same = tokenizer_from_serialized(tok->kind(), tok->serialize());  // e.g. from a checkpoint
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace selfsup::clip {

// One text: ids [CLS] ... [SEP] padded with [PAD] to max_length; mask 1 on real tokens, 0 on pads.
struct Encoding {
  std::vector<int64_t> ids, mask;
};

// A batch of texts: B x L int64 tensors, rows laid out as in Encoding.
struct TokenBatch {
  torch::Tensor ids, mask;
};

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // Subword ids of `text` without special tokens and without truncation.
  virtual std::vector<int64_t> encode_ids(const std::string& text) const = 0;
  // The vocabulary entry of one id; throws selfsup::Error when out of range.
  virtual std::string id_to_token(int64_t id) const = 0;
  // Text back from ids, dropping [CLS]/[SEP]/[PAD] (for debugging: lower-cased, accents stripped).
  virtual std::string decode(const std::vector<int64_t>& ids) const = 0;
  virtual int64_t vocab_size() const = 0;
  // "wordpiece" (lower-cased), "wordpiece_cased" or "sentencepiece": the key for tokenizer_from_serialized.
  virtual std::string kind() const = 0;
  // Enough to rebuild the tokenizer: the vocab.txt text, or the SentencePiece model bytes.
  virtual std::string serialize() const = 0;

  // [CLS] + encode_ids(text) truncated to max_length - 2 + [SEP], then [PAD] up to max_length.
  // Throws selfsup::Error if max_length < 2.
  Encoding encode_one(const std::string& text, int64_t max_length) const;
  TokenBatch encode(const std::vector<std::string>& texts, int64_t max_length) const;
  // Writes serialize() to `path` (a vocab.txt or a .model file) with atomic_write.
  void save(const std::string& path) const;

  int64_t pad_id() const { return pad_id_; }
  int64_t unk_id() const { return unk_id_; }
  int64_t cls_id() const { return cls_id_; }
  int64_t sep_id() const { return sep_id_; }

 protected:
  int64_t pad_id_ = 0, unk_id_ = 0, cls_id_ = 0, sep_id_ = 0;
};

// BERT's tokenizer (Google's tokenization.py: BasicTokenizer then greedy longest-match-first
// WordPiece with "##" continuations, [UNK] for words that do not split or exceed 100 characters).
// `vocab_txt_path` holds one token per line, id = line number, and must contain [PAD], [UNK], [CLS]
// and [SEP]. lower_case = true is the "uncased" model: lower-case and strip accents.
std::unique_ptr<Tokenizer> load_wordpiece(const std::string& vocab_txt_path, bool lower_case = true);

// Trains a SentencePiece model on `texts` (case-folded by the nmt_nfkc_cf normalizer, which the
// model keeps, so encoding folds case too). Pieces 0..3 are [PAD] [UNK] [CLS] [SEP]. model_type is
// "bpe" (default: it fills `vocab_size` even on a few hundred captions, where unigram's pruning
// stops far short, e.g. 45 of 100 pieces) or "unigram"; `vocab_size` is an upper bound for both.
// Deterministic for the same texts and arguments, and silent.
std::unique_ptr<Tokenizer> train_sentencepiece(const std::vector<std::string>& texts, int64_t vocab_size = 8000,
                                               const std::string& model_type = "bpe", uint32_t seed = 0);

// Whole words: BERT's BasicTokenizer (lower-cased) over `texts`, the vocab_size - 4 most frequent
// words (ties alphabetically) after [PAD] [UNK] [CLS] [SEP]; any other word is one [UNK]. Stored as
// a WordPiece vocabulary without "##" pieces (kind "wordpiece"), so checkpoints need nothing new.
// Throws selfsup::Error if vocab_size < 5.
std::unique_ptr<Tokenizer> train_words(const std::vector<std::string>& texts, int64_t vocab_size);

// A .model file written by save() of a trained SentencePiece tokenizer.
std::unique_ptr<Tokenizer> load_sentencepiece(const std::string& model_path);

// The same from the text of a vocab.txt / the bytes of a .model file; `source` names them in errors.
std::unique_ptr<Tokenizer> wordpiece_from_vocab(const std::string& vocab_text, const std::string& source,
                                                bool lower_case = true);
std::unique_ptr<Tokenizer> sentencepiece_from_model(const std::string& model, const std::string& source);

// Rebuilds a tokenizer from kind() and serialize(), e.g. as stored in a checkpoint.
std::unique_ptr<Tokenizer> tokenizer_from_serialized(const std::string& kind, const std::string& data);

}  // namespace selfsup::clip
