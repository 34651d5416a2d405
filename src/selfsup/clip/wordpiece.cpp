// BERT's WordPiece tokenizer (Google's tokenization.py): BasicTokenizer (clip/unicode.h), then
// greedy longest-match-first subwords with "##" continuations.
#include <algorithm>
#include <sstream>
#include <unordered_map>
#include <utility>

#include "selfsup/clip/tokenizer.h"
#include "selfsup/clip/unicode.h"
#include "selfsup/core/error.h"
#include "selfsup/core/fs.h"

namespace selfsup::clip {
namespace {

class WordPiece final : public Tokenizer {
 public:
  // `source` names the vocab in error messages (a path, or "serialized wordpiece vocab").
  WordPiece(const std::string& vocab_text, const std::string& source, bool lower_case) : lower_case_(lower_case) {
    std::istringstream lines(vocab_text);
    std::string line;
    while (std::getline(lines, line)) {
      // Like tokenization.py's load_vocab: surrounding whitespace is not part of the token, and a
      // repeated token maps to its last line.
      const auto first = line.find_first_not_of(" \t\r\f\v");
      const auto last = line.find_last_not_of(" \t\r\f\v");
      std::string token = first == std::string::npos ? std::string() : line.substr(first, last - first + 1);
      if (!is_valid_utf8(token))
        throw Error(source + ":" + std::to_string(tokens_.size() + 1) + ": not valid UTF-8: expected one token per line");
      ids_[token] = static_cast<int64_t>(tokens_.size());
      tokens_.push_back(std::move(token));
    }
    if (tokens_.empty()) throw Error(source + ": empty vocab: expected one token per line (BERT's vocab.txt)");
    pad_id_ = special(source, "[PAD]");
    unk_id_ = special(source, "[UNK]");
    cls_id_ = special(source, "[CLS]");
    sep_id_ = special(source, "[SEP]");
  }

  std::vector<int64_t> encode_ids(const std::string& text) const override {
    std::vector<int64_t> ids;
    for (const auto& word : basic_tokenize(text, lower_case_)) append_word(word, ids);
    return ids;
  }

  std::string id_to_token(int64_t id) const override {
    if (id < 0 || id >= vocab_size())
      throw Error("token id " + std::to_string(id) + " out of range: expected [0, " + std::to_string(vocab_size()) + ")");
    return tokens_[static_cast<size_t>(id)];
  }

  std::string decode(const std::vector<int64_t>& ids) const override {
    std::string out;
    for (int64_t id : ids) {
      if (id == pad_id_ || id == cls_id_ || id == sep_id_) continue;
      const auto token = id_to_token(id);
      if (token.rfind("##", 0) == 0 && !out.empty()) {
        out += token.substr(2);
      } else {
        if (!out.empty()) out += ' ';
        out += token;
      }
    }
    return out;
  }

  int64_t vocab_size() const override { return static_cast<int64_t>(tokens_.size()); }
  std::string kind() const override { return lower_case_ ? "wordpiece" : "wordpiece_cased"; }

  std::string serialize() const override {
    std::string out;
    for (const auto& token : tokens_) out += token + '\n';
    return out;
  }

 private:
  // tokenization.py's max_input_chars_per_word: longer words become one [UNK].
  static constexpr size_t kMaxWordChars = 100;

  int64_t special(const std::string& source, const std::string& token) const {
    const auto it = ids_.find(token);
    if (it == ids_.end())
      throw Error(source + ": no " + token + " line: a BERT vocab.txt must contain [PAD], [UNK], [CLS] and [SEP]");
    return it->second;
  }

  // Greedy longest-match-first: the longest vocab entry at each position, "##"-prefixed after the
  // first; a word with any position that matches nothing becomes a single [UNK].
  void append_word(const std::u32string& word, std::vector<int64_t>& out) const {
    if (word.size() > kMaxWordChars) {
      out.push_back(unk_id_);
      return;
    }
    std::string utf8;
    std::vector<size_t> offset{0};  // byte offset of each code point, plus the end
    for (char32_t cp : word) {
      append_utf8(utf8, cp);
      offset.push_back(utf8.size());
    }
    const size_t before = out.size();
    std::string piece;
    for (size_t start = 0; start < word.size();) {
      size_t end = word.size();
      int64_t id = -1;
      for (; end > start; --end) {
        piece.assign(start > 0 ? "##" : "");
        piece.append(utf8, offset[start], offset[end] - offset[start]);
        const auto it = ids_.find(piece);
        if (it != ids_.end()) {
          id = it->second;
          break;
        }
      }
      if (id < 0) {
        out.resize(before);
        out.push_back(unk_id_);
        return;
      }
      out.push_back(id);
      start = end;
    }
  }

  bool lower_case_;
  std::vector<std::string> tokens_;
  std::unordered_map<std::string, int64_t> ids_;
};

}  // namespace

std::unique_ptr<Tokenizer> wordpiece_from_vocab(const std::string& vocab_text, const std::string& source, bool lower_case) {
  return std::make_unique<WordPiece>(vocab_text, source, lower_case);
}

std::unique_ptr<Tokenizer> load_wordpiece(const std::string& vocab_txt_path, bool lower_case) {
  return wordpiece_from_vocab(read_file(vocab_txt_path, "a BERT vocab.txt (one token per line)"), vocab_txt_path,
                              lower_case);
}

std::unique_ptr<Tokenizer> train_words(const std::vector<std::string>& texts, int64_t vocab_size) {
  if (vocab_size < 5) throw Error("word vocabulary: expected vocab_size >= 5 (4 special tokens and a word), got " +
                                  std::to_string(vocab_size));
  std::unordered_map<std::string, int64_t> counts;
  for (const auto& text : texts)
    for (const auto& word : basic_tokenize(text, /*lower_case=*/true)) {
      std::string utf8;
      for (char32_t cp : word) append_utf8(utf8, cp);
      ++counts[utf8];
    }
  std::vector<std::pair<std::string, int64_t>> words(counts.begin(), counts.end());
  // Most frequent first; ties alphabetically, so the same captions give the same vocabulary.
  std::sort(words.begin(), words.end(),
            [](const auto& a, const auto& b) { return a.second != b.second ? a.second > b.second : a.first < b.first; });
  std::string vocab = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n";
  const auto kept = std::min(words.size(), static_cast<size_t>(vocab_size - 4));
  for (size_t i = 0; i < kept; ++i) vocab += words[i].first + '\n';
  // No "##" entries, so WordPiece's longest match can only take a whole word or give [UNK].
  return wordpiece_from_vocab(vocab, "word vocabulary of the training captions", /*lower_case=*/true);
}

}  // namespace selfsup::clip
