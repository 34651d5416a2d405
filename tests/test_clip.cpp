// CLIP: each loss against hand-computed values, the multi-positive targets, retrieval ranks,
// zero-shot, the index file, and a tiny end-to-end run: train on a handful of image-caption pairs,
// embed the images into an index, and find each image from its own caption with the CLI.
#include <gtest/gtest.h>
#include <stb/stb_image_write.h>
#include <unistd.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "run_cli.h"
#include "test_util.h"
#include "selfsup/clip/index.h"
#include "selfsup/clip/label_protocol.h"
#include "selfsup/clip/loss.h"
#include "selfsup/clip/model.h"
#include "selfsup/clip/zero_shot.h"
#include "selfsup/core/error.h"
#include "selfsup/eval/retrieval.h"
#include "selfsup/models/registry.h"
#include "selfsup/models/state_dict.h"
#include "selfsup/train/recipe.h"

using namespace selfsup;
namespace fs = std::filesystem;

namespace {

torch::Tensor ids(std::vector<int64_t> v) { return torch::tensor(v, torch::kLong); }

}  // namespace

TEST(ClipLoss, PositiveMaskFollowsContentIds) {
  const auto m = clip::positive_mask(ids({0, 0, 7}), ids({7, 0}));
  EXPECT_TRUE(torch::equal(m, torch::tensor({false, true, false, true, true, false}, torch::kBool).view({3, 2})));
}

TEST(ClipLoss, MultiPositiveWithOnePositivePerRowIsClipsLoss) {
  // Orthonormal pairs: logits = s I, so every row's cross-entropy is log(1 + e^-s).
  const double s = 3.0;
  const auto e = torch::eye(2);
  const auto loss = clip::multi_positive_loss(e * 5, e, clip::positive_mask(ids({0, 1}), ids({0, 1})), torch::tensor(s));
  EXPECT_NEAR(loss.item<double>(), std::log(1 + std::exp(-s)), 1e-6);
}

TEST(ClipLoss, MultiPositiveSpreadsTheTargetOverAllPositives) {
  // Images 0 and 1 show the same thing (id 0); each text is its image's direction.
  // Rows 0, 1: logits [s, s, 0], target [1/2, 1/2, 0] -> log(2 + e^-s); row 2: [0, 0, s] -> log(1 + 2 e^-s).
  const double s = 2.0;
  const auto x = torch::tensor({1.f, 0.f, 1.f, 0.f, 0.f, 1.f}).view({3, 2});
  const auto g = ids({0, 0, 1});
  const auto loss = clip::multi_positive_loss(x, x, clip::positive_mask(g, g), torch::tensor(s));
  const double row01 = std::log(2 + std::exp(-s)), row2 = std::log(1 + 2 * std::exp(-s));
  EXPECT_NEAR(loss.item<double>(), (2 * row01 + row2) / 3, 1e-6);
}

TEST(ClipLoss, SoftTargetOnOrthonormalEmbeddingsIsTheTargetsEntropy) {
  // I = T = identity, tau = 1: logits = I and targets = softmax(I) row-wise, so CE = H(softmax([1, 0])).
  const auto e = torch::eye(2);
  const double p = std::exp(1.0) / (std::exp(1.0) + 1);
  const double entropy = -(p * std::log(p) + (1 - p) * std::log(1 - p));
  EXPECT_NEAR(clip::soft_target_loss(e, e, 1.0).item<double>(), entropy, 1e-6);
}

TEST(ClipLoss, SoftTargetOfIdenticalEmbeddingsIsLnN) {
  // Every logit and every target equal: uniform targets against a uniform softmax, CE = ln N --
  // the value a collapsed run sits at (docs/results.md).
  const auto same = torch::ones({4, 3});
  EXPECT_NEAR(clip::soft_target_loss(same, same, 1.0).item<double>(), std::log(4.0), 1e-6);
}

TEST(ClipLoss, SiglipHandValue) {
  // Orthonormal pairs, scale 10, bias -10: positives have logit 0 (-log sigmoid(0) = log 2),
  // negatives -10 (-log sigmoid(10)); the sum over the 2 x 2 pairs is divided by N = 2.
  const auto e = torch::eye(2);
  const auto loss = clip::siglip_loss(e, e, clip::positive_mask(ids({0, 1}), ids({0, 1})), torch::tensor(10.0),
                                      torch::tensor(-10.0));
  EXPECT_NEAR(loss.item<double>(), std::log(2.0) + std::log(1 + std::exp(-10.0)), 1e-6);
}

TEST(Retrieval, RanksCountAnyPositiveAndTiesAgainstTheQuery) {
  // Three images; texts 0 and 1 describe image 0 (group 5), text 2 image 2 (group 9).
  const auto images = torch::tensor({1.f, 0.f, 0.f, 1.f, 0.7071f, 0.7071f}).view({3, 2});
  const auto texts = torch::tensor({1.f, 0.f, 0.f, 1.f, 0.f, 1.f}).view({3, 2});
  const auto image_groups = ids({5, 7, 9}), text_groups = ids({5, 5, 9});
  // text 0 -> image 0 first (rank 1); text 1 = (0, 1): image 1 scores 1, image 2 0.707, image 0 0 -> rank 3;
  // text 2 = (0, 1): image 2 is second -> rank 2.
  const auto t2i = eval::best_positive_ranks(texts, images, text_groups, image_groups);
  EXPECT_EQ(t2i, (std::vector<int64_t>{1, 3, 2}));
  // image 1 (group 7) has no caption: skipped (rank 0).
  const auto i2t = eval::best_positive_ranks(images, texts, image_groups, text_groups);
  EXPECT_EQ(i2t[1], 0);
  EXPECT_EQ(i2t[0], 1);
  const auto s = eval::summarize_ranks(t2i);
  EXPECT_EQ(s.queries, 3);
  EXPECT_NEAR(s.r1, 1.0 / 3, 1e-9);
  EXPECT_NEAR(s.r5, 1.0, 1e-9);
  EXPECT_NEAR(s.mean_rank, 2.0, 1e-9);
  EXPECT_NEAR(s.median_rank, 2.0, 1e-9);
}

// Three test images as basis vectors: "a" (emoji 0), "a: tone" (a skin tone of emoji 0) and "b"
// (emoji 2, held out of training); the label "a" scores its tone variant above it.
TEST(LabelProtocol, HandComputedRanksAnyToneAndUnseen) {
  data::CaptionDataset test;
  test.image_label = {"a", "a: tone", "b", "a"};  // the fourth image: a second "a", never retrieved
  test.image_base_group = torch::tensor({0, 0, 2, 0}, torch::kLong);
  test.image_unseen = torch::tensor({0, 0, 1, 0}, torch::kLong).ne(0);
  const auto q = clip::label_queries(test);
  ASSERT_EQ(q.texts, (std::vector<std::string>{"a", "a: tone", "b"}));
  EXPECT_TRUE(torch::equal(q.of_image, torch::tensor({0, 1, 2, 0}, torch::kLong)));
  EXPECT_TRUE(torch::equal(q.first_image, torch::tensor({0, 1, 2}, torch::kLong)));

  const auto images = torch::tensor({1.f, 0.f, 0.f, 0.f, 1.f, 0.f, 0.f, 0.f, 1.f, -1.f, 0.f, 0.f}).view({4, 3});
  const auto texts = torch::tensor({0.6f, 0.8f, 0.f, 0.f, 1.f, 0.f, 0.8f, 0.f, 0.6f}).view({3, 3});
  const auto j = clip::label_protocol(texts.mm(images.t()), test, q);
  EXPECT_EQ(j["queries"], 3);
  // text->image ranks: a 2 (its tone variant first), a: tone 1, b 2 (image "a" first).
  EXPECT_NEAR(j["text_to_image"]["r1"].get<double>(), 1.0 / 3, 1e-9);
  EXPECT_NEAR(j["text_to_image"]["r5"].get<double>(), 1.0, 1e-9);
  EXPECT_NEAR(j["text_to_image"]["mean_rank"].get<double>(), 5.0 / 3, 1e-9);
  // image->text ranks: image a 2 ("b" scores 0.8), a: tone 1, b 1, the second a 2 ("a: tone" scores 0 > -0.6).
  EXPECT_NEAR(j["image_to_text"]["r1"].get<double>(), 0.5, 1e-9);
  EXPECT_EQ(j["image_to_text"]["queries"], 4);
  // Any tone: "a" finds its variant first (a hit) and the second image a "a: tone"; "b" still ranks
  // 2, and image a still ranks "b" first.
  EXPECT_NEAR(j["any_tone_r1"]["text_to_image"].get<double>(), 2.0 / 3, 1e-9);
  EXPECT_NEAR(j["any_tone_r1"]["image_to_text"].get<double>(), 0.75, 1e-9);
  // Unseen: the query "b" (rank 2) and the image b (rank 1).
  EXPECT_EQ(j["unseen"]["queries"], 1);
  EXPECT_EQ(j["unseen"]["text_to_image"]["r1"], 0.0);
  EXPECT_EQ(j["unseen"]["text_to_image"]["r5"], 1.0);
  EXPECT_EQ(j["unseen"]["image_to_text"]["r1"], 1.0);
  EXPECT_EQ(j["unseen"]["image_to_text"]["queries"], 1);

  test.image_unseen = torch::zeros({4}, torch::kBool);
  EXPECT_FALSE(clip::label_protocol(texts.mm(images.t()), test, q).contains("unseen"));
  EXPECT_TRUE(clip::label_queries(data::CaptionDataset{}).texts.empty());
}

// Two-pixel grey images. Training: a = (10, 0), b = (0, 10), c = (5, 5); their mean (5, 5) is
// subtracted, so c becomes 0 and matches nothing. Test: a = (9, 1), b = (2, 8) and d = (6, 4), whose
// label has no training image. Cosines to the training images: a (1, -1, 0), b (-1, 1, 0), d (1, -1, 0).
TEST(LabelProtocol, RawPixelsMatchTheTrainingImagesOfEachLabel) {
  const auto dataset = [](std::vector<uint8_t> pixels, std::vector<std::string> labels) {
    data::CaptionDataset d;
    const auto n = static_cast<int64_t>(labels.size());
    d.images.images = torch::tensor(std::vector<int64_t>(pixels.begin(), pixels.end())).to(torch::kUInt8).view({n, 1, 1, 2});
    d.image_label = std::move(labels);
    d.image_base_group = torch::arange(n, torch::kLong);
    return d;
  };
  const auto train = dataset({10, 0, 0, 10, 5, 5}, {"a", "b", "c"});
  const auto test = dataset({9, 1, 2, 8, 6, 4}, {"a", "b", "d"});
  const auto q = clip::label_queries(test);
  const auto sims = clip::pixel_label_similarity(train, test, q);
  EXPECT_TRUE(torch::allclose(sims, torch::tensor({1.f, -1.f, 1.f, -1.f, 1.f, -1.f, -2.f, -2.f, -2.f}).view({3, 3}), 1e-5, 1e-5)) << sims;
  const auto j = clip::label_protocol(sims, test, q);
  // text->image: "a" ties with image d (counted against it: rank 2), "b" rank 1, "d" rank 3.
  EXPECT_NEAR(j["text_to_image"]["mean_rank"].get<double>(), 2.0, 1e-9);
  EXPECT_NEAR(j["text_to_image"]["r1"].get<double>(), 1.0 / 3, 1e-9);
  // image->text: a and b find their label first, d's label comes last (rank 3).
  EXPECT_NEAR(j["image_to_text"]["r1"].get<double>(), 2.0 / 3, 1e-9);
  EXPECT_NEAR(j["image_to_text"]["mean_rank"].get<double>(), 5.0 / 3, 1e-9);

  auto wide = dataset({1, 2}, {"a"});
  wide.images.images = torch::zeros({1, 1, 1, 4}, torch::kUInt8);
  EXPECT_TRUE(test_util::contains(test_util::error_message([&] { clip::pixel_label_similarity(train, wide, clip::label_queries(wide)); }),
                       "raw-pixel baseline: training images [3, 1, 1, 2] and test images [1, 1, 1, 4] differ in size"));
}

TEST(ZeroShot, TemplatesAndAccuracy) {
  EXPECT_EQ(clip::fill_template("an emoji of {}", "food"), "an emoji of food");
  EXPECT_EQ(clip::fill_template("{} and {}", "x"), "x and x");
  const auto classes = torch::eye(3);
  const auto images = torch::tensor({1.f, 0.f, 0.f, 0.f, 0.9f, 0.1f, 0.f, 0.6f, 0.4f}).view({3, 3});
  const auto r = clip::zero_shot_accuracy(images, classes, ids({0, 1, 2}));
  EXPECT_NEAR(r.top1, 2.0 / 3, 1e-9);
  EXPECT_NEAR(r.top5, 1.0, 1e-9);
}

TEST(ClipIndex, RoundTripSearchAndErrors) {
  const auto dir = test_util::tmp_dir("index");
  const auto path = dir + "/index.bin";
  const auto emb = torch::nn::functional::normalize(torch::randn({50, 8}),
                                                    torch::nn::functional::NormalizeFuncOptions().dim(1));
  std::vector<std::string> paths;
  for (int i = 0; i < 50; ++i) paths.push_back("img" + std::to_string(i) + ".png");
  clip::write_index(path, emb, paths, {{"fingerprint", "abc"}});
  const auto index = clip::read_index(path);
  EXPECT_TRUE(torch::equal(index.embeddings, emb));
  EXPECT_EQ(index.paths, paths);
  EXPECT_EQ(index.model["fingerprint"], "abc");
  const auto matches = clip::search(index, emb[17], 3);
  ASSERT_EQ(matches.size(), 3u);
  EXPECT_EQ(matches[0].index, 17);
  EXPECT_NEAR(matches[0].score, 1.0, 1e-5);
  EXPECT_GE(matches[1].score, matches[2].score);
  // A truncated file names itself; a file of another kind too.
  fs::resize_file(path, fs::file_size(path) - 4);
  try {
    clip::read_index(path);
    FAIL() << "truncated index accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("truncated"), std::string::npos) << e.what();
  }
  std::ofstream(dir + "/other.bin") << "hello world, not an index";
  EXPECT_THROW(clip::read_index(dir + "/other.bin"), Error);
  fs::remove_all(dir);
}

TEST(ClipIndex, NonFiniteEmbeddingsAndAnotherModelsQueryAreErrors) {
  const auto dir = test_util::tmp_dir("index");
  const auto path = dir + "/index.bin";
  auto emb = torch::nn::functional::normalize(torch::randn({4, 8}), torch::nn::functional::NormalizeFuncOptions().dim(1));
  clip::write_index(path, emb, {"a", "b", "c", "d"}, {});
  const auto msg = test_util::error_message([&] { clip::search(clip::read_index(path), torch::randn({16}), 2); });
  EXPECT_EQ(msg, path + ": 8-dimensional embeddings, the query has 16: the index was built with another model");
  emb[2][3] = std::nan("");
  clip::write_index(path, emb, {"a", "b", "c", "d"}, {});
  EXPECT_EQ(test_util::error_message([&] { clip::read_index(path); }),
            path + ": corrupt index: it holds NaN or infinite embeddings");
}

// Found by fuzz/fuzz_index.cpp: rows that are not unit length gave "cosine" scores of 37.
TEST(ClipIndex, EmbeddingsThatAreNotUnitLengthAreAnError) {
  const auto dir = test_util::tmp_dir("index");
  const auto path = dir + "/index.bin";
  auto emb = torch::nn::functional::normalize(torch::randn({4, 8}), torch::nn::functional::NormalizeFuncOptions().dim(1));
  emb[1] *= 2;
  clip::write_index(path, emb, {"a", "b", "c", "d"}, {});
  EXPECT_EQ(test_util::error_message([&] { clip::read_index(path); }),
            path + ": corrupt index: embeddings are not unit length (a norm is off by 1.000000)");
}

TEST(ClipIndex, FingerprintChangesWithTheWeights) {
  torch::nn::Linear a(4, 2), b(4, 2);
  EXPECT_EQ(clip::model_fingerprint(*a), clip::model_fingerprint(*a));
  EXPECT_NE(clip::model_fingerprint(*a), clip::model_fingerprint(*b));
}

namespace {

std::string make_pairs_folder() {
  const auto root = test_util::tmp_dir("pairs");
  selfsup::test_util::write_caption_pairs(root);
  return root;
}

}  // namespace

TEST(ClipEndToEnd, OwnCaptionRetrievesItsImage) {
  const auto root = make_pairs_folder();
  const auto runs = test_util::tmp_dir("runs");
  const std::string recipe = std::string(SELFSUP_SOURCE_DIR) + "/recipes/clip_tiny_test.yaml";
  auto r = run_cli("train " + recipe + " data.root=" + root + " run_dir=" + runs);
  ASSERT_EQ(r.code, 0) << r.output;
  const auto ckpt = runs + "/clip_tiny_test/checkpoint.pt";
  r = run_cli("embed --checkpoint " + ckpt + " --images " + root + "/Images --out " + runs + "/index.bin");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("embedded 6 images"), std::string::npos) << r.output;
  int found = 0;
  for (const std::string query : {"a red square", "a blue stripe", "a green square"}) {
    r = run_cli("search --index " + runs + "/index.bin --checkpoint " + ckpt + " -k 1 \"" + query + "\" --grid " + runs +
                "/grid.png");
    ASSERT_EQ(r.code, 0) << r.output;
    std::string file = query.substr(2);
    file[file.find(' ')] = '_';
    found += r.output.find(file + ".png") != std::string::npos;
  }
  EXPECT_GE(found, 3) << "each image's own caption should rank it first after training";
  EXPECT_TRUE(fs::exists(runs + "/grid.png"));
  // The reverse direction: an image -> its best caption among candidates.
  std::ofstream(runs + "/candidates.txt") << "a red square\na blue stripe\na green stripe\n";
  r = run_cli("search --checkpoint " + ckpt + " --image " + root + "/Images/blue_stripe.png --captions " + runs +
              "/candidates.txt -k 1");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("a blue stripe"), std::string::npos) << r.output;
  // An approximate (IVF) index of five images, grown by the sixth with --append: the added image is
  // found, a second --append finds nothing new, and HNSW options on an IVF index are refused.
  fs::create_directories(runs + "/grow");
  for (const auto* name : {"red_square", "green_square", "red_stripe", "green_stripe", "blue_square"})
    fs::copy_file(root + "/Images/" + name + ".png", runs + "/grow/" + name + ".png");
  const auto grow = "embed --checkpoint " + ckpt + " --images " + runs + "/grow --out " + runs + "/ivf.bin --index-type ivf";
  r = run_cli(grow);
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("5 images, IVF"), std::string::npos) << r.output;
  fs::copy_file(root + "/Images/blue_stripe.png", runs + "/grow/blue_stripe.png");
  r = run_cli(grow + " --append");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("embedded 1 images"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("6 images, IVF"), std::string::npos) << r.output;
  r = run_cli(grow + " --append");
  EXPECT_NE(r.output.find("no new images"), std::string::npos) << r.output;
  r = run_cli("search --index " + runs + "/ivf.bin --checkpoint " + ckpt + " -k 1 --nprobe 1 \"a blue stripe\"");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("grow/blue_stripe.png"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("(ivf)"), std::string::npos) << r.output;
  r = run_cli("search --index " + runs + "/ivf.bin --checkpoint " + ckpt + " --ef-search 64 \"a blue stripe\"");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("--ef-search applies to HNSW"), std::string::npos) << r.output;
  // The retrieval protocol on the (same) test split, and an index from another model refused.
  r = run_cli("eval retrieval --checkpoint " + ckpt);
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("text_to_image"), std::string::npos) << r.output;
  r = run_cli("train " + recipe + " data.root=" + root + " run_dir=" + runs + " name=other seed=3 train.epochs=1");
  ASSERT_EQ(r.code, 0) << r.output;
  r = run_cli("search --index " + runs + "/index.bin --checkpoint " + runs + "/other/checkpoint.pt \"a red square\"");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("embedded by another model"), std::string::npos) << r.output;
  fs::remove_all(root);
  fs::remove_all(runs);
}

TEST(ClipCli, MalformedCaptionsFileNamesTheLine) {
  const auto root = make_pairs_folder();
  std::ofstream(root + "/captions.txt", std::ios::app) << "red_square.png\n";  // no caption field
  const std::string recipe = std::string(SELFSUP_SOURCE_DIR) + "/recipes/clip_tiny_test.yaml";
  const auto r = run_cli("train " + recipe + " data.root=" + root + " run_dir=" + root + "/runs");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("captions.txt:14"), std::string::npos) << r.output;
  fs::remove_all(root);
}

// clip.image_pretrained starts the image tower from a backbone file (classifier skipped); a file
// for another architecture stops the run with exit 2 naming the file.
TEST(ClipCli, ImagePretrainedStartsTheImageTower) {
  const auto root = make_pairs_folder();
  const std::string recipe = std::string(SELFSUP_SOURCE_DIR) + "/recipes/clip_tiny_test.yaml";
  models::BackboneConfig config;  // clip_tiny_test.yaml's model section
  config.name = "convnet";
  config.width = 0.5;
  auto weights = models::state_dict(*models::make_backbone(config, 3));
  weights["fc.weight"] = torch::zeros({10, 64});
  weights["fc.bias"] = torch::zeros({10});
  models::save_state_dict_pt(root + "/init.pt", weights);
  config.width = 1.0;
  models::save_state_dict_pt(root + "/wide.pt", models::state_dict(*models::make_backbone(config, 3)));
  const std::string train = "train " + recipe + " data.root=" + root + " run_dir=" + root + "/runs train.epochs=1";
  auto r = run_cli(train + " clip.image_pretrained=" + root + "/init.pt");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("image encoder: weights from " + root + "/init.pt (2 classifier tensors skipped)"),
            std::string::npos) << r.output;
  r = run_cli(train + " name=wide clip.image_pretrained=" + root + "/wide.pt");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("wide.pt"), std::string::npos) << r.output;
  fs::remove_all(root);
}

TEST(ClipModel, ShapesScaleClampAndTextLearningRate) {
  torch::manual_seed(0);
  const auto r = parse_recipe(
      "task: clip\ndata: {dataset: flickr8k}\nmodel: {name: convnet, width: 0.25}\naugment: {views: [{}]}\n"
      "clip: {embed_dim: 8, temperature: 0.07, max_logit_scale: 10,"
      " text: {dim: 16, layers: 1, heads: 2, hidden_dim: 32, max_positions: 16, max_length: 8, lr_scale: 0.1}}",
      "inline");
  clip::ClipModel model(r, 3, /*vocab_size=*/50, /*pad_token_id=*/0);
  EXPECT_EQ(model.encode_images(torch::rand({2, 3, 16, 16})).sizes(), torch::IntArrayRef({2, 8}));
  const auto ids = torch::randint(1, 50, {2, 8}, torch::kLong);
  EXPECT_EQ(model.encode_texts(ids, torch::ones({2, 8}, torch::kLong)).sizes(), torch::IntArrayRef({2, 8}));
  EXPECT_NEAR(model.logit_scale.item<double>(), std::log(1 / 0.07), 1e-6);
  {
    torch::NoGradGuard no_grad;
    model.logit_scale.fill_(5.0);  // exp(5) = 148 > max_logit_scale
  }
  train::StepContext ctx;
  model.after_step(ctx);
  EXPECT_NEAR(model.logit_scale.item<double>(), std::log(10.0), 1e-6);
  int64_t text = 0;
  for (const auto& p : model.optimizer_parameters()) {
    const bool is_text = p.name.rfind("text_encoder.", 0) == 0;
    text += is_text;
    EXPECT_DOUBLE_EQ(p.lr_scale, is_text ? 0.1 : 1.0) << p.name;
  }
  EXPECT_GT(text, 0);
}
