#include "selfsup/clip/config.h"

namespace selfsup::clip {

void ClipTextConfig::visit(config::Visitor& v) {
  v("tokenizer", tokenizer, "sentencepiece (a subword vocabulary trained on the training captions), words (their most frequent whole words) or wordpiece (BERT's vocab.txt)");
  v("vocab", vocab, "wordpiece: path of BERT's vocab.txt (required); sentencepiece: a trained .model file (empty = train one)");
  v("vocab_size", vocab_size, "sentencepiece, words: vocabulary size to train (words: the most frequent words plus 4 special tokens)", config::at_least(16));
  v("max_length", max_length, "tokens per caption including [CLS] and [SEP]; longer captions are truncated", config::at_least(3));
  v("dim", dim, "text Transformer width (DistilBERT-base: 768)", config::at_least_one);
  v("layers", layers, "Transformer blocks (DistilBERT: 6)", config::at_least_one);
  v("heads", heads, "attention heads (DistilBERT: 12)", config::at_least_one);
  v("hidden_dim", hidden_dim, "feed-forward width (DistilBERT: 3072)", config::at_least_one);
  v("max_positions", max_positions, "position embeddings (DistilBERT: 512; at least max_length)", config::at_least_one);
  v("dropout", dropout, "dropout in the text Transformer (DistilBERT: 0.1)", config::probability);
  v("pretrained", pretrained, "DistilBERT weights (.safetensors, Hugging Face names) to start the text encoder from");
  v("lr_scale", lr_scale, "the text encoder's learning rate relative to train.optimizer.lr (the seed: 1e-5 / 1e-3 for a pretrained one)", config::non_negative);
}

void ClipConfig::visit(config::Visitor& v) {
  v("embed_dim", embed_dim, "dimension of the shared image-text space (the seed: 256)", config::at_least_one);
  v("projection_dropout", projection_dropout, "dropout in both projection heads (the seed: 0.1)", config::probability);
  v("loss", loss, "multi_positive (normalised, learnable scale, all captions of an image are positives), soft_target (the seed blog's loss, for comparison) or siglip");
  v("temperature", temperature, "initial temperature: logit scale = 1 / temperature (CLIP: 0.07; SigLIP: 0.1)", config::positive);
  v("learn_temperature", learn_temperature, "learn the logit scale (clamped at max_logit_scale)");
  v("max_logit_scale", max_logit_scale, "upper clamp of the learnt logit scale (CLIP: 100)", config::at_least(1));
  v("siglip_bias", siglip_bias, "siglip: initial logit bias (the paper: -10)");
  v("soft_target_temperature", soft_target_temperature, "soft_target: the seed's fixed temperature (1.0)", config::positive);
  v("image_pretrained", image_pretrained, "backbone weights to start the image encoder from: torchvision (ResNet) or timm (ViT) names, a .pt file saved as torch.save(dict(model.state_dict()), path) or a .safetensors file; fc.* / head.* are skipped");
  v.section("text", text, "tokenizer and text encoder (DistilBERT architecture, CLS pooling)");
  v("zeroshot_templates", zeroshot_templates, "prompts for zero-shot classification; {} is replaced by the class name");
  v("group_batches", group_batches, "shuffle so that the images sharing a content id (emoji: the same emoji and skin tone by different artists; Flickr8k: one photo each) fall into the same batch, each other's positives through their captions");
  v("eval_every", eval_every, "epochs between retrieval evaluations on the test split (0 = only at the end)", config::non_negative);
}

void ClipConfig::validate(const Recipe& r, const RecipeCheck& check) const {
  const auto& t = text;
  const auto& d = r.data.dataset;
  if (d != "emoji" && d != "flickr8k" && d != "webdataset" && d != "csv")
    check.fail("data.dataset", "task clip needs image-caption data: emoji, flickr8k, webdataset or csv, got '" + d + "'");
  check.views(r, 1, "task clip");
  if (loss != "multi_positive" && loss != "soft_target" && loss != "siglip")
    check.fail("clip.loss", "expected multi_positive, soft_target or siglip, got '" + loss + "'");
  if (embed_dim < 1) check.fail("clip.embed_dim", "expected a positive dimension");
  if (temperature <= 0 || soft_target_temperature <= 0) check.fail("clip.temperature", "expected a positive temperature");
  if (max_logit_scale < 1) check.fail("clip.max_logit_scale", "expected a value >= 1");
  if (projection_dropout < 0 || projection_dropout >= 1) check.fail("clip.projection_dropout", "expected a value in [0, 1)");
  if (eval_every < 0) check.fail("clip.eval_every", "expected 0 (only at the end) or a positive number of epochs");
  if (t.tokenizer != "sentencepiece" && t.tokenizer != "words" && t.tokenizer != "wordpiece")
    check.fail("clip.text.tokenizer", "expected sentencepiece, words or wordpiece, got '" + t.tokenizer + "'");
  if (t.tokenizer == "words" && !t.vocab.empty())
    check.fail("clip.text.vocab", "words builds its vocabulary from the training captions: leave vocab empty");
  if (t.tokenizer == "wordpiece" && t.vocab.empty()) check.fail("clip.text.vocab", "wordpiece needs BERT's vocab.txt");
  if (t.vocab_size < 16) check.fail("clip.text.vocab_size", "expected at least 16");
  if (t.max_length < 3) check.fail("clip.text.max_length", "expected at least 3 ([CLS], one token, [SEP])");
  if (t.max_positions < t.max_length) check.fail("clip.text.max_positions", "expected at least clip.text.max_length");
  if (t.dim < 1 || t.layers < 1 || t.heads < 1 || t.hidden_dim < 1 || t.dim % t.heads != 0)
    check.fail("clip.text", "expected positive dim, layers, heads, hidden_dim with dim divisible by heads");
  if (t.dropout < 0 || t.dropout >= 1) check.fail("clip.text.dropout", "expected a value in [0, 1)");
  for (const auto& tpl : zeroshot_templates)
    if (tpl.find("{}") == std::string::npos) check.fail("clip.zeroshot_templates", "'" + tpl + "' has no {} for the class name");
}

}  // namespace selfsup::clip
