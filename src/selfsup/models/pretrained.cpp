#include "selfsup/models/pretrained.h"

#include <filesystem>

#include "selfsup/io/safetensors.h"
#include "selfsup/models/state_dict.h"

namespace selfsup::models {

namespace {

bool is_classifier_key(const std::string& key) { return key.rfind("fc.", 0) == 0 || key.rfind("head.", 0) == 0; }

}  // namespace

std::vector<std::string> load_pretrained_backbone(torch::nn::Module& backbone, const std::string& path) {
  const bool safetensors = std::filesystem::path(path).extension() == ".safetensors";
  const StateDict file = safetensors ? io::read_safetensors(path).tensors : load_state_dict_pt(path);
  StateDict kept;
  std::vector<std::string> skipped;
  for (const auto& [key, tensor] : file) {
    if (is_classifier_key(key))
      skipped.push_back(key);
    else
      kept.emplace(key, tensor);
  }
  load_state_dict(backbone, kept, /*strict=*/true, path);
  return skipped;
}

}  // namespace selfsup::models
