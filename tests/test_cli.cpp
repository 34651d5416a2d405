// The command line's contract: bad input prints one line naming the file or key and exits 2.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "run_cli.h"
#include "selfsup/io/safetensors.h"
#include "selfsup/core/fs.h"
#include "selfsup/train/checkpoint.h"
#include "test_util.h"

namespace {

int lines(const std::string& s) { return static_cast<int>(std::count(s.begin(), s.end(), '\n')); }

const std::string kTiny = std::string(SELFSUP_SOURCE_DIR) + "/recipes/tiny_test.yaml";

}  // namespace

TEST(Cli, HelpAndVersion) {
  const auto help = run_cli("--help");
  EXPECT_EQ(help.code, 0);
  EXPECT_NE(help.output.find("train"), std::string::npos);
  EXPECT_EQ(run_cli("train --help").code, 0);
  const auto version = run_cli("--version");
  EXPECT_EQ(version.code, 0);
  EXPECT_NE(version.output.find("LibTorch"), std::string::npos);
  EXPECT_NE(version.output.find("threads"), std::string::npos);
}

TEST(Cli, MissingRecipeFile) {
  const auto r = run_cli("train /nonexistent/recipe.yaml");
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(lines(r.output), 1) << r.output;
  EXPECT_NE(r.output.find("/nonexistent/recipe.yaml"), std::string::npos);
}

TEST(Cli, BadOverrideKeyAndType) {
  auto r = run_cli("train " + kTiny + " train.epohcs=3");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("train.epohcs: unknown key"), std::string::npos) << r.output;
  r = run_cli("train " + kTiny + " train.epochs=three");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("train.epochs: expected an integer"), std::string::npos) << r.output;
}

TEST(Cli, MissingDataNamesTheFile) {
  const auto r = run_cli("train " + kTiny + " data.root=/nonexistent/fmnist run_dir=/tmp/selfsup_cli_missing");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("/nonexistent/fmnist"), std::string::npos) << r.output;
}

TEST(Cli, BadCheckpoint) {
  const auto dir = std::filesystem::temp_directory_path() / "selfsup_cli_ckpt";
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "junk.pt") << "garbage";
  auto r = run_cli("eval knn --checkpoint " + (dir / "junk.pt").string());
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(lines(r.output), 1) << r.output;
  EXPECT_NE(r.output.find("junk.pt"), std::string::npos);
  r = run_cli("eval knn --checkpoint " + (dir / "absent.pt").string());
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("not found"), std::string::npos) << r.output;
}

TEST(Cli, UnknownCommandOrOption) {
  EXPECT_EQ(run_cli("fly").code, 2);
  EXPECT_EQ(run_cli("train " + kTiny + " --bogus").code, 2);
}

// Train the tiny recipe, then evaluate and export its checkpoint through the CLI.
TEST(Cli, TrainEvalExportRoundTrip) {
  const auto dir = std::filesystem::temp_directory_path() / ("selfsup_cli_run_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  auto r = run_cli("train " + kTiny + " run_dir=" + dir.string() + " name=t train.epochs=1 data.subset=256 eval.at_end=false");
  ASSERT_EQ(r.code, 0) << r.output;
  const auto ckpt = (dir / "t" / "checkpoint.pt").string();
  for (const char* f : {"recipe.yaml", "metrics.csv", "metrics.json", "checkpoint.pt"})
    EXPECT_TRUE(std::filesystem::exists(dir / "t" / f)) << f;
  // Starting again in a folder that holds a checkpoint needs --resume or --overwrite.
  const std::string again = "train " + kTiny + " run_dir=" + dir.string() + " name=t train.epochs=1 data.subset=256 eval.at_end=false";
  r = run_cli(again);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find((dir / "t").string() + ": holds the checkpoint of an earlier run: --resume to continue it"),
            std::string::npos)
      << r.output;
  EXPECT_TRUE(std::filesystem::exists(ckpt));
  r = run_cli(again + " --resume --overwrite");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("give one of them"), std::string::npos) << r.output;
  r = run_cli(again + " --overwrite");
  ASSERT_EQ(r.code, 0) << r.output;
  // A resume with another optimiser is refused before anything in the run folder changes.
  const auto recipe_yaml = selfsup::read_file((dir / "t" / "recipe.yaml").string());
  r = run_cli("train " + kTiny + " run_dir=" + dir.string() +
              " name=t train.epochs=1 data.subset=256 eval.at_end=false train.optimizer.name=adamw --resume");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find(ckpt + ": --resume needs the recipe of the run being resumed; changed: "
                                 "train.optimizer.name: sgd -> adamw"),
            std::string::npos)
      << r.output;
  EXPECT_EQ(selfsup::read_file((dir / "t" / "recipe.yaml").string()), recipe_yaml);
  // A checkpoint that cannot be written (a folder in the way of its temporary file, as a full disk
  // would fail it) is an exit-2 error naming the checkpoint, and the previous one survives.
  std::filesystem::create_directories(dir / "t" / "checkpoint.pt.tmp");
  r = run_cli("train " + kTiny + " run_dir=" + dir.string() + " name=t train.epochs=2 data.subset=256 eval.at_end=false --resume");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("error: " + ckpt + ": cannot write"), std::string::npos) << r.output;
  EXPECT_EQ(selfsup::train::read_checkpoint_info(ckpt).epochs_done, 1);
  EXPECT_FALSE(std::filesystem::exists(dir / "t" / "checkpoint.pt.tmp"));
  r = run_cli("eval knn --checkpoint " + ckpt + " --json " + (dir / "e.json").string());
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("kNN top-1"), std::string::npos);
  EXPECT_TRUE(std::filesystem::exists(dir / "e.json"));
  r = run_cli("eval knn --baseline pixels --recipe " + kTiny);
  ASSERT_EQ(r.code, 0) << r.output;
  r = run_cli("eval finetune --checkpoint " + ckpt + " eval.finetune.epochs=1 eval.finetune.label_fraction=0.02");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("fine-tuned top-1 (2% of the labels, 1 epochs)"), std::string::npos) << r.output;
  // Four classes, AdamW with a smaller encoder lr, a run folder with one row per epoch.
  const auto ft = (dir / "ft").string();
  r = run_cli("eval finetune --checkpoint " + ckpt + " --out-dir " + ft +
              " eval.finetune.epochs=2 eval.finetune.label_fraction=0.05 eval.finetune.optimizer=adamw eval.finetune.lr=0.001"
              " eval.finetune.backbone_lr_scale=0.1 eval.finetune.seed=3 \"eval.finetune.classes=[T-shirt/top, Pullover, Coat, Shirt]\"");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("fine-tune epoch 2/2"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("test acc"), std::string::npos) << r.output;
  const auto csv = selfsup::read_file(ft + "/metrics.csv");
  EXPECT_EQ(csv.rfind("epoch,train_loss,train_acc,test_acc,lr\n1,", 0), 0u) << csv;
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 3) << csv;
  const auto ft_json = nlohmann::json::parse(selfsup::read_file(ft + "/metrics.json"));
  EXPECT_EQ(ft_json["finetune"]["classes"].size(), 4u);
  EXPECT_EQ(ft_json["finetune"]["seed"], 3);
  EXPECT_LE(ft_json["eval"]["finetune_top1"].get<double>(), ft_json["eval"]["finetune_best_top1"].get<double>());
  EXPECT_GT(ft_json["eval"]["finetune_top1"].get<double>(), 0.0);
  r = run_cli("eval finetune --checkpoint " + ckpt + " eval.finetune.epochs=1 \"eval.finetune.classes=[Shirt, Hat]\"");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("eval.finetune.classes: no class 'Hat'"), std::string::npos) << r.output;
  r = run_cli("eval finetune --baseline pixels --recipe " + kTiny);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("raw pixels cannot be fine-tuned"), std::string::npos) << r.output;
  r = run_cli("export --checkpoint " + ckpt + " --out " + (dir / "backbone.pt").string());
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_TRUE(std::filesystem::exists(dir / "backbone.pt"));
  r = run_cli("attention --checkpoint " + ckpt + " --out " + (dir / "a.png").string());  // a ConvNet has no attention
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(lines(r.output), 1) << r.output;
  EXPECT_NE(r.output.find("model.backbone.name: vit"), std::string::npos) << r.output;
  // Commands of the other tasks name what they needed instead of failing on a missing tensor.
  r = run_cli("eval retrieval --checkpoint " + ckpt);
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(lines(r.output), 1) << r.output;
  EXPECT_NE(r.output.find(ckpt + ": a 'ssl' checkpoint where a 'clip' one is needed"), std::string::npos) << r.output;
  r = run_cli("sample --checkpoint " + ckpt + " --out " + (dir / "s.png").string());
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("where a 'diffusion' one is needed"), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(dir / "s.png"));
  std::filesystem::remove_all(dir);
}

TEST(Cli, EvalRejectsOptionsOfOtherProtocols) {
  auto r = run_cli("eval knn --checkpoint none.pt --guidance 3");
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(lines(r.output), 1) << r.output;
  EXPECT_NE(r.output.find("eval knn: --guidance does not apply to this protocol"), std::string::npos) << r.output;
  r = run_cli("eval samples --checkpoint none.pt --baseline random");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("eval samples: --baseline does not apply"), std::string::npos) << r.output;
  r = run_cli("eval retrieval --checkpoint none.pt --recipe x.yaml");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("eval retrieval: --recipe does not apply"), std::string::npos) << r.output;
}

// A ViT checkpoint's attention picture: 3 rows (images) x (input + mean + 2 heads) tiles of
// 28 px x 2, with 2-pixel gaps, as a PNG.
TEST(Cli, AttentionMapsOfAVitCheckpoint) {
  const auto dir = std::filesystem::temp_directory_path() / ("selfsup_cli_vit_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  auto r = run_cli("train " + kTiny + " run_dir=" + dir.string() +
               " name=v train.epochs=1 data.subset=128 eval.at_end=false model.name=vit model.vit.image_size=28"
               " model.vit.patch_size=7 model.vit.dim=16 model.vit.depth=1 model.vit.heads=2");
  ASSERT_EQ(r.code, 0) << r.output;
  const auto png = (dir / "a.png").string();
  r = run_cli("attention --checkpoint " + (dir / "v" / "checkpoint.pt").string() + " -n 3 --scale 2 --out " + png);
  ASSERT_EQ(r.code, 0) << r.output;
  std::ifstream in(png, std::ios::binary);
  std::string head(24, '\0');
  in.read(head.data(), 24);
  ASSERT_EQ(head.substr(1, 3), "PNG");
  auto be32 = [&](int at) {
    return (static_cast<unsigned char>(head[at]) << 24) | (static_cast<unsigned char>(head[at + 1]) << 16) |
           (static_cast<unsigned char>(head[at + 2]) << 8) | static_cast<unsigned char>(head[at + 3]);
  };
  EXPECT_EQ(be32(16), 4 * (56 + 2) + 2);  // width
  EXPECT_EQ(be32(20), 3 * (56 + 2) + 2);  // height
  EXPECT_FALSE(std::filesystem::exists(png + ".tmp"));
  std::filesystem::remove_all(dir);
}

// Numeric flags have ranges (NaN and infinities included) and parse errors are one "error:" line.
TEST(Cli, FlagRangesAreCheckedBeforeAnythingRuns) {
  const std::vector<std::pair<std::string, std::string>> cases{
      {"sample --checkpoint x.pt --guidance nan", "--guidance: expected a finite number in [0, 100], got nan"},
      {"sample --checkpoint x.pt --guidance inf", "--guidance: expected a finite number"},
      {"sample --checkpoint x.pt --eta -2", "--eta: expected a finite number in [0, 1], got -2"},
      {"sample --checkpoint x.pt --eta 3", "--eta: expected a finite number in [0, 1], got 3"},
      {"sample --checkpoint x.pt -n 0", "-n: Value 0 not in range 1 to 100000"},
      {"sample --checkpoint x.pt -n -4", "-n: Value -4 not in range"},
      {"sample --checkpoint x.pt --scale 100000", "--scale: Value 100000 not in range 1 to 32"},
      {"eval samples --checkpoint x.pt --per-class 0", "--per-class: Value 0 not in range"},
      {"train", "recipe is required"},
  };
  for (const auto& [args, expected] : cases) {
    const auto r = run_cli(args);
    EXPECT_EQ(r.code, 2) << args;
    EXPECT_EQ(lines(r.output), 1) << args << "\n" << r.output;
    EXPECT_EQ(r.output.rfind("error: ", 0), 0u) << r.output;
    EXPECT_NE(r.output.find(expected), std::string::npos) << args << "\n" << r.output;
  }
  const auto r = run_cli("eval samples --checkpoint x.pt --judge j.pt --guidance 1,nan");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("--guidance: expected comma-separated finite numbers >= 0, got '1,nan'"), std::string::npos)
      << r.output;
}

TEST(Cli, KnnWithMoreNeighboursThanImagesSaysSo) {
  const auto r = run_cli("eval knn --baseline pixels --recipe " + kTiny + " data.subset=50 data.test_subset=20 eval.knn.k=200");
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("note: eval.knn.k = 200 is more than the 50 training images: all of them vote"),
            std::string::npos)
      << r.output;
}

namespace {

std::string stored_weights_hash(const std::string& checkpoint) {
  torch::serialize::InputArchive archive;
  archive.load_from(checkpoint);
  c10::IValue hash;
  archive.read("model_hash", hash);
  return hash.toStringRef();
}

}  // namespace

// SIGKILL in the middle of writing the second checkpoint (after its bytes, before the rename): the
// first checkpoint survives whole, and resuming from it ends with exactly the weights of a run that
// was never interrupted, with one metrics row per epoch.
TEST(Cli, KilledDuringACheckpointWriteResumesBitIdentical) {
  selfsup::test_util::TempDir dir;
  const std::string train =
      "train " + kTiny + " run_dir=" + dir.path.string() + " train.epochs=3 data.subset=256 eval.at_end=false";
  auto r = run_cli(train + " name=straight");
  ASSERT_EQ(r.code, 0) << r.output;
  r = run_cli(train + " name=killed", "SELFSUP_FAULT_KILL_WRITE=checkpoint.pt:2");
  EXPECT_TRUE(r.code == -1 || r.code == 128 + 9) << r.code << "\n" << r.output;
  const std::string killed = dir / "killed/checkpoint.pt";
  EXPECT_EQ(selfsup::train::read_checkpoint_info(killed).epochs_done, 1);
  EXPECT_TRUE(std::filesystem::exists(killed + ".tmp"));  // the interrupted write, never renamed
  r = run_cli(train + " name=killed --resume");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_FALSE(std::filesystem::exists(killed + ".tmp"));
  EXPECT_EQ(selfsup::train::read_checkpoint_info(killed).epochs_done, 3);
  EXPECT_EQ(stored_weights_hash(killed), stored_weights_hash(dir / "straight/checkpoint.pt"));
  std::istringstream csv(selfsup::read_file(dir / "killed/metrics.csv"));
  int rows = 0;
  for (std::string line; std::getline(csv, line);) ++rows;
  EXPECT_EQ(rows, 4);  // header + epochs 1, 2, 3: the killed run's epoch-2 row was dropped on resume
}

TEST(Cli, BenchStepTimesTheStepAndDumpsWhatItComputed) {
  selfsup::test_util::TempDir dir;
  const std::string dump = (dir.path / "step.safetensors").string(), json = (dir.path / "step.json").string();
  const auto r = run_cli("bench step " + kTiny + " threads=1 --steps 2 --warmup 1 --dump " + dump + " --json " + json);
  ASSERT_EQ(r.code, 0) << r.output;
  const auto result = nlohmann::json::parse(selfsup::read_file(json, "json"));
  EXPECT_EQ(result["step_seconds"].size(), 2u);
  EXPECT_GT(result["images_per_second"].get<double>(), 0);
  const auto file = selfsup::io::read_safetensors(dump);
  // The batch (two views of 64 images: tiny_test's batch) and the weights before the first step.
  EXPECT_EQ(file.tensors.at("view.0").sizes(), torch::IntArrayRef({64, 1, 28, 28}));
  EXPECT_TRUE(file.tensors.count("view.1"));
  EXPECT_TRUE(file.tensors.count("model.encoder.conv1.weight"));
  EXPECT_NEAR(std::stod(file.metadata.at("loss")), result["first_loss"].get<double>(), 1e-5);
}

TEST(Cli, BenchCalibrationKnnAndBadArguments) {
  const auto calibration = run_cli("bench --steps 1 --no-peaks --threads 1");
  ASSERT_EQ(calibration.code, 0) << calibration.output;
  EXPECT_NE(calibration.output.find("images/s (reference machine 1273; budget factor"), std::string::npos);
  const auto r = run_cli("bench knn --train 1000 --test 300 --dim 16 --repeats 1 --threads 1");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("test features/s"), std::string::npos);
  EXPECT_EQ(run_cli("bench knn --train 10").code, 2);  // fewer than k = 200
  EXPECT_EQ(run_cli("bench embed " + kTiny).code, 2);  // not a CLIP recipe
}
