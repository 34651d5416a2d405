// The selfsup command line: parse, call the library, print. Bad input prints one line and exits 2.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <set>
#include <sstream>

#include "bench_commands.h"
#include "clip_commands.h"
#include "data_commands.h"
#include "diffusion_commands.h"
#include "serve_command.h"
#include "selfsup/builtin.h"
#include "selfsup/core/config.h"
#include "selfsup/core/distributed.h"
#include "selfsup/core/error.h"
#include "selfsup/core/fs.h"
#include "selfsup/core/runtime.h"
#include "selfsup/data/source.h"
#include "selfsup/eval/attention.h"
#include "selfsup/eval/evaluate.h"
#include "selfsup/io/png.h"
#include "selfsup/io/report.h"
#include "selfsup/models/state_dict.h"
#include "selfsup/ssl/registry.h"
#include "selfsup/ssl/task.h"
#include "selfsup/train/checkpoint.h"
#include "selfsup/train/trainer.h"

using namespace selfsup;
namespace fs = std::filesystem;

namespace {

struct TrainArgs {
  std::string recipe;
  std::vector<std::string> overrides;
  bool resume = false, overwrite = false;
  int64_t dist_timeout = 600;
};

struct EvalArgs {
  std::string protocol = "all";
  std::string checkpoint, recipe, baseline, json_out, out_dir;
  std::vector<std::string> overrides;
};

struct ExportArgs {
  std::string checkpoint, out;
};

struct AttentionArgs {
  std::string checkpoint, out = "attention.png";
  int64_t images = 8, scale = 4;
  std::vector<std::string> overrides;
};

int cmd_train(const TrainArgs& a) {
  const Recipe recipe = load_recipe(a.recipe, a.overrides);
  const auto metrics = train::run_training(recipe, a.resume, a.overwrite, a.dist_timeout);
  if (dist::world_from_environment().rank != 0) return 0;  // rank 0 reports for every process
  if (metrics.contains("eval")) std::cout << "\n" << train::format_results(metrics);
  if (metrics.contains("samples")) std::cout << "samples: " << metrics["samples"].get<std::string>() << std::endl;
  std::cout << "run folder: " << (std::filesystem::path(recipe.run_dir) / recipe.name).string() << std::endl;
  return 0;
}

// An SSL run's checkpoint (the kNN / linear / fine-tune, export and attention commands).
train::StoredRun open_ssl_run(const std::string& checkpoint, const std::vector<std::string>& overrides) {
  return train::open_run(checkpoint, "ssl", "recipes/moco_v2_fmnist.yaml", overrides);
}

// `selfsup eval` serves encoders (knn, linear, all, finetune), CLIP (retrieval) and diffusion
// (samples); an option another protocol reads is an error here, not silently ignored.
void check_eval_options(const CLI::App& eval_cmd, const std::string& protocol) {
  static const std::set<std::string> encoder{"--checkpoint", "--baseline", "--recipe", "--json", "--out-dir", "overrides"};
  static const std::set<std::string> retrieval{"--checkpoint", "--json", "overrides"};
  static const std::set<std::string> samples{"--checkpoint", "--json",  "--judge", "--guidance",   "--classifier",
                                             "--classifier-scales", "--per-class", "--sampler", "--steps", "--seed",
                                             "--batch-size", "--out"};
  const auto& allowed = protocol == "samples" ? samples : protocol == "retrieval" ? retrieval : encoder;
  for (const auto* option : eval_cmd.get_options()) {
    const std::string name = option->get_name();
    if (option->count() == 0 || name == "protocol" || name == "--help" || allowed.count(name)) continue;
    std::string known;
    for (const auto& a : allowed) known += (known.empty() ? "" : ", ") + a;
    throw Error("eval " + protocol + ": " + name + " does not apply to this protocol (it reads " + known + ")");
  }
}

// A fine-tuning run folder that `selfsup report` reads like a training run's: the recipe, one
// metrics.csv row per epoch, metrics.json with the result under "eval".
void write_finetune_run(const std::string& dir, const Recipe& recipe, const nlohmann::json& result,
                        const eval::FinetuneResult& run) {
  fs::create_directories(dir);
  atomic_write((fs::path(dir) / "recipe.yaml").string(), recipe_to_yaml(recipe));
  std::ostringstream csv;
  csv << "epoch,train_loss,train_acc,test_acc,lr\n";
  for (const auto& e : run.epochs) {
    csv << e.epoch << "," << e.train_loss << "," << e.train_acc << ",";
    if (!std::isnan(e.test_acc)) csv << e.test_acc;
    csv << "," << e.lr << "\n";
  }
  atomic_write((fs::path(dir) / "metrics.csv").string(), csv.str());
  nlohmann::json m{{"method", "finetune"}, {"features", result["features"]}, {"finetune", result["finetune"]},
                   {"eval", {{"finetune_top1", result["finetune_top1"]}, {"finetune_best_top1", result["finetune_best_top1"]}}},
                   {"runtime", runtime_summary()}};
  atomic_write((fs::path(dir) / "metrics.json").string(), m.dump(2) + "\n");
  std::cout << "wrote " << dir << "/{recipe.yaml,metrics.csv,metrics.json}" << std::endl;
}

int cmd_eval(const EvalArgs& a, cli::DiffusionCommands& diffusion_commands) {
  if (a.protocol == "samples") return diffusion_commands.eval_samples(a.checkpoint, a.json_out);
  if (a.protocol == "retrieval") {
    if (a.checkpoint.empty()) throw Error("eval retrieval: give --checkpoint PATH of a CLIP run");
    return cli::ClipCommands::eval_retrieval(a.checkpoint, a.overrides, a.json_out);
  }
  if (a.checkpoint.empty() == (a.baseline.empty()))
    throw Error("eval: give either --checkpoint PATH or --baseline random|pixels (with --recipe)");
  Recipe recipe;
  std::shared_ptr<ssl::Method> method;
  train::StoredRun run;
  if (!a.checkpoint.empty()) {
    run = open_ssl_run(a.checkpoint, a.overrides);
    recipe = run.recipe;
  } else {
    if (a.recipe.empty()) throw Error("eval --baseline: give --recipe PATH (data, model and evaluation settings)");
    if (a.baseline != "random" && a.baseline != "pixels")
      throw Error("eval --baseline: expected random or pixels, got '" + a.baseline + "'");
    recipe = load_recipe(a.recipe, a.overrides);
  }
  configure_threads(recipe.threads);
  std::cout << runtime_summary() << std::endl;
  const auto device = parse_device(recipe.device);
  const auto train_set = data::load_dataset(recipe.data, true);
  const auto test_set = data::load_dataset(recipe.data, false);
  if (!a.checkpoint.empty()) {
    method = ssl::load_trained_method(run, train_set.channels());
  } else if (a.baseline == "random") {
    torch::manual_seed(static_cast<uint64_t>(recipe.seed));
    method = ssl::make_method(recipe, train_set.channels());
  }
  if (method) method->to(device);
  const bool knn = a.protocol == "knn" || a.protocol == "all", linear = a.protocol == "linear" || a.protocol == "all";
  const bool finetune = a.protocol == "finetune";
  if (finetune && !method) throw Error("eval finetune: raw pixels cannot be fine-tuned (use --checkpoint or --baseline random)");
  if (!a.out_dir.empty() && !finetune) throw Error("eval --out-dir: only with eval finetune (per-epoch curves)");
  const auto r = eval::evaluate(method ? method->eval_encoder().get() : nullptr, recipe, train_set, test_set, device, knn,
                                linear, finetune, /*finetune_test_every_epoch=*/true);
  nlohmann::json j;
  j["features"] = !a.checkpoint.empty() ? a.checkpoint : a.baseline == "random" ? "random init" : "raw pixels";
  if (knn) j["knn_top1"] = r.knn;
  if (linear) j["linear_top1"] = r.linear;
  if (finetune) {
    const auto& c = recipe.eval.finetune;
    j["finetune_top1"] = r.finetune;
    j["finetune_best_top1"] = r.finetune_run.best_top1;
    j["finetune"] = {{"label_fraction", c.label_fraction}, {"epochs", c.epochs},     {"optimizer", c.optimizer},
                     {"lr", c.lr},                         {"backbone_lr_scale", c.backbone_lr_scale},
                     {"classes", c.classes},               {"seed", c.seed >= 0 ? c.seed : recipe.seed},
                     {"train_images", r.finetune_run.train_images}, {"test_images", r.finetune_run.test_images}};
  }
  j["knn"] = {{"k", recipe.eval.knn.k}, {"temperature", recipe.eval.knn.temperature}};
  j["test_images"] = test_set.size();
  j["seconds"] = r.seconds;
  if (knn) std::cout << "kNN top-1 (k=" << recipe.eval.knn.k << ", T=" << recipe.eval.knn.temperature
                     << "): " << 100 * r.knn << "%" << std::endl;
  if (linear) std::cout << "linear probe top-1: " << 100 * r.linear << "%" << std::endl;
  if (finetune)
    std::cout << "fine-tuned top-1 (" << 100 * recipe.eval.finetune.label_fraction << "% of the labels, "
              << recipe.eval.finetune.epochs << " epochs): " << 100 * r.finetune << "%" << std::endl;
  if (!a.json_out.empty()) atomic_write(a.json_out, j.dump(2) + "\n");
  if (!a.out_dir.empty()) write_finetune_run(a.out_dir, recipe, j, r.finetune_run);
  return 0;
}

int cmd_export(const ExportArgs& a) {
  const auto run = open_ssl_run(a.checkpoint, {});
  const auto& recipe = run.recipe;
  const auto train_set = data::load_dataset(recipe.data, true).head(1);
  auto method = ssl::load_trained_method(run, train_set.channels());
  models::save_state_dict_pt(a.out, models::state_dict(*method->backbone()));
  std::cout << "wrote " << a.out << " (" << recipe.model.name << " backbone, "
            << (recipe.model.name == "vit" ? "timm" : "torchvision") << " parameter names; Python: torch.load(path))"
            << std::endl;
  if (recipe.model.norm == "layer")
    std::cout << "note: model.norm is layer: each bn*.weight/bias is the scale/shift of a GroupNorm with one group; "
                 "build the network with nn.GroupNorm(1, C) in place of torchvision's BatchNorm2d to reproduce it"
              << std::endl;
  return 0;
}

int cmd_attention(const AttentionArgs& a) {
  if (a.images < 1 || a.scale < 1) throw Error("attention: -n and --scale must be >= 1");
  const auto run = open_ssl_run(a.checkpoint, a.overrides);
  const auto& recipe = run.recipe;
  configure_threads(recipe.threads);
  const auto test_set = data::load_dataset(recipe.data, false);
  auto method = ssl::load_trained_method(run, test_set.channels());
  auto vit = std::dynamic_pointer_cast<models::Vit>(method->backbone());
  if (!vit)
    throw Error(a.checkpoint + ": the backbone is " + recipe.model.name +
                "; attention maps need a Vision Transformer (model.backbone.name: vit)");
  const auto device = parse_device(recipe.device);
  method->to(device);
  auto view = recipe.augment.views.at(0);
  view.crop.size = recipe.eval.image_size;
  const auto images = test_set.head(std::min<int64_t>(a.images, test_set.size())).images;
  io::write_png(a.out, eval::attention_figure(*vit, images, view, a.scale, device));
  std::cout << "wrote " << a.out << ": one row per test image: input, attention averaged over heads, then each of "
            << vit->options.heads() << " heads (last block, class token)" << std::endl;
  return 0;
}

int cmd_report(const std::vector<std::string>& dirs, const std::string& out) {
  const auto folder = fs::path(out).parent_path();
  if (!folder.empty() && !fs::is_directory(folder))
    throw Error("--out " + out + ": the folder " + folder.string() + " does not exist");
  std::vector<io::RunRecord> runs;
  for (const auto& dir : dirs) runs.push_back(io::read_run(dir));
  const auto html = io::render_report(runs);
  atomic_write(out, html);
  std::cout << "wrote " << out << " (" << runs.size() << (runs.size() == 1 ? " run, " : " runs, ") << html.size() / 1024
            << " KiB; open it in a browser)" << std::endl;
  return 0;
}

int cmd_recipe(const std::string& path, const std::vector<std::string>& overrides, bool describe) {
  if (describe) {
    Recipe defaults;
    std::cout << config::describe(defaults);
    return 0;
  }
  if (path.empty()) throw Error("recipe: give a recipe file, or --describe");
  std::cout << recipe_to_yaml(load_recipe(path, overrides));
  return 0;
}

// One write for the whole line: stderr is unbuffered, so "a" << "b" is two writes, and the lines
// of processes sharing a terminal or pipe (scripts/launch.sh) could interleave mid-line.
void print_error_line(const std::string& line) { std::cerr << (line + "\n") << std::flush; }

// "rank 1 of 2: " in a multi-process run (whose processes share one terminal or log), else "".
std::string process_prefix() {
  try {
    const auto w = dist::world_from_environment();
    return w.size > 1 ? "rank " + std::to_string(w.rank) + " of " + std::to_string(w.size) + ": " : "";
  } catch (const Error&) {
    return "";
  }
}

}  // namespace

int main(int argc, char** argv) {
  use_best_blas_kernels(argv);
  register_builtin();
  configure_threads(0);  // all cores until a recipe says otherwise; --version reports it
  CLI::App app{"selfsup: self-supervised representation learning on LibTorch (MoCo v1/v2/v3, InstDisc, InvaSpread, SimCLR,\n"
               "BYOL, SimSiam, Barlow Twins, DINO, SwAV, CPC, CMC; ResNet and ViT backbones; kNN, linear and fine-tune\n"
               "evaluation), CLIP (image-text training, embedding a collection, searching it with a sentence) and guided diffusion\n"
               "(class-conditional DDPM/DDIM with classifier-free and classifier guidance).\n"
               "Start with: selfsup train recipes/simclr_v2_fmnist_demo.yaml, recipes/clip_emoji.yaml or recipes/diffusion_cfg_fmnist.yaml"};
  app.set_version_flag("--version", [] { return runtime_summary(); });
  // Parse errors follow the program's contract too: one line, "error: ...", exit 2.
  app.failure_message([](const CLI::App*, const CLI::Error& e) {
    std::string what = e.what();
    std::replace(what.begin(), what.end(), '\n', ' ');
    return "error: " + what + " (see --help)\n";
  });
  app.require_subcommand(1);

  TrainArgs train_args;
  auto* train_cmd = app.add_subcommand("train", "Train from a recipe, then evaluate (SSL: kNN + linear probe; CLIP: recall@K;\n"
                                                 "diffusion: a sample grid; classifiers: test accuracy).\n"
                                                 "Outputs: runs/NAME/{recipe.yaml,metrics.csv,metrics.json,checkpoint.pt}");
  train_cmd->add_option("recipe", train_args.recipe, "recipe YAML file (see recipes/ and docs/recipes.md)")->required();
  train_cmd->add_option("overrides", train_args.overrides, "key=value overrides with dotted keys, e.g. train.epochs=5");
  train_cmd->add_flag("--resume", train_args.resume, "continue from runs/NAME/checkpoint.pt");
  train_cmd->add_flag("--overwrite", train_args.overwrite,
                      "start over in runs/NAME even though it holds a checkpoint (deleting it)");
  train_cmd->add_option("--dist-timeout", train_args.dist_timeout,
                        "multi-process runs (torchrun, SLURM, scripts/launch.sh; docs/distributed.md): seconds to wait\n"
                        "for the other processes before giving up")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);

  EvalArgs eval_args;
  auto* eval_cmd = app.add_subcommand("eval", "Evaluate an encoder: kNN (k=200, T=0.1) and a linear probe on frozen features,\n"
                                               "or fine-tuning on a fraction of the labels (eval.finetune.*)");
  eval_cmd->add_option("protocol", eval_args.protocol,
                       "knn | linear | all (kNN + linear, the default) | finetune | retrieval (CLIP: recall@K both ways) |\n"
                       "samples (diffusion: judge accuracy, Frechet distance and diversity of generated images per guidance scale)")
      ->check(CLI::IsMember({"knn", "linear", "all", "finetune", "retrieval", "samples"}));
  eval_cmd->add_option("--checkpoint", eval_args.checkpoint, "checkpoint.pt written by selfsup train");
  eval_cmd->add_option("--baseline", eval_args.baseline, "random (randomly initialised network) or pixels (raw pixels)");
  eval_cmd->add_option("--recipe", eval_args.recipe, "recipe for --baseline: data, model and evaluation settings");
  eval_cmd->add_option("--json", eval_args.json_out, "also write the results to this JSON file");
  eval_cmd->add_option("--out-dir", eval_args.out_dir,
                       "finetune: also write a run folder (recipe.yaml, metrics.csv with train loss / accuracy and test\n"
                       "accuracy per epoch, metrics.json) for selfsup report");
  eval_cmd->add_option("overrides", eval_args.overrides, "key=value overrides, e.g. eval.knn.k=20 device=cuda");

  ExportArgs export_args;
  auto* export_cmd = app.add_subcommand("export", "Write a checkpoint's backbone as a .pt state dict with torchvision names");
  export_cmd->add_option("--checkpoint", export_args.checkpoint, "checkpoint.pt written by selfsup train")->required();
  export_cmd->add_option("--out", export_args.out, "output .pt file (Python: torch.load, then load_state_dict)")->required();

  AttentionArgs attention_args;
  auto* attention_cmd = app.add_subcommand(
      "attention", "Draw a ViT checkpoint's last-block class-token attention over test images (DINO's picture) as a PNG");
  attention_cmd->add_option("--checkpoint", attention_args.checkpoint, "checkpoint.pt of a run with a vit backbone")->required();
  attention_cmd->add_option("-n,--images", attention_args.images, "number of test images (rows)")->capture_default_str();
  attention_cmd->add_option("--scale", attention_args.scale, "enlarge every tile this many times")->capture_default_str();
  attention_cmd->add_option("--out", attention_args.out, "output PNG")->capture_default_str();
  attention_cmd->add_option("overrides", attention_args.overrides, "key=value overrides, e.g. eval.image_size=56");

  cli::ClipCommands clip_commands(app);
  cli::DiffusionCommands diffusion_commands(app, *eval_cmd);
  cli::DataCommands data_commands(app);
  cli::BenchCommands bench_commands(app);
  cli::ServeCommand serve_command(app);

  std::vector<std::string> report_dirs;
  std::string report_out = "report.html";
  auto* report_cmd = app.add_subcommand("report", "Write one self-contained HTML page (no network needed) of one or more run folders:\n"
                                                   "resolved recipe, metrics table, training curves, evaluation beside the baselines,\n"
                                                   "the pictures the run made; several runs = one comparison page with overlaid curves");
  report_cmd->add_option("runs", report_dirs, "run folders, e.g. runs/moco_v2_fmnist")->required();
  report_cmd->add_option("--out", report_out, "HTML file to write")->capture_default_str();

  std::string recipe_path;
  std::vector<std::string> recipe_overrides;
  bool describe = false;
  auto* recipe_cmd = app.add_subcommand("recipe", "Print a recipe resolved with its defaults and overrides, or describe every field");
  recipe_cmd->add_option("recipe", recipe_path, "recipe YAML file");
  recipe_cmd->add_option("overrides", recipe_overrides, "key=value overrides");
  recipe_cmd->add_flag("--describe", describe, "print the reference of every recipe field (Markdown)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  try {
    if (*train_cmd) return cmd_train(train_args);
    if (*eval_cmd) {
      check_eval_options(*eval_cmd, eval_args.protocol);
      return cmd_eval(eval_args, diffusion_commands);
    }
    if (*export_cmd) return cmd_export(export_args);
    if (*attention_cmd) return cmd_attention(attention_args);
    if (*recipe_cmd) return cmd_recipe(recipe_path, recipe_overrides, describe);
    if (*report_cmd) return cmd_report(report_dirs, report_out);
    if (int code = 0; clip_commands.run(code)) return code;
    if (int code = 0; diffusion_commands.run(code)) return code;
    if (int code = 0; data_commands.run(code)) return code;
    if (int code = 0; bench_commands.run(code)) return code;
    if (int code = 0; serve_command.run(code)) return code;
  } catch (const Error& e) {
    print_error_line("error: " + process_prefix() + e.what());
    return 2;
  } catch (const train::Diverged& e) {
    print_error_line("error: " + process_prefix() + e.what());
    return 1;
  } catch (const dist::CommunicationError& e) {
    print_error_line(std::string("error: ") + e.what());
    return 1;
  } catch (const std::exception& e) {
    std::string what = e.what();
    print_error_line("internal error: " + what.substr(0, what.find('\n')));
    return 1;
  }
  return 0;
}
