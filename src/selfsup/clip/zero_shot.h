// Zero-shot classification (CLIP, open_clip's zero_shot.py): each class is the normalised mean of
// the text embeddings of its prompts ("an emoji of {}" with {} = class name); an image gets the
// class whose embedding is most similar.
#pragma once

#include <torch/torch.h>

#include <string>
#include <vector>

#include "selfsup/clip/model.h"
#include "selfsup/clip/tokenizer.h"

namespace selfsup::clip {

// "{}" in each template replaced by the class name (every occurrence).
std::string fill_template(const std::string& tpl, const std::string& name);

// C x E, rows of unit length.
torch::Tensor class_embeddings(ClipModel& model, const Tokenizer& tokenizer, const std::vector<std::string>& classes,
                               const std::vector<std::string>& templates, int64_t max_length, torch::Device device);

struct ZeroShotResult {
  double top1 = 0, top5 = 0;  // fractions in [0, 1]
  torch::Tensor predictions;  // N int64
};

// image_emb: N x E normalised; labels: N int64 (rows with label < 0 are skipped).
ZeroShotResult zero_shot_accuracy(const torch::Tensor& image_emb, const torch::Tensor& class_emb, const torch::Tensor& labels);

}  // namespace selfsup::clip
