// Starting a backbone from weights trained elsewhere: torchvision (ResNet) or timm (ViT) names, as
// our backbones use them, from a .pt file (Python: torch.save(dict(model.state_dict()), path)) or a
// .safetensors file.
#pragma once

#include <torch/torch.h>

#include <string>
#include <vector>

namespace selfsup::models {

// Loads `path` into `backbone`. The classifier's tensors (torchvision's fc.*, timm's head.*) are
// skipped and returned; every other key must exist in the backbone with the same shape and every
// backbone tensor must be present, else selfsup::Error names the file and the keys.
std::vector<std::string> load_pretrained_backbone(torch::nn::Module& backbone, const std::string& path);

}  // namespace selfsup::models
