// PyTorch-style state dicts for LibTorch modules: dotted names, strict loading with actionable
// errors, and .pt files that Python's torch.load reads as a plain dict of tensors.
#pragma once

#include <torch/torch.h>

#include <map>
#include <string>

#include "selfsup/core/tensor.h"

namespace selfsup::models {

using StateDict = TensorMap;

// Parameters and buffers, recursively, named like PyTorch ("layer1.0.bn1.running_mean").
// The tensors alias the module's storage (detached); clone them to snapshot.
StateDict state_dict(const torch::nn::Module& module);

// Copies `dict` into the module's parameters/buffers (no autograd; dtype converted by copy_).
// A shape mismatch always throws selfsup::Error naming `origin`, the key and both shapes; with
// `strict`, so do keys the module has but `dict` lacks (missing) and the reverse (unexpected).
void load_state_dict(torch::nn::Module& module, const StateDict& dict, bool strict,
                     const std::string& origin);

// Writes `dict` (moved to CPU) in torch.save's zip format; Python: torch.load(path) -> dict.
// Written with atomic_write (core/fs.h): a crash never leaves a truncated file at `path`.
void save_state_dict_pt(const std::string& path, const StateDict& dict);

// Reads a file written by save_state_dict_pt or by Python's torch.save({name: tensor}, path).
// NOT readable: torch.save(model.state_dict(), path) as is -- LibTorch's unpickler (1.13 and 2.x)
// replaces the OrderedDict with None; save dict(model.state_dict()) instead. (Nor can it read a
// Python dict with exactly one entry: pickle's SETITEM opcode is unsupported.) Throws
// selfsup::Error (with that hint) if the file is unreadable or not a string -> tensor dict.
StateDict load_state_dict_pt(const std::string& path);

}  // namespace selfsup::models
