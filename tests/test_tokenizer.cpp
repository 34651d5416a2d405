#include "selfsup/clip/tokenizer.h"
#include "selfsup/core/error.h"
#include "test_util.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>

namespace fs = std::filesystem;
using namespace selfsup::clip;

using selfsup::test_util::error_message;
using selfsup::test_util::TempDir;

namespace {

// A fresh directory removed at scope exit.

// Ids that bert-base-uncased's vocab.txt really has (e.g. "Hello, my dog is cute" ->
// 101 7592 1010 2026 3899 2003 10140 102, the Hugging Face docs example).
const std::map<int64_t, std::string> kBertIds = {
    {0, "[PAD]"},  {100, "[UNK]"},  {101, "[CLS]"}, {102, "[SEP]"}, {103, "[MASK]"},
    {999, "!"},    {1010, ","},     {1012, "."},    {1996, "the"},  {2003, "is"},
    {2026, "my"},  {2088, "world"}, {3899, "dog"},  {7592, "hello"}, {10140, "cute"},
};

// Test-only entries, after bert-base-uncased's 30522 lines so they cannot be mistaken for real ids.
const std::map<int64_t, std::string> kTestIds = {
    {30522, "un"},       {30523, "##aff"},      {30524, "##able"}, {30525, "##af"},
    {30526, "cafe"},     {30527, "naive"},      {30528, "a"},      {30529, "##a"},
    {30530, "我"},       {30531, "爱"},         {30532, "…"},      {30533, "「"},
    {30534, "」"},       {30535, "ελλαδα"},     {30536, "\u03bf\u03b4\u03bf\u03c2"},  // οδος, final sigma
    {30537, "елка"},     {30538, "\u1112"},     {30539, "##\u1161"}, {30540, "##\u11ab"},  // 한 as jamo
    {30541, "##s"},
};

// bert-base-uncased's layout: the ids above at their lines, "[unusedN]" everywhere else.
std::string bert_like_vocab() {
  std::string text;
  for (int64_t id = 0, unused = 0; id <= kTestIds.rbegin()->first; ++id) {
    if (kBertIds.count(id)) {
      text += kBertIds.at(id);
    } else if (kTestIds.count(id)) {
      text += kTestIds.at(id);
    } else {
      text += "[unused" + std::to_string(unused++) + "]";
    }
    text += '\n';
  }
  return text;
}

}  // namespace

// Outside the anonymous namespace: a test fixture with internal linkage trips -Wsubobject-linkage
// when the unity build includes this file.
class TokenizerWordPiece : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir;
    selfsup::test_util::write_text_file(*dir_ / "vocab.txt", bert_like_vocab());
    uncased_ = load_wordpiece(*dir_ / "vocab.txt").release();
  }
  static void TearDownTestSuite() {
    delete uncased_;
    delete dir_;
  }
  static std::string vocab_path() { return *dir_ / "vocab.txt"; }
  const Tokenizer& tok() const { return *uncased_; }

  static TempDir* dir_;
  static Tokenizer* uncased_;
};

TempDir* TokenizerWordPiece::dir_ = nullptr;
Tokenizer* TokenizerWordPiece::uncased_ = nullptr;

namespace {

using Ids = std::vector<int64_t>;

// The layout both tokenizers share: [CLS] body (cut to max_length - 2) [SEP] [PAD]..., mask 1 then 0.
void expect_layout(const Tokenizer& tok, const std::string& text, int64_t max_length) {
  const auto body = tok.encode_ids(text);
  const auto kept = std::min<int64_t>(static_cast<int64_t>(body.size()), max_length - 2);
  Ids ids{tok.cls_id()};
  ids.insert(ids.end(), body.begin(), body.begin() + kept);
  ids.push_back(tok.sep_id());
  Ids mask(ids.size(), 1);
  ids.resize(static_cast<size_t>(max_length), tok.pad_id());
  mask.resize(static_cast<size_t>(max_length), 0);
  const auto enc = tok.encode_one(text, max_length);
  EXPECT_EQ(enc.ids, ids) << text;
  EXPECT_EQ(enc.mask, mask) << text;
}

}  // namespace

TEST_F(TokenizerWordPiece, CanonicalBertUncasedSpecialIds) {
  EXPECT_EQ(tok().pad_id(), 0);
  EXPECT_EQ(tok().unk_id(), 100);
  EXPECT_EQ(tok().cls_id(), 101);
  EXPECT_EQ(tok().sep_id(), 102);
  EXPECT_EQ(tok().id_to_token(103), "[MASK]");
  EXPECT_EQ(tok().vocab_size(), 30542);
  EXPECT_EQ(tok().kind(), "wordpiece");
}

TEST_F(TokenizerWordPiece, HelloMyDogIsCuteMatchesBertBaseUncased) {
  const auto enc = tok().encode_one("Hello, my dog is cute", 10);
  EXPECT_EQ(enc.ids, (Ids{101, 7592, 1010, 2026, 3899, 2003, 10140, 102, 0, 0}));
  EXPECT_EQ(enc.mask, (Ids{1, 1, 1, 1, 1, 1, 1, 1, 0, 0}));
}

TEST_F(TokenizerWordPiece, LowerCasesAndSplitsPunctuation) {
  EXPECT_EQ(tok().encode_ids("Hello, World!"), (Ids{7592, 1010, 2088, 999}));
  EXPECT_EQ(tok().encode_ids("HELLO...world"), (Ids{7592, 1012, 1012, 1012, 2088}));
}

TEST_F(TokenizerWordPiece, GreedyLongestMatchFirst) {
  // BERT paper's example: the longest prefix first ("##aff" beats "##af"), then "##" pieces.
  const auto ids = tok().encode_ids("unaffable");
  EXPECT_EQ(ids, (Ids{30522, 30523, 30524}));
  std::vector<std::string> pieces;
  for (auto id : ids) pieces.push_back(tok().id_to_token(id));
  EXPECT_EQ(pieces, (std::vector<std::string>{"un", "##aff", "##able"}));
  EXPECT_EQ(tok().encode_ids("dogs"), (Ids{3899, 30541}));
}

TEST_F(TokenizerWordPiece, StripsAccentsWhenUncased) {
  EXPECT_EQ(tok().encode_ids("Café naïve"), (Ids{30526, 30527}));
  EXPECT_EQ(tok().encode_ids("CAFÉ"), (Ids{30526}));
  EXPECT_EQ(tok().encode_ids("cafe\u0301"), (Ids{30526}));  // a decomposed accent is a mark to drop
}

TEST_F(TokenizerWordPiece, CasedKeepsCaseAndAccents) {
  const auto cased = load_wordpiece(vocab_path(), /*lower_case=*/false);
  EXPECT_EQ(cased->kind(), "wordpiece_cased");
  EXPECT_EQ(cased->encode_ids("Hello hello"), (Ids{100, 7592}));
  EXPECT_EQ(cased->encode_ids("café cafe"), (Ids{100, 30526}));
}

TEST_F(TokenizerWordPiece, NonLatinLowerCaseAndAccents) {
  EXPECT_EQ(tok().encode_ids("ΕΛΛΆΔΑ"), (Ids{30535}));  // Ά -> ά -> α
  EXPECT_EQ(tok().encode_ids("ΟΔΟΣ."), (Ids{30536, 1012}));  // a word-final Σ lower-cases to ς
  EXPECT_EQ(tok().encode_ids("Ёлка"), (Ids{30537}));  // Ё -> ё -> е
  EXPECT_EQ(tok().encode_ids("한"), (Ids{30538, 30539, 30540}));  // NFD splits Hangul into jamo
}

TEST_F(TokenizerWordPiece, UnknownWordIsOneUnk) {
  EXPECT_EQ(tok().encode_ids("xyzzy"), (Ids{100}));
  // "dog" matches but nothing continues it, so the whole word is [UNK], not "dog [UNK]".
  EXPECT_EQ(tok().encode_ids("dogq cute"), (Ids{100, 10140}));
}

TEST_F(TokenizerWordPiece, WordsLongerThan100CharsAreUnk) {
  Ids hundred{30528};
  hundred.insert(hundred.end(), 99, 30529);  // a ##a ##a ...
  EXPECT_EQ(tok().encode_ids(std::string(100, 'a')), hundred);
  EXPECT_EQ(tok().encode_ids(std::string(101, 'a')), (Ids{100}));
}

TEST_F(TokenizerWordPiece, CleansControlCharsAndWhitespace) {
  // Tab splits; \x01 and U+200B (zero-width space, Cf) vanish; no-break space and U+2028 split;
  // an invalid UTF-8 byte is dropped like U+FFFD.
  EXPECT_EQ(tok().encode_ids("hello\tworld\x01\u200b! my\u00a0dog\u2028is do\xffg"),
            (Ids{7592, 2088, 999, 2026, 3899, 2003, 3899}));
  EXPECT_EQ(tok().encode_ids(std::string("hello\0world", 11)), (Ids{100}));  // \0 dropped: "helloworld"
  EXPECT_TRUE(tok().encode_ids(" \t\n ").empty());
}

TEST_F(TokenizerWordPiece, SplitsCjkAndUnicodePunctuation) {
  EXPECT_EQ(tok().encode_ids("我爱dog…「cute」"), (Ids{30530, 30531, 3899, 30532, 30533, 10140, 30534}));
}

TEST_F(TokenizerWordPiece, TruncationKeepsSepAndExactLength) {
  auto enc = tok().encode_one("hello my dog is cute", 5);
  EXPECT_EQ(enc.ids, (Ids{101, 7592, 2026, 3899, 102}));
  EXPECT_EQ(enc.mask, (Ids{1, 1, 1, 1, 1}));
  enc = tok().encode_one("hello", 2);
  EXPECT_EQ(enc.ids, (Ids{101, 102}));
  for (int64_t length : {2, 3, 4, 7, 8, 12}) expect_layout(tok(), "Hello, my dog is cute", length);
}

TEST_F(TokenizerWordPiece, BatchIdsAndMask) {
  const auto batch = tok().encode({"hello world", "my dog is cute", ""}, 6);
  ASSERT_EQ(batch.ids.sizes(), (std::vector<int64_t>{3, 6}));
  EXPECT_EQ(batch.ids.scalar_type(), torch::kLong);
  EXPECT_EQ(batch.mask.scalar_type(), torch::kLong);
  const auto ids = torch::tensor({101, 7592, 2088, 102, 0, 0,  //
                                  101, 2026, 3899, 2003, 10140, 102,  //
                                  101, 102, 0, 0, 0, 0},
                                 torch::kLong)
                       .view({3, 6});
  const auto mask = torch::tensor({1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0}, torch::kLong).view({3, 6});
  EXPECT_TRUE(torch::equal(batch.ids, ids));
  EXPECT_TRUE(torch::equal(batch.mask, mask));
}

TEST_F(TokenizerWordPiece, DecodeJoinsContinuations) {
  EXPECT_EQ(tok().decode(tok().encode_one("Unaffable dog!", 10).ids), "unaffable dog !");
}

TEST_F(TokenizerWordPiece, SerializeAndSaveRoundTrip) {
  const std::string text = "Hello, my dog is cute: unaffable café 我爱";
  const auto rebuilt = tokenizer_from_serialized(tok().kind(), tok().serialize());
  EXPECT_EQ(rebuilt->vocab_size(), tok().vocab_size());
  EXPECT_EQ(rebuilt->encode_ids(text), tok().encode_ids(text));
  TempDir dir;
  tok().save(dir / "saved.txt");
  const auto loaded = load_wordpiece(dir / "saved.txt");
  EXPECT_EQ(loaded->encode_ids(text), tok().encode_ids(text));
  EXPECT_EQ(loaded->cls_id(), 101);
  EXPECT_FALSE(fs::exists(dir / "saved.txt.tmp"));
}

// ---------------------------------------------------------------------------------------------

namespace {

// 200 distinct captions over a small closed vocabulary, capitalised like real captions.
std::vector<std::string> captions() {
  const char* colors[] = {"red", "blue", "green", "yellow", "black"};
  const char* animals[] = {"dog", "cat", "horse", "bird", "fish"};
  const char* verbs[] = {"runs", "sleeps", "jumps", "swims"};
  const char* places[] = {"grass", "beach", "road", "snow", "table"};
  std::vector<std::string> out;
  for (int i = 0; i < 200; ++i)
    out.push_back(std::string(i % 2 ? "A " : "The ") + colors[i % 5] + " " + animals[(i / 5) % 5] + " " +
                  verbs[(i / 25) % 4] + " on the " + places[(i / 3) % 5] + (i % 3 ? "." : ""));
  return out;
}

std::string lower_ascii(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

class TokenizerSentencePiece : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { trained_ = train_sentencepiece(captions(), 100).release(); }
  static void TearDownTestSuite() { delete trained_; }
  const Tokenizer& tok() const { return *trained_; }
  static Tokenizer* trained_;
};

Tokenizer* TokenizerSentencePiece::trained_ = nullptr;

// Found by fuzz/fuzz_sentencepiece.cpp: SentencePiece trusts its normalisation table, and one damaged
// entry made it read outside the model and crash the process.
TEST_F(TokenizerSentencePiece, DamagedNormalisationTableIsAnError) {
  auto model = tok().serialize();
  const auto name = model.find("nmt_nfkc_cf");
  ASSERT_NE(name, std::string::npos);
  // name, the charsmap's tag (1 byte) and length (3 bytes), its table size (4), then the root unit.
  const auto root = name + 11 + 1 + 3 + 4;
  model.replace(root, 4, "\xFF\xFF\xFF\xFF");
  EXPECT_EQ(error_message([&] { sentencepiece_from_model(model, "bad.model"); }),
            "bad.model: corrupt SentencePiece model: its normalisation map is damaged (an entry points outside the table)");
}

TEST_F(TokenizerSentencePiece, SpecialPiecesComeFirst) {
  EXPECT_EQ(tok().kind(), "sentencepiece");
  EXPECT_EQ((Ids{tok().pad_id(), tok().unk_id(), tok().cls_id(), tok().sep_id()}), (Ids{0, 1, 2, 3}));
  EXPECT_EQ(tok().id_to_token(0), "[PAD]");
  EXPECT_EQ(tok().id_to_token(1), "[UNK]");
  EXPECT_EQ(tok().id_to_token(2), "[CLS]");
  EXPECT_EQ(tok().id_to_token(3), "[SEP]");
  EXPECT_GT(tok().vocab_size(), 4);
  EXPECT_LE(tok().vocab_size(), 100);
}

TEST_F(TokenizerSentencePiece, PiecesCoverTheTrainingText) {
  for (const auto& caption : captions()) {
    const auto ids = tok().encode_ids(caption);
    EXPECT_FALSE(ids.empty());
    for (auto id : ids) {
      EXPECT_GT(id, 3) << caption;  // no [UNK], no specials inside the text
      EXPECT_LT(id, tok().vocab_size());
    }
    EXPECT_EQ(tok().decode(ids), lower_ascii(caption));
  }
  // Subwords, not characters: with 100 pieces every word of these captions is one piece.
  EXPECT_EQ(tok().encode_ids("The red dog runs on the grass").size(), 7u);
}

TEST_F(TokenizerSentencePiece, FoldsCase) {
  EXPECT_EQ(tok().encode_ids("A RED DOG"), tok().encode_ids("a red dog"));
}

TEST_F(TokenizerSentencePiece, TrainingIsDeterministic) {
  const auto again = train_sentencepiece(captions(), 100);
  EXPECT_EQ(again->serialize(), tok().serialize());
  for (const auto& caption : captions()) EXPECT_EQ(again->encode_ids(caption), tok().encode_ids(caption));
}

TEST_F(TokenizerSentencePiece, SerializeAndSaveRoundTrip) {
  const auto rebuilt = tokenizer_from_serialized("sentencepiece", tok().serialize());
  TempDir dir;
  tok().save(dir / "captions.model");
  const auto loaded = load_sentencepiece(dir / "captions.model");
  for (const auto& caption : captions()) {
    EXPECT_EQ(rebuilt->encode_ids(caption), tok().encode_ids(caption));
    EXPECT_EQ(loaded->encode_ids(caption), tok().encode_ids(caption));
  }
  EXPECT_EQ(loaded->vocab_size(), tok().vocab_size());
}

TEST_F(TokenizerSentencePiece, SameLayoutAsWordPiece) {
  const std::string text = "The black horse jumps on the snow.";
  for (int64_t length : {2, 3, 5, 8, 16, 40}) expect_layout(tok(), text, length);
  const auto batch = tok().encode({text, "a cat"}, 8);
  const auto body = tok().encode_ids("a cat");
  ASSERT_LE(body.size(), 6u);
  EXPECT_EQ(batch.ids[0][7].item<int64_t>(), tok().sep_id());  // truncated: [SEP] still last
  EXPECT_EQ(batch.mask[0].sum().item<int64_t>(), 8);
  EXPECT_EQ(batch.ids[1][static_cast<int64_t>(body.size()) + 1].item<int64_t>(), tok().sep_id());
  EXPECT_EQ(batch.mask[1].sum().item<int64_t>(), static_cast<int64_t>(body.size()) + 2);
}

TEST_F(TokenizerSentencePiece, BpeFillsTheVocabulary) {
  EXPECT_EQ(tok().vocab_size(), 100);
}

TEST_F(TokenizerSentencePiece, UnigramModelType) {
  const auto unigram = train_sentencepiece(captions(), 100, "unigram");
  const auto again = train_sentencepiece(captions(), 100, "unigram");
  EXPECT_EQ((Ids{unigram->pad_id(), unigram->unk_id(), unigram->cls_id(), unigram->sep_id()}), (Ids{0, 1, 2, 3}));
  EXPECT_LE(unigram->vocab_size(), 100);
  EXPECT_EQ(again->serialize(), unigram->serialize());
  for (const auto& caption : captions()) {
    const auto ids = unigram->encode_ids(caption);
    for (auto id : ids) EXPECT_GT(id, 3) << caption;
    EXPECT_EQ(unigram->decode(ids), lower_ascii(caption));
    EXPECT_EQ(again->encode_ids(caption), ids);
  }
}

TEST_F(TokenizerSentencePiece, ModelCarriesNoTempPath) {
  EXPECT_EQ(tok().serialize().find("selfsup_sentencepiece_"), std::string::npos);
}

// ---------------------------------------------------------------------------------------------

TEST(TokenizerErrors, MissingVocabFileNamesPath) {
  const std::string path = "/nonexistent/selfsup/vocab.txt";
  const auto message = error_message([&] { load_wordpiece(path); });
  EXPECT_NE(message.find(path), std::string::npos) << message;
  EXPECT_NE(message.find("vocab.txt (one token per line)"), std::string::npos) << message;
}

TEST(TokenizerErrors, BadVocabContents) {
  TempDir dir;
  selfsup::test_util::write_text_file(dir / "empty.txt", "");
  auto message = error_message([&] { load_wordpiece(dir / "empty.txt"); });
  EXPECT_NE(message.find(dir / "empty.txt"), std::string::npos) << message;
  EXPECT_NE(message.find("empty vocab"), std::string::npos) << message;

  selfsup::test_util::write_text_file(dir / "no_cls.txt", "[PAD]\n[UNK]\n[SEP]\nhello\n");
  message = error_message([&] { load_wordpiece(dir / "no_cls.txt"); });
  EXPECT_NE(message.find(dir / "no_cls.txt"), std::string::npos) << message;
  EXPECT_NE(message.find("no [CLS] line"), std::string::npos) << message;

  selfsup::test_util::write_text_file(dir / "bad_utf8.txt", "[PAD]\n[UNK]\nbad\xff\n[CLS]\n[SEP]\n");
  message = error_message([&] { load_wordpiece(dir / "bad_utf8.txt"); });
  EXPECT_NE(message.find(dir / "bad_utf8.txt:3: not valid UTF-8"), std::string::npos) << message;
}

TEST(TokenizerErrors, BadArguments) {
  const auto tok = tokenizer_from_serialized("wordpiece", "[PAD]\n[UNK]\n[CLS]\n[SEP]\nhi\n");
  EXPECT_EQ(tok->encode_one("hi there", 4).ids, (Ids{2, 4, 1, 3}));
  EXPECT_NE(error_message([&] { tok->encode_one("hi", 1); }).find("max_length 1 too small"), std::string::npos);
  EXPECT_NE(error_message([&] { tok->id_to_token(5); }).find("token id 5 out of range"), std::string::npos);
  EXPECT_NE(error_message([&] { tokenizer_from_serialized("bytes", ""); }).find("unknown tokenizer kind 'bytes'"),
            std::string::npos);
}

TEST(TokenizerErrors, SentencePieceTrainingAndLoading) {
  EXPECT_NE(error_message([&] { train_sentencepiece(captions(), 100, "char-ngram"); }).find("unknown model_type"),
            std::string::npos);
  EXPECT_NE(error_message([&] { train_sentencepiece({"", " "}, 100); }).find("no text to train on"), std::string::npos);
  // Fewer pieces than the specials plus the characters of the captions.
  EXPECT_NE(error_message([&] { train_sentencepiece(captions(), 5); }).find("train_sentencepiece(vocab_size=5"),
            std::string::npos);

  TempDir dir;
  selfsup::test_util::write_text_file(dir / "not.model", "[PAD]\n[UNK]\n");
  auto message = error_message([&] { load_sentencepiece(dir / "not.model"); });
  EXPECT_NE(message.find(dir / "not.model"), std::string::npos) << message;
  EXPECT_NE(message.find("not a SentencePiece model"), std::string::npos) << message;
  message = error_message([&] { load_sentencepiece(dir / "missing.model"); });
  EXPECT_NE(message.find(dir / "missing.model"), std::string::npos) << message;
}

// ---------------------------------------------------------------------------------------------

TEST(TokenizerWords, MostFrequentWholeWordsAfterTheSpecials) {
  // Counts: "a" 3, "cat" 2, "dog" 2, then "!", "," and "red" once each (punctuation is a word, as in
  // BERT's BasicTokenizer).
  const auto tok = train_words({"A red cat", "a Dog!", "a cat, dog"}, 9);
  EXPECT_EQ(tok->kind(), "wordpiece");
  ASSERT_EQ(tok->vocab_size(), 9);  // 4 specials + the 5 most frequent of 6 words: ties alphabetically
  EXPECT_EQ(tok->serialize(), "[PAD]\n[UNK]\n[CLS]\n[SEP]\na\ncat\ndog\n!\n,\n");
  EXPECT_EQ((Ids{tok->pad_id(), tok->unk_id(), tok->cls_id(), tok->sep_id()}), (Ids{0, 1, 2, 3}));
  // "red" did not make the cut and "cats" was never seen: each is one [UNK], never pieces of words.
  EXPECT_EQ(tok->encode_ids("A RED cats, dog"), (Ids{4, 1, 1, 8, 6}));
  EXPECT_EQ(tok->encode_one("cat dog", 5).ids, (Ids{2, 5, 6, 3, 0}));
}

TEST(TokenizerWords, TravelsAsAWordPieceVocabulary) {
  const auto tok = train_words(captions(), 100);
  EXPECT_EQ(tok->vocab_size(), 4 + 23);  // 19 content words, "a", "the", "on" and "."
  const auto again = tokenizer_from_serialized(tok->kind(), tok->serialize());
  for (const auto& caption : captions()) {
    const auto ids = tok->encode_ids(caption);
    EXPECT_EQ(again->encode_ids(caption), ids);
    EXPECT_EQ(std::count(ids.begin(), ids.end(), tok->unk_id()), 0) << caption;
  }
  EXPECT_EQ(tok->encode_ids("The red dog runs on the grass").size(), 7u);
  EXPECT_EQ(error_message([] { train_words({"a"}, 4); }),
            "word vocabulary: expected vocab_size >= 5 (4 special tokens and a word), got 4");
}
