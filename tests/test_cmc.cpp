// CMC: the Lab conversion against reference values, channel-group parsing, one encoder per view,
// and a short run on a small colour dataset the test draws (coloured shapes: the luminance and the
// chrominance views both carry the shape, so contrasting them must learn it).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "selfsup/augment/ops.h"
#include "selfsup/core/error.h"
#include "selfsup/io/png.h"
#include "selfsup/ssl/methods/cmc.h"
#include "selfsup/train/trainer.h"
#include "test_util.h"

using namespace selfsup;
using namespace selfsup::ssl;
namespace fs = std::filesystem;

namespace {

// A 3 x 24 x 24 image of shape `cls` (0 square, 1 disc, 2 cross) in a random colour on a random
// background colour, at a random position and size.
torch::Tensor shape_image(int64_t cls, torch::Generator& gen) {
  const auto rnd = [&] { return torch::rand({1}, gen).item<double>(); };
  const auto yy = torch::arange(24).view({24, 1}).to(torch::kFloat), xx = torch::arange(24).view({1, 24}).to(torch::kFloat);
  const double r = 4 + 4 * rnd(), cy = 8 + 8 * rnd(), cx = 8 + 8 * rnd();
  torch::Tensor mask;
  if (cls == 0) mask = ((yy - cy).abs() < r) & ((xx - cx).abs() < r);
  else if (cls == 1) mask = (yy - cy).pow(2) + (xx - cx).pow(2) < r * r;
  else mask = (((yy - cy).abs() < r) & ((xx - cx).abs() < 1.5)) | (((xx - cx).abs() < r) & ((yy - cy).abs() < 1.5));
  const auto fg = torch::rand({3, 1, 1}, gen), bg = torch::rand({3, 1, 1}, gen) * 0.5;
  return torch::where(mask.unsqueeze(0), fg.expand({3, 24, 24}), bg.expand({3, 24, 24}));
}

void write_split(const fs::path& root, int64_t per_class, uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  for (int64_t cls = 0; cls < 3; ++cls) {
    const auto dir = root / ("class" + std::to_string(cls));
    fs::create_directories(dir);
    for (int64_t i = 0; i < per_class; ++i) io::write_png((dir / (std::to_string(i) + ".png")).string(), shape_image(cls, gen));
  }
}

}  // namespace

TEST(Lab, ReferenceColours) {
  // N x 3 x 1 x 4: white, black, pure red, mid grey.
  const auto rgb = torch::tensor({1.0f, 0.0f, 1.0f, 0.5f, 1.0f, 0.0f, 0.0f, 0.5f, 1.0f, 0.0f, 0.0f, 0.5f}).view({1, 3, 1, 4});
  const auto lab = augment::rgb_to_lab(rgb) * torch::tensor({100.0f, 110.0f, 110.0f}).view({1, 3, 1, 1});
  auto at = [&](int c, int i) { return lab[0][c][0][i].item<double>(); };
  EXPECT_NEAR(at(0, 0), 100.0, 0.05);  // white
  EXPECT_NEAR(at(1, 0), 0.0, 0.05);
  EXPECT_NEAR(at(2, 0), 0.0, 0.05);
  EXPECT_NEAR(at(0, 1), 0.0, 0.05);  // black
  EXPECT_NEAR(at(0, 2), 53.24, 0.05);  // sRGB red: L* 53.24, a* 80.09, b* 67.20
  EXPECT_NEAR(at(1, 2), 80.09, 0.1);
  EXPECT_NEAR(at(2, 2), 67.20, 0.1);
  EXPECT_NEAR(at(0, 3), 53.39, 0.05);  // grey 0.5: L* 53.39, no chroma
  EXPECT_NEAR(at(1, 3), 0.0, 0.05);
}

TEST(Cmc, ChannelGroupsAndOneEncoderPerView) {
  EXPECT_EQ(parse_channel_groups({"0", "1,2"}, 3), (std::vector<std::vector<int64_t>>{{0}, {1, 2}}));
  EXPECT_THROW(parse_channel_groups({"0", "3"}, 3), Error);
  EXPECT_THROW(parse_channel_groups({"0", "a"}, 3), Error);
  const auto recipe = load_recipe(test_util::kTinyRecipe, {"method.name=cmc", "augment.views=[{mean: [0], std: [1]}]"});
  EXPECT_THROW(Cmc(recipe, 1), Error);  // a grey dataset has no chrominance
  Cmc cmc(recipe, 3);
  const auto params = cmc.named_parameters();
  EXPECT_EQ(params["encoders.encoders.0.conv1.weight"].size(1), 1);  // L
  EXPECT_EQ(params["encoders.encoders.1.conv1.weight"].size(1), 2);  // ab
  EXPECT_EQ(cmc.eval_encoder()->output_dim(), 2 * 32);
  data::Batch batch;
  batch.views.push_back(torch::rand({8, 3, 24, 24}));
  StepContext ctx;
  ctx.generator = at::make_generator<at::CPUGeneratorImpl>(1);
  auto out = cmc.training_step(batch, ctx);
  out.loss.backward();
  EXPECT_TRUE(params["encoders.encoders.0.conv1.weight"].grad().defined());
  EXPECT_TRUE(params["encoders.encoders.1.conv1.weight"].grad().defined());
}

TEST(Cmc, LearnsShapesFromLuminanceVersusChrominance) {
  const auto dir = fs::temp_directory_path() / ("selfsup_cmc_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  write_split(dir / "train", 300, 1);
  write_split(dir / "test", 100, 2);
  const auto recipe = load_recipe(
      test_util::kTinyRecipe, {"method.name=cmc", "data.dataset=image_folder", "data.root=" + (dir / "train").string(),
              "data.test_root=" + (dir / "test").string(), "data.subset=0", "data.test_subset=0", "run_dir=" + dir.string(),
              "name=run", "augment.views=[{crop: {size: 24, scale: [0.5, 1]}, jitter: {p: 0}, grayscale: 0, mean: [0], std: [1]}]",
              "method.projector.layers=1", "method.projector.out_dim=32", "method.cmc.temperature=0.1",
              "train.epochs=8", "train.batch_size=60", "eval.knn.k=10", "eval.linear.epochs=1", "eval.baselines=true"});
  const auto metrics = train::run_training(recipe, false);
  fs::remove_all(dir);
  const double trained = metrics["eval"]["knn_top1"], random = metrics["baselines"]["random_init"]["knn_top1"];
  std::cout << "cmc: kNN " << trained << " vs random init " << random << std::endl;
  EXPECT_GT(trained, random + 0.01);
}
