#include "selfsup/clip/task.h"

#include <iomanip>
#include <iostream>
#include <sstream>

#include "selfsup/clip/embed.h"
#include "selfsup/clip/index.h"
#include "selfsup/clip/label_protocol.h"
#include "selfsup/clip/zero_shot.h"
#include "selfsup/core/error.h"
#include "selfsup/data/source.h"
#include "selfsup/eval/retrieval.h"
#include "selfsup/models/pretrained.h"
#include "selfsup/models/text_transformer.h"
#include "selfsup/train/checkpoint.h"

namespace selfsup::clip {
namespace {

std::string percent(double v) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(1) << 100 * v;
  return s.str();
}

// Groups the captions by content so a training step can draw one of an image's captions.
CaptionTable caption_table(const data::CaptionDataset& ds, const Tokenizer& tokenizer, int64_t max_length) {
  CaptionTable t;
  const auto tokens = tokenizer.encode(ds.captions, max_length);
  t.ids = tokens.ids;
  t.mask = tokens.mask;
  t.order = std::get<1>(ds.caption_group.sort(/*stable=*/true, /*dim=*/0, /*descending=*/false));
  const auto sorted_groups = ds.caption_group.index_select(0, t.order);
  t.first = torch::searchsorted(sorted_groups, ds.image_group, /*out_int32=*/false, /*right=*/false);
  t.count = torch::searchsorted(sorted_groups, ds.image_group, false, /*right=*/true) - t.first;
  const auto captionless = (t.count == 0).nonzero();
  if (captionless.size(0) > 0)
    throw Error(ds.source + ": image " + ds.paths.at(captionless[0][0].item<int64_t>()) + " has no caption");
  t.image_group = ds.image_group;
  return t;
}

class ClipTask : public train::Task {
 public:
  ClipTask(const Recipe& recipe, torch::Device device, const std::map<std::string, std::string>& extras)
      : r_(recipe), device_(device) {
    train_ = data::load_caption_dataset(r_.data, /*train=*/true);
    std::cout << "data: " << train_.images.size() << " training images, " << train_.captions.size() << " captions from "
              << train_.source << std::endl;
    tokenizer_ = make_tokenizer(r_, train_.captions, extras);
    const std::string& asked = clip_config(r_).text.tokenizer;  // "words" is stored as a WordPiece vocabulary
    std::cout << "tokenizer: " << asked << (asked == tokenizer_->kind() ? "" : " (a " + tokenizer_->kind() + " vocabulary)")
              << ", " << tokenizer_->vocab_size() << " tokens" << std::endl;
    torch::manual_seed(static_cast<uint64_t>(r_.seed));
    model_ = std::make_shared<ClipModel>(r_, train_.images.channels(), tokenizer_->vocab_size(), tokenizer_->pad_id());
    if (!clip_config(r_).image_pretrained.empty()) {
      const auto skipped = models::load_pretrained_backbone(*model_->image_encoder, clip_config(r_).image_pretrained);
      std::cout << "image encoder: weights from " << clip_config(r_).image_pretrained << " (" << skipped.size()
                << " classifier tensors skipped)" << std::endl;
    }
    if (!clip_config(r_).text.pretrained.empty()) {
      const auto skipped = models::load_distilbert(model_->text_encoder, clip_config(r_).text.pretrained);
      std::cout << "text encoder: DistilBERT weights from " << clip_config(r_).text.pretrained << " (" << skipped.size()
                << " head tensors skipped)" << std::endl;
    }
    model_->set_captions(caption_table(train_, *tokenizer_, clip_config(r_).text.max_length));
    model_->to(device_);
  }

  const data::ImageDataset& train_images() const override { return train_.images; }
  std::shared_ptr<train::Model> model() override { return model_; }
  torch::Tensor batch_groups() const override {
    return clip_config(r_).group_batches ? train_.image_group : torch::Tensor();
  }

  std::string describe_model() const override {
    std::ostringstream s;
    s << r_.model.name << " (width " << r_.model.width << ") + text transformer (dim " << clip_config(r_).text.dim << ", "
      << clip_config(r_).text.layers << " layers) -> " << clip_config(r_).embed_dim << "-d, loss " << clip_config(r_).loss;
    return s.str();
  }

  std::vector<std::string> epoch_metric_names() const override {
    return {"t2i_r1", "t2i_r5", "t2i_r10", "i2t_r1", "i2t_r5", "i2t_r10"};
  }

  std::map<std::string, double> evaluate_epoch(int64_t epochs_done) override {
    if (clip_config(r_).eval_every <= 0 || epochs_done % clip_config(r_).eval_every != 0) return {};
    const auto j = evaluate_clip(*model_, *tokenizer_, r_, test(), device_, false)["retrieval"];
    const auto& t2i = j["text_to_image"];
    const auto& i2t = j["image_to_text"];
    std::cout << "epoch " << epochs_done << " retrieval on " << test().images.size() << " test images: text->image R@1/5/10 "
              << percent(t2i["r1"]) << "/" << percent(t2i["r5"]) << "/" << percent(t2i["r10"]) << ", image->text "
              << percent(i2t["r1"]) << "/" << percent(i2t["r5"]) << "/" << percent(i2t["r10"]) << std::endl;
    return {{"t2i_r1", t2i["r1"]}, {"t2i_r5", t2i["r5"]}, {"t2i_r10", t2i["r10"]},
            {"i2t_r1", i2t["r1"]}, {"i2t_r5", i2t["r5"]}, {"i2t_r10", i2t["r10"]}};
  }

  nlohmann::json evaluate_final() override {
    std::cout << "evaluating retrieval and zero-shot classification on " << test().images.size() << " test images, "
              << test().captions.size() << " captions..." << std::endl;
    return {{"eval", evaluate_clip(*model_, *tokenizer_, r_, test(), device_, true, r_.eval.baselines ? &train_ : nullptr)}};
  }

  std::map<std::string, std::string> checkpoint_extras() const override {
    return {{"tokenizer_kind", tokenizer_->kind()}, {"tokenizer", tokenizer_->serialize()}};
  }

 private:
  const data::CaptionDataset& test() {
    if (!test_.images.size()) test_ = data::load_caption_dataset(r_.data, /*train=*/false);
    return test_;
  }

  Recipe r_;
  torch::Device device_;
  data::CaptionDataset train_, test_;
  std::unique_ptr<Tokenizer> tokenizer_;
  std::shared_ptr<ClipModel> model_;
};

}  // namespace

std::unique_ptr<Tokenizer> make_tokenizer(const Recipe& recipe, const std::vector<std::string>& captions,
                                          const std::map<std::string, std::string>& extras) {
  const auto kind = extras.find("tokenizer_kind"), data = extras.find("tokenizer");
  if (kind != extras.end() && data != extras.end()) return tokenizer_from_serialized(kind->second, data->second);
  const auto& t = clip_config(recipe).text;
  if (t.tokenizer == "wordpiece") return load_wordpiece(t.vocab);
  if (t.tokenizer == "words") return train_words(captions, t.vocab_size);
  if (!t.vocab.empty()) return load_sentencepiece(t.vocab);
  return train_sentencepiece(captions, t.vocab_size);
}

TrainedClip load_trained_clip(const std::string& checkpoint, torch::Device device) {
  const auto run = train::open_run(checkpoint, "clip", "recipes/clip_emoji.yaml");
  const auto& info = run.info;
  TrainedClip c;
  c.recipe = run.recipe;
  if (!info.extras.count("tokenizer")) throw Error(checkpoint + ": CLIP checkpoint without its tokenizer");
  c.tokenizer = make_tokenizer(c.recipe, {}, info.extras);
  const int64_t channels = 3;
  c.model = std::make_shared<ClipModel>(c.recipe, channels, c.tokenizer->vocab_size(), c.tokenizer->pad_id());
  train::load_checkpoint(checkpoint, *c.model, nullptr);
  c.model->to(device);
  c.model->eval();
  c.identity = {{"checkpoint", checkpoint}, {"name", c.recipe.name}, {"fingerprint", model_fingerprint(*c.model)}};
  return c;
}

nlohmann::json evaluate_clip(ClipModel& model, const Tokenizer& tokenizer, const Recipe& recipe,
                             const data::CaptionDataset& test, torch::Device device, bool zero_shot,
                             const data::CaptionDataset* pixel_baseline_train) {
  const auto& view = recipe.augment.views.at(0);
  const auto images = embed_images(model, test.images.images, view, device, recipe.eval.batch_size, /*progress=*/true);
  const auto texts = embed_texts(model, tokenizer, test.captions, clip_config(recipe).text.max_length, device, recipe.eval.batch_size);
  nlohmann::json j;
  j["retrieval"] = eval::retrieval_metrics(images, texts, test.image_group, test.caption_group).to_json();
  j["test_images"] = test.images.size();
  j["test_captions"] = test.captions.size();
  j["chance_r10"] = std::min(1.0, 10.0 / static_cast<double>(std::max<int64_t>(1, test.images.size())));
  const auto labels = label_queries(test);
  if (!labels.texts.empty()) {
    const auto label_texts = embed_texts(model, tokenizer, labels.texts, clip_config(recipe).text.max_length, device,
                                         recipe.eval.batch_size);
    j["label_protocol"] = label_protocol(torch::matmul(label_texts, images.t()), test, labels);
    if (pixel_baseline_train)
      j["label_protocol"]["raw_pixels"] = label_protocol(pixel_label_similarity(*pixel_baseline_train, test, labels), test, labels);
  }
  if (zero_shot && test.images.num_classes() > 1) {
    const auto classes = class_embeddings(model, tokenizer, test.images.class_names, clip_config(recipe).zeroshot_templates,
                                          clip_config(recipe).text.max_length, device);
    const auto z = zero_shot_accuracy(images, classes, test.images.labels);
    j["zeroshot"] = {{"top1", z.top1}, {"top5", z.top5}, {"classes", test.images.num_classes()}};
  }
  return j;
}

void register_task() {
  register_recipe_section(ClipConfig::kSection, "image-text model and loss (task: clip)",
                          [] { return std::make_unique<ClipConfig>(); });
  train::register_task_type(
      {"clip", [](const Recipe& r, const RecipeCheck& check) { clip_config(r).validate(r, check); },
       [](const Recipe& r, torch::Device device, const train::Extras& extras) {
         return std::unique_ptr<train::Task>(std::make_unique<ClipTask>(r, device, extras));
       }});
}

}  // namespace selfsup::clip
