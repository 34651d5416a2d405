// Training checkpoints: the method's full state (encoders, heads, queues, momentum networks),
// the optimiser's state, the resolved recipe and the position in the run. Written to a temporary
// file and renamed, so a crash mid-write never destroys the previous checkpoint.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "selfsup/train/optimizer.h"
#include "selfsup/train/recipe.h"

namespace selfsup::train {

struct CheckpointInfo {
  std::string recipe_yaml;  // the resolved recipe that built the model
  int64_t epochs_done = 0;  // completed epochs
  int64_t global_step = 0;  // optimiser steps taken
  int64_t train_images = 0;  // size of the training set (InstDisc's memory bank has one row per image)
  std::map<std::string, std::string> extras;  // bytes besides tensors the model needs (CLIP: tokenizer)
};

void save_checkpoint(const std::string& path, const torch::nn::Module& model, const Optimizer* optimizer,
                     const CheckpointInfo& info);

// Reads only the metadata (to rebuild the model from its recipe before loading the weights).
CheckpointInfo read_checkpoint_info(const std::string& path);

// Loads weights (strict: every tensor present with its shape) and, if given, the optimiser state.
void load_checkpoint(const std::string& path, torch::nn::Module& model, Optimizer* optimizer);

// What every command that uses a trained model starts from: the checkpoint's metadata and the
// recipe stored in it (with `overrides` applied, e.g. device=cuda), checked to be a run of `task`.
struct StoredRun {
  std::string checkpoint;
  CheckpointInfo info;
  Recipe recipe;
};
// Throws selfsup::Error "<checkpoint>: a 'clip' checkpoint where a 'ssl' one is needed (train <hint>)".
StoredRun open_run(const std::string& checkpoint, const std::string& task, const std::string& hint,
                   const std::vector<std::string>& overrides = {});

}  // namespace selfsup::train
