// State-dict helpers (see state_dict.h); files go through torch::pickle_save / pickle_load.
#include "selfsup/models/state_dict.h"

#include "selfsup/core/error.h"
#include "selfsup/core/fs.h"
#include "selfsup/io/zip_check.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <sstream>
#include <vector>

namespace selfsup::models {

namespace {

std::string shape(const torch::Tensor& t) { return c10::str(t.sizes()); }

// "a, b, c and 7 more": one readable line even when a whole model mismatches.
std::string key_list(const std::vector<std::string>& keys) {
  std::string out;
  const size_t shown = std::min<size_t>(keys.size(), 5);
  for (size_t i = 0; i < shown; ++i) out += (i ? ", " : "") + keys[i];
  if (keys.size() > shown) out += " and " + std::to_string(keys.size() - shown) + " more";
  return out;
}

void write_bytes(const std::string& path, const std::vector<char>& bytes) {
  atomic_write(path, [&](std::ostream& out) { out.write(bytes.data(), static_cast<std::streamsize>(bytes.size())); });
}

}  // namespace

StateDict state_dict(const torch::nn::Module& module) {
  StateDict dict;
  for (const auto& p : module.named_parameters(/*recurse=*/true)) dict[p.key()] = p.value().detach();
  for (const auto& b : module.named_buffers(/*recurse=*/true)) dict[b.key()] = b.value().detach();
  return dict;
}

void load_state_dict(torch::nn::Module& module, const StateDict& dict, bool strict,
                     const std::string& origin) {
  const StateDict own = state_dict(module);
  std::vector<std::string> missing, unexpected;
  for (const auto& [key, target] : own) {
    auto it = dict.find(key);
    if (it == dict.end()) {
      missing.push_back(key);
    } else if (it->second.sizes() != target.sizes()) {
      throw Error(origin + ": shape mismatch for '" + key + "': checkpoint has " +
                  shape(it->second) + ", model has " + shape(target));
    }
  }
  for (const auto& entry : dict)
    if (!own.count(entry.first)) unexpected.push_back(entry.first);
  if (strict && !missing.empty())
    throw Error(origin + ": missing keys in state dict: " + key_list(missing));
  if (strict && !unexpected.empty())
    throw Error(origin + ": unexpected keys in state dict: " + key_list(unexpected));
  torch::NoGradGuard no_grad;
  for (const auto& [key, target] : own) {
    auto it = dict.find(key);
    if (it != dict.end()) target.copy_(it->second);
  }
}

void save_state_dict_pt(const std::string& path, const StateDict& dict) {
  c10::Dict<std::string, at::Tensor> d;
  for (const auto& [key, t] : dict) d.insert(key, t.detach().cpu());
  write_bytes(path, torch::pickle_save(c10::IValue(d)));
}

StateDict load_state_dict_pt(const std::string& path) {
  const auto bytes = read_file(path, "state dict file");
  // LibTorch's reader trusts the archive: damage must be caught before it (io/zip_check.h).
  io::verify_zip_crcs(bytes, path, "not a readable torch state dict file");
  c10::IValue value;
  try {
    value = torch::pickle_load(std::vector<char>(bytes.begin(), bytes.end()));
  } catch (const std::exception& e) {  // c10::Error, or the unpickler's own errors
    std::istringstream first_line(e.what());
    std::string line;
    std::getline(first_line, line);
    // LibTorch's unpickler turns a Python OrderedDict (what model.state_dict() returns) into
    // None, so such files fail here; a plain dict of the same tensors loads fine.
    throw Error(path + ": not a readable torch state dict file (" + line +
                "); from Python, save a plain dict: torch.save(dict(model.state_dict()), path)");
  }
  if (!value.isGenericDict()) throw Error(path + ": expected a dict of tensors, got " + value.tagKind());
  StateDict dict;
  for (const auto& entry : value.toGenericDict()) {
    if (!entry.key().isString() || !entry.value().isTensor())
      throw Error(path + ": expected a dict of string -> tensor, found a " + entry.key().tagKind() +
                  " -> " + entry.value().tagKind() + " entry");
    dict[entry.key().toStringRef()] = entry.value().toTensor();
  }
  return dict;
}

}  // namespace selfsup::models
