// The recipe's `clip` section (task clip): the shared embedding space, the loss, the text side.
#pragma once

#include <string>
#include <vector>

#include "selfsup/core/config.h"
#include "selfsup/train/recipe.h"

namespace selfsup::clip {

struct ClipTextConfig {
  std::string tokenizer = "sentencepiece";  // sentencepiece | words | wordpiece
  std::string vocab;  // wordpiece: BERT vocab.txt (required); sentencepiece: empty = trained on the captions
  int64_t vocab_size = 2000;  // sentencepiece / words: vocabulary trained from the training captions
  int64_t max_length = 32;    // tokens per caption, [CLS] and [SEP] included
  int64_t dim = 128;          // DistilBERT-base: 768 / 6 layers / 12 heads / 3072 / 512 positions
  int64_t layers = 2;
  int64_t heads = 4;
  int64_t hidden_dim = 512;
  int64_t max_positions = 64;
  double dropout = 0.1;
  std::string pretrained;  // DistilBERT weights (.safetensors) to start from
  double lr_scale = 1.0;   // the text encoder's lr relative to train.optimizer.lr
  void visit(config::Visitor& v);
};

struct ClipConfig : config::DynamicSectionOf<ClipConfig> {
  static constexpr const char* kSection = "clip";
  int64_t embed_dim = 256;  // the shared image-text space
  double projection_dropout = 0.1;
  std::string loss = "multi_positive";  // multi_positive | soft_target | siglip
  double temperature = 0.07;            // initial 1 / logit scale
  bool learn_temperature = true;
  double max_logit_scale = 100;
  double siglip_bias = -10;
  double soft_target_temperature = 1.0;
  std::string image_pretrained;  // torchvision / timm backbone weights (.pt dict or .safetensors) to start from
  ClipTextConfig text;
  std::vector<std::string> zeroshot_templates{"{}", "an emoji of {}", "a picture of {}"};
  bool group_batches = false;  // keep the images of one content id (one emoji by several artists) in one batch
  int64_t eval_every = 5;  // epochs between retrieval evaluations on the test split (0 = only at the end)
  void visit(config::Visitor& v) override;
  void validate(const Recipe& r, const RecipeCheck& check) const;
};

inline const ClipConfig& clip_config(const Recipe& r) { return r.section<ClipConfig>(); }

}  // namespace selfsup::clip
