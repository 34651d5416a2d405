// CLIP as a trainer task: the recipe's image-caption data (emoji or Flickr8k), a tokenizer (trained
// on the training captions unless a vocabulary is given), the two-tower model, and retrieval
// recall@K / zero-shot accuracy on the evaluation split. Also rebuilds a trained model from its
// checkpoint for the embed / search / zeroshot commands.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "selfsup/clip/config.h"
#include "selfsup/clip/model.h"
#include "selfsup/clip/tokenizer.h"
#include "selfsup/data/captions.h"
#include "selfsup/train/recipe.h"
#include "selfsup/train/task.h"

namespace selfsup::clip {

// Registers the recipe's clip section and task clip (selfsup::register_builtin() calls it).
void register_task();

// The tokenizer the recipe asks for: from `extras` (a checkpoint's) when they hold one, else from
// clip.text.vocab, else trained on `captions`.
std::unique_ptr<Tokenizer> make_tokenizer(const Recipe& recipe, const std::vector<std::string>& captions,
                                          const std::map<std::string, std::string>& extras);

struct TrainedClip {
  Recipe recipe;
  std::shared_ptr<ClipModel> model;
  std::unique_ptr<Tokenizer> tokenizer;
  nlohmann::json identity;  // {"checkpoint", "name", "fingerprint"}: recorded in search indexes
};

// Throws selfsup::Error when the checkpoint is not a CLIP run's.
TrainedClip load_trained_clip(const std::string& checkpoint, torch::Device device);

// Retrieval (both directions), the label protocol when the images have plain labels (emoji) and,
// when they have class labels, zero-shot accuracy. With pixel_baseline_train (recipe.eval.baselines)
// the label protocol is also measured for raw pixels matched to those training images.
nlohmann::json evaluate_clip(ClipModel& model, const Tokenizer& tokenizer, const Recipe& recipe,
                             const data::CaptionDataset& test, torch::Device device, bool zero_shot,
                             const data::CaptionDataset* pixel_baseline_train = nullptr);

}  // namespace selfsup::clip
