#include <dlfcn.h>
#include <sentencepiece_processor.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <new>
#include <unordered_map>

#include "selfsup/clip/sentencepiece_model.h"
#include "selfsup/clip/tokenizer.h"
#include "selfsup/core/error.h"
#include "selfsup/core/fs.h"

namespace selfsup::clip {
namespace {

// ---------------------------------------------------------------------------------------------
// SentencePiece, loaded at run time. Debian's libsentencepiece.so.0 carries its own protobuf-lite
// and exports it, while libtorch pulls in the system libprotobuf.so.32: linked normally, whichever
// loads first captures the other's symbols and the process crashes before main(). Opened with
// RTLD_LOCAL | RTLD_DEEPBIND, the library binds to its own protobuf and libtorch keeps its own.
// So nothing here may reference a SentencePiece symbol at link time: virtual methods go through
// the vtable, the few free functions through dlsym, and a returned util::Status is built in place
// and destroyed through dlsym too.
// ---------------------------------------------------------------------------------------------

namespace spm = sentencepiece;

struct SentencePieceLibrary {
  void (*construct)(void*);  // SentencePieceProcessor::SentencePieceProcessor()
  void (*destroy_status)(spm::util::Status*);
  const char* (*status_message)(const spm::util::Status*);
  void (*set_seed)(unsigned);
  // SentencePieceTrainer::Train(kwargs, SentenceIterator*, serialized model out)
  spm::util::Status (*train)(const std::unordered_map<std::string, std::string>&, void*, std::string*);
};

void* open_library(const char* name) {
  void* handle = dlopen(name, RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
  if (!handle) throw Error(std::string(name) + ": cannot load SentencePiece (" + dlerror() + "): expected libsentencepiece0");
  return handle;
}

template <typename T>
T symbol(void* library, const char* library_name, const char* name) {
  void* address = dlsym(library, name);
  if (!address) throw Error(std::string(library_name) + ": no symbol " + name + ": expected SentencePiece 0.1.9x");
  return reinterpret_cast<T>(address);
}

const SentencePieceLibrary& sentencepiece_library() {
  static const SentencePieceLibrary library = [] {
    constexpr const char* kCore = "libsentencepiece.so.0";
    constexpr const char* kTrain = "libsentencepiece_train.so.0";
    void* core = open_library(kCore);
    void* train = open_library(kTrain);
    SentencePieceLibrary lib;
    lib.construct = symbol<decltype(lib.construct)>(core, kCore, "_ZN13sentencepiece22SentencePieceProcessorC1Ev");
    lib.destroy_status = symbol<decltype(lib.destroy_status)>(core, kCore, "_ZN13sentencepiece4util6StatusD1Ev");
    lib.status_message =
        symbol<decltype(lib.status_message)>(core, kCore, "_ZNK13sentencepiece4util6Status13error_messageEv");
    lib.set_seed = symbol<decltype(lib.set_seed)>(core, kCore, "_ZN13sentencepiece22SetRandomGeneratorSeedEj");
    lib.train = symbol<decltype(lib.train)>(
        train, kTrain,
        "_ZN13sentencepiece20SentencePieceTrainer5TrainERKSt13unordered_mapINSt7__cxx1112basic_stringIcSt11char_"
        "traitsIcESaIcEEES7_St4hashIS7_ESt8equal_toIS7_ESaISt4pairIKS7_S7_EEEPNS_16SentenceIteratorEPS7_");
    return lib;
  }();
  return library;
}

// Runs `call` (which returns a util::Status) and gives "" on success, else the error.
template <typename F>
std::string status_error(F&& call) {
  const auto& lib = sentencepiece_library();
  alignas(spm::util::Status) unsigned char storage[sizeof(spm::util::Status)];
  auto* status = ::new (static_cast<void*>(storage)) spm::util::Status(call());  // no copy: C++17 elision
  const bool ok = status->ok();
  const std::string message = ok ? "" : lib.status_message(status);
  lib.destroy_status(status);
  if (ok) return "";
  return message.empty() ? "failed" : message;
}

std::unique_ptr<spm::SentencePieceProcessor> new_processor() {
  void* memory = ::operator new(sizeof(spm::SentencePieceProcessor));
  try {
    sentencepiece_library().construct(memory);
  } catch (...) {
    ::operator delete(memory);
    throw;
  }
  // The virtual destructor runs the library's deleting destructor, which frees with operator delete.
  return std::unique_ptr<spm::SentencePieceProcessor>(static_cast<spm::SentencePieceProcessor*>(memory));
}

constexpr const char* kSpecialPieces[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]"};

class SentencePiece final : public Tokenizer {
 public:
  SentencePiece(std::string model, const std::string& source) : model_(std::move(model)), processor_(new_processor()) {
    check_sentencepiece_model(model_, source);
    const auto error = status_error([&] { return processor_->LoadFromSerializedProto(model_); });
    if (!error.empty())
      throw Error(source + ": not a SentencePiece model (" + error + "): expected a .model file saved from train_sentencepiece");
    int64_t* ids[] = {&pad_id_, &unk_id_, &cls_id_, &sep_id_};
    for (int k = 0; k < 4; ++k) {
      const int id = processor_->PieceToId(kSpecialPieces[k]);  // the unk id when absent
      if (processor_->IdToPiece(id) != kSpecialPieces[k])
        throw Error(source + ": no " + kSpecialPieces[k] +
                    " piece: expected a model from train_sentencepiece (pieces [PAD] [UNK] [CLS] [SEP])");
      *ids[k] = id;
    }
  }

  std::vector<int64_t> encode_ids(const std::string& text) const override {
    std::vector<int> ids;
    const auto error = status_error([&] { return processor_->Encode(text, &ids); });
    if (!error.empty()) throw Error("SentencePiece cannot encode text: " + error);
    return {ids.begin(), ids.end()};
  }

  std::string id_to_token(int64_t id) const override {
    if (id < 0 || id >= vocab_size())
      throw Error("token id " + std::to_string(id) + " out of range: expected [0, " + std::to_string(vocab_size()) + ")");
    return processor_->IdToPiece(static_cast<int>(id));
  }

  std::string decode(const std::vector<int64_t>& ids) const override {
    std::vector<int> kept;
    for (int64_t id : ids) {
      if (id == pad_id_ || id == cls_id_ || id == sep_id_) continue;
      id_to_token(id);  // range check
      kept.push_back(static_cast<int>(id));
    }
    std::string out;
    const auto error = status_error([&] { return processor_->Decode(kept, &out); });
    if (!error.empty()) throw Error("SentencePiece cannot decode ids: " + error);
    return out;
  }

  int64_t vocab_size() const override { return processor_->GetPieceSize(); }
  std::string kind() const override { return "sentencepiece"; }
  std::string serialize() const override { return model_; }

 private:
  std::string model_;
  std::unique_ptr<spm::SentencePieceProcessor> processor_;
};

// Protobuf wire format, just enough to walk a message's top-level fields: calls
// visit(field, wire_type, field_begin, payload_begin, field_end) for each; false if malformed.
bool read_varint(const std::string& bytes, size_t& pos, uint64_t& value) {
  value = 0;
  for (int shift = 0; pos < bytes.size() && shift < 64; shift += 7) {
    const auto byte = static_cast<unsigned char>(bytes[pos++]);
    value |= static_cast<uint64_t>(byte & 0x7F) << shift;
    if (!(byte & 0x80)) return true;
  }
  return false;
}

template <typename F>
bool for_each_field(const std::string& bytes, F&& visit) {
  for (size_t pos = 0; pos < bytes.size();) {
    const size_t begin = pos;
    uint64_t tag = 0, value = 0;
    if (!read_varint(bytes, pos, tag)) return false;
    size_t payload = pos;
    switch (tag & 7) {
      case 0: if (!read_varint(bytes, pos, value)) return false; break;
      case 1: pos += 8; break;
      case 5: pos += 4; break;
      case 2:
        if (!read_varint(bytes, pos, value) || value > bytes.size() - pos) return false;
        payload = pos;
        pos += value;
        break;
      default: return false;
    }
    if (pos > bytes.size()) return false;
    visit(tag >> 3, tag & 7, begin, payload, pos);
  }
  return true;
}

void append_varint(std::string& out, uint64_t value) {
  for (; value >= 0x80; value >>= 7) out.push_back(static_cast<char>((value & 0x7F) | 0x80));
  out.push_back(static_cast<char>(value));
}

// The trainer records its input file's path in ModelProto.trainer_spec (field 2) as input
// (field 1). That path is a fresh temp name, so drop it: the same captions then give the same
// model bytes, and no machine path travels in checkpoints. Unparseable bytes are left as they are.
std::string without_input_path(const std::string& model) {
  std::string out;
  const bool ok = for_each_field(model, [&](uint64_t field, uint64_t wire, size_t begin, size_t payload, size_t end) {
    if (field != 2 || wire != 2) {
      out.append(model, begin, end - begin);
      return;
    }
    const std::string spec = model.substr(payload, end - payload);
    std::string kept;
    const bool spec_ok = for_each_field(spec, [&](uint64_t f, uint64_t w, size_t b, size_t, size_t e) {
      if (!(f == 1 && w == 2)) kept.append(spec, b, e - b);
    });
    if (!spec_ok) kept = spec;
    append_varint(out, (2 << 3) | 2);  // the same tag, with the new length
    append_varint(out, kept.size());
    out += kept;
  });
  return ok ? out : model;
}

// The trainer reads one sentence per line from a file (a SentenceIterator would need util::Status
// constructors at link time); removed at scope exit.
struct TrainingFile {
  std::string path;
  explicit TrainingFile(const std::vector<std::string>& texts) {
    static std::atomic<int> counter{0};
    path = (std::filesystem::temp_directory_path() /
            ("selfsup_sentencepiece_" + std::to_string(getpid()) + "_" + std::to_string(counter++) + ".txt"))
               .string();
    std::ofstream out(path, std::ios::binary);
    for (auto text : texts) {
      std::replace(text.begin(), text.end(), '\n', ' ');
      std::replace(text.begin(), text.end(), '\r', ' ');
      out << text << '\n';
    }
    if (!out) throw Error(path + ": cannot write the SentencePiece training text");
  }
  ~TrainingFile() { std::remove(path.c_str()); }
};

}  // namespace

std::unique_ptr<Tokenizer> train_sentencepiece(const std::vector<std::string>& texts, int64_t vocab_size,
                                               const std::string& model_type, uint32_t seed) {
  const std::string what = "train_sentencepiece(vocab_size=" + std::to_string(vocab_size) +
                           ", model_type=" + model_type + ")";
  if (model_type != "unigram" && model_type != "bpe")
    throw Error(what + ": unknown model_type: expected unigram or bpe");
  const bool any_text = std::any_of(texts.begin(), texts.end(),
                                    [](const std::string& t) { return t.find_first_not_of(" \t\r\n") != std::string::npos; });
  if (!any_text) throw Error(what + ": no text to train on: expected non-empty captions");
  const auto& lib = sentencepiece_library();
  // SentencePiece reserves seed 2^32 - 1 for "seed from std::random_device".
  lib.set_seed(std::min<uint32_t>(seed, 0xFFFFFFFEu));
  const TrainingFile file(texts);
  const std::unordered_map<std::string, std::string> args = {
      {"input", file.path},
      {"model_type", model_type},
      {"vocab_size", std::to_string(vocab_size)},
      // An upper bound: a few hundred captions cannot fill 8000 pieces.
      {"hard_vocab_limit", "false"},
      {"normalization_rule_name", "nmt_nfkc_cf"},  // NFKC + case folding, stored in the model
      {"pad_id", "0"}, {"unk_id", "1"}, {"bos_id", "2"}, {"eos_id", "3"},
      {"pad_piece", "[PAD]"}, {"unk_piece", "[UNK]"}, {"bos_piece", "[CLS]"}, {"eos_piece", "[SEP]"},
      {"num_threads", "1"},  // one EM shard: the result cannot depend on thread scheduling
      {"minloglevel", "2"},  // no progress logging on stderr; failures come back as a status
  };
  std::string model;
  const auto error = status_error([&] { return lib.train(args, nullptr, &model); });
  if (!error.empty()) throw Error(what + ": " + error);
  return std::make_unique<SentencePiece>(without_input_path(model), what);
}

std::unique_ptr<Tokenizer> sentencepiece_from_model(const std::string& model, const std::string& source) {
  return std::make_unique<SentencePiece>(model, source);
}

std::unique_ptr<Tokenizer> load_sentencepiece(const std::string& model_path) {
  return sentencepiece_from_model(read_file(model_path, "a SentencePiece .model file"), model_path);
}

}  // namespace selfsup::clip
