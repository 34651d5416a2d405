#include "selfsup/train/checkpoint.h"

#include <cstdio>
#include <filesystem>

#include "selfsup/core/error.h"
#include "selfsup/core/fs.h"
#include "selfsup/core/tensor.h"
#include "selfsup/io/zip_check.h"
#include "selfsup/models/state_dict.h"

namespace selfsup::train {
namespace {

torch::serialize::InputArchive open_archive(const std::string& path) {
  if (!std::filesystem::exists(path)) throw Error(path + ": checkpoint not found");
  const auto bytes = read_file(path, "checkpoint");
  io::verify_zip_crcs(bytes, path, "not a readable checkpoint");
  torch::serialize::InputArchive archive;
  try {
    archive.load_from(bytes.data(), bytes.size());
  } catch (const c10::Error&) {
    throw Error(path + ": not a selfsup checkpoint (unreadable or truncated archive)");
  }
  return archive;
}

// LibTorch reports a malformed archive as c10::Error, as std::runtime_error or with its unpickler's
// own exceptions, wherever it notices: every read goes through here, so callers get one Error.
template <typename F>
auto reading(const std::string& path, F&& read) -> decltype(read()) {
  try {
    return read();
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    const std::string what = e.what();
    throw Error(path + ": corrupt checkpoint (" + what.substr(0, what.find('\n')) + ")");
  }
}

int64_t count(const std::string& path, const char* key, const torch::Tensor& t) {
  if (t.numel() != 1 || t.is_floating_point() || t.item<int64_t>() < 0)
    throw Error(path + ": corrupt checkpoint: '" + key + "' is not a count");
  return t.item<int64_t>();
}

}  // namespace

void save_checkpoint(const std::string& path, const torch::nn::Module& model, const Optimizer* optimizer,
                     const CheckpointInfo& info) {
  torch::serialize::OutputArchive archive;
  archive.write("format", c10::IValue(std::string("selfsup-checkpoint-1")));
  archive.write("recipe", c10::IValue(info.recipe_yaml));
  archive.write("epochs_done", torch::tensor(info.epochs_done));
  archive.write("global_step", torch::tensor(info.global_step));
  archive.write("train_images", torch::tensor(info.train_images));
  if (!info.extras.empty()) {
    torch::serialize::OutputArchive extras;
    TensorMap tensors;
    for (const auto& [key, bytes] : info.extras) {
      tensors[key] = torch::tensor(std::vector<uint8_t>(bytes.begin(), bytes.end()), torch::kUInt8);
      extras.write(key, tensors[key], /*is_buffer=*/true);
    }
    archive.write("extras", extras);
    // Like model_hash: a corrupt tokenizer must be caught here, not by the SentencePiece parser
    // (which trusts its tables and can crash on a damaged one).
    archive.write("extras_hash", c10::IValue(std::to_string(content_hash(tensors))));
  }
  torch::serialize::OutputArchive weights;
  const auto dict = models::state_dict(model);
  for (const auto& [name, tensor] : dict) weights.write(name, tensor.cpu(), /*is_buffer=*/true);
  archive.write("model", weights);
  // LibTorch does not verify the zip's CRCs on load: this hash is what catches corrupted weights.
  archive.write("model_hash", c10::IValue(std::to_string(content_hash(dict))));
  if (optimizer) {
    torch::serialize::OutputArchive opt;
    optimizer->save(opt);
    archive.write("optimizer", opt);
  }
  atomic_write(path, [&](std::ostream& out) { archive.save_to(out); });
}

namespace {

CheckpointInfo read_info(const std::string& path) {
  auto archive = open_archive(path);
  CheckpointInfo info;
  c10::IValue value;
  if (!archive.try_read("format", value) || value.toStringRef() != "selfsup-checkpoint-1")
    throw Error(path + ": not a selfsup checkpoint (no format tag)");
  archive.read("recipe", value);
  info.recipe_yaml = value.toStringRef();
  torch::Tensor t;
  archive.read("epochs_done", t);
  info.epochs_done = count(path, "epochs_done", t);
  t = torch::Tensor();
  archive.read("global_step", t);
  info.global_step = count(path, "global_step", t);
  t = torch::Tensor();
  if (archive.try_read("train_images", t)) info.train_images = count(path, "train_images", t);
  torch::serialize::InputArchive extras;
  if (archive.try_read("extras", extras)) {
    TensorMap tensors;
    for (const auto& key : extras.keys()) {
      torch::Tensor bytes;
      extras.read(key, bytes, /*is_buffer=*/true);
      bytes = bytes.contiguous();
      const auto* data = bytes.data_ptr<uint8_t>();
      info.extras[key] = std::string(data, data + bytes.numel());
      tensors[key] = bytes;
    }
    c10::IValue hash;
    if (archive.try_read("extras_hash", hash) && hash.toStringRef() != std::to_string(content_hash(tensors)))
      throw Error(path + ": corrupt checkpoint: the stored tokenizer does not match the checksum written with it");
  }
  return info;
}

void load_into(const std::string& path, torch::nn::Module& model, Optimizer* optimizer) {
  auto archive = open_archive(path);
  torch::serialize::InputArchive weights;
  if (!archive.try_read("model", weights)) throw Error(path + ": checkpoint holds no model weights");
  models::StateDict dict;
  for (const auto& [name, expected] : models::state_dict(model)) {
    torch::Tensor value;
    if (!weights.try_read(name, value, /*is_buffer=*/true))
      throw Error(path + ": incompatible checkpoint: no tensor '" + name + "' (was it made by another recipe?)");
    dict[name] = value;
  }
  c10::IValue hash;
  if (archive.try_read("model_hash", hash) && hash.toStringRef() != std::to_string(content_hash(dict)))
    throw Error(path + ": corrupt checkpoint: the weights do not match the checksum written with them");
  models::load_state_dict(model, dict, /*strict=*/true, path);
  if (optimizer) {
    torch::serialize::InputArchive opt;
    if (!archive.try_read("optimizer", opt)) throw Error(path + ": checkpoint holds no optimiser state to resume");
    optimizer->load(opt);
  }
}

}  // namespace

CheckpointInfo read_checkpoint_info(const std::string& path) {
  return reading(path, [&] { return read_info(path); });
}

void load_checkpoint(const std::string& path, torch::nn::Module& model, Optimizer* optimizer) {
  reading(path, [&] { load_into(path, model, optimizer); });
}

StoredRun open_run(const std::string& checkpoint, const std::string& task, const std::string& hint,
                   const std::vector<std::string>& overrides) {
  StoredRun run{checkpoint, read_checkpoint_info(checkpoint), {}};
  run.recipe = parse_recipe(run.info.recipe_yaml, checkpoint + " (stored recipe)", overrides);
  if (run.recipe.task != task)
    throw Error(checkpoint + ": a '" + run.recipe.task + "' checkpoint where a '" + task + "' one is needed (train " + hint +
                ")");
  return run;
}

}  // namespace selfsup::train
