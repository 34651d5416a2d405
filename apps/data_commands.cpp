#include "data_commands.h"

#include <chrono>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "selfsup/augment/pipeline.h"
#include "selfsup/core/error.h"
#include "selfsup/core/fs.h"
#include "selfsup/core/progress.h"
#include "selfsup/core/runtime.h"
#include "selfsup/data/check.h"
#include "selfsup/data/loader.h"
#include "selfsup/data/source.h"
#include "selfsup/train/recipe.h"

namespace selfsup::cli {
namespace {

void add_source_options(CLI::App* cmd, std::string& path, std::string& image_key, std::string& caption_key,
                        std::string& separator, bool& captions) {
  cmd->add_option("path", path,
                  "a folder of class folders (root/<class>/<image>), a .csv/.tsv image-caption list, or WebDataset\n"
                  "shards (\"/data/train-{000000..000127}.tar\"; quote the braces)")
      ->required();
  cmd->add_option("--image-key", image_key, "CSV: the column of image paths")->capture_default_str();
  cmd->add_option("--caption-key", caption_key, "CSV: the column of captions")->capture_default_str();
  cmd->add_option("--separator", separator, "CSV: the field separator (tab, comma or one character; default by extension)");
  cmd->add_flag("--captions", captions, "shards: read (and require) a caption per sample (.txt or .json)");
}

data::StreamList list(const std::string& path, const std::string& image_key, const std::string& caption_key,
                      const std::string& separator, bool captions) {
  data::PathSpec spec{path, image_key, caption_key, 0};
  if (separator == "tab") spec.separator = '\t';
  else if (separator == "comma") spec.separator = ',';
  else if (separator.size() == 1) spec.separator = separator[0];
  else if (!separator.empty()) throw Error("--separator: '" + separator + "': expected tab, comma or one character");
  data::ListOptions o;
  o.skip_bad = true;  // listing problems are reported with the unreadable files
  o.need_captions = captions || path.size() >= 4 && (path.substr(path.size() - 4) == ".csv" || path.substr(path.size() - 4) == ".tsv");
  return data::list_path(spec, o);
}

std::string megabytes(uint64_t bytes) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(1) << static_cast<double>(bytes) / (1 << 20) << " MiB";
  return s.str();
}

}  // namespace

DataCommands::DataCommands(CLI::App& app) {
  data_cmd_ = app.add_subcommand("data", "Inspect, repack and benchmark training data (image folders, WebDataset shards, CSV lists)");
  data_cmd_->require_subcommand(1);

  check_cmd_ = data_cmd_->add_subcommand("check", "Count the samples, classes, formats and image sizes of a dataset and list the\n"
                                                 "files that cannot be read (exit code 1 when there are any)");
  add_source_options(check_cmd_, path_, image_key_, caption_key_, separator_, captions_);
  check_cmd_->add_flag("--decode", decode_, "decode every image fully (slower; finds corrupt data past the header)");
  check_cmd_->add_option("--threads", threads_, "reading threads (0 = all cores)")->capture_default_str();
  check_cmd_->add_option("--bad-list", bad_list_, "write every unreadable file (one per line) to this file");

  shards_cmd_ = data_cmd_->add_subcommand("shards", "Write a dataset as WebDataset shards (KEY.jpg + KEY.cls + KEY.txt per sample;\n"
                                                   "images copied, not re-encoded)");
  add_source_options(shards_cmd_, path_, image_key_, caption_key_, separator_, captions_);
  shards_cmd_->add_option("--out", out_, "output folder")->required();
  shards_cmd_->add_option("--prefix", prefix_, "shard file names: PREFIX-000000.tar, ...")->capture_default_str();
  shards_cmd_->add_option("--shard-size", shard_size_, "samples per shard")->capture_default_str();
  shards_cmd_->add_flag("--shuffle", shuffle_, "write the samples in a seeded random order (so every shard mixes the classes)");
  shards_cmd_->add_option("--seed", seed_, "seed of --shuffle")->capture_default_str();

  bench_cmd_ = data_cmd_->add_subcommand("bench", "Measure the loader alone on a recipe's data: read, decode, crop and augment its\n"
                                                 "views with data.workers threads, no model (images/s)");
  bench_cmd_->add_option("recipe", recipe_, "recipe YAML file")->required();
  bench_cmd_->add_option("overrides", overrides_, "key=value overrides, e.g. data.workers=2 train.batch_size=128");
  bench_cmd_->add_option("--batches", batches_, "batches to time (after one warm-up batch)")->capture_default_str();
}

bool DataCommands::run(int& exit_code) {
  if (!*data_cmd_) return false;
  if (*check_cmd_) exit_code = check();
  if (*shards_cmd_) exit_code = shards();
  if (*bench_cmd_) exit_code = bench();
  return true;
}

int DataCommands::check() {
  const auto l = list(path_, image_key_, caption_key_, separator_, captions_);
  Progress progress("reading", l.source.size(), l.source.size() / 10 + 1);
  const auto r = data::check_samples(l, decode_, threads_, [&](int64_t done) { progress.update(done, ""); });
  progress.finish("");
  std::cout << path_ << ": " << r.samples << " samples, " << megabytes(r.bytes);
  if (!l.source.shards.empty()) std::cout << " in " << l.source.shards.size() << " shards";
  if (r.captions) std::cout << ", " << r.captions << " captions";
  std::cout << "\nformats:";
  for (const auto& [f, count] : r.formats) std::cout << " " << f << " " << count;
  std::cout << "\nimage sizes (width x height): min " << r.min_width << "x" << r.min_height << ", median " << r.median_width
            << "x" << r.median_height << ", max " << r.max_width << "x" << r.max_height << "\n";
  if (!r.classes.empty()) {
    std::cout << r.classes.size() << " classes:";
    for (size_t c = 0; c < r.classes.size() && c < 20; ++c) std::cout << " " << r.classes[c].first << " (" << r.classes[c].second << ")";
    if (r.classes.size() > 20) std::cout << " ...";
    std::cout << "\n";
  } else {
    std::cout << "no class labels\n";
  }
  std::cout << r.bad.size() << " unreadable" << (decode_ ? "" : " (headers checked; --decode decodes every image)")
            << (r.bad.empty() ? "" : ":") << "\n";
  for (size_t i = 0; i < r.bad.size() && i < 20; ++i) std::cout << "  " << r.bad[i] << "\n";
  if (r.bad.size() > 20) std::cout << "  ... (" << r.bad.size() - 20 << " more; --bad-list FILE writes them all)\n";
  if (!bad_list_.empty()) {
    std::string text;
    for (const auto& b : r.bad) text += b + "\n";
    atomic_write(bad_list_, text);
  }
  return r.bad.empty() ? 0 : 1;
}

int DataCommands::shards() {
  const auto l = list(path_, image_key_, caption_key_, separator_, captions_);
  for (const auto& why : l.source.skipped) std::cerr << "skipping " << why << std::endl;
  data::ShardOptions o{out_, prefix_, shard_size_, shuffle_, static_cast<uint64_t>(seed_)};
  Progress progress("writing", l.source.size(), l.source.size() / 10 + 1);
  const auto pattern = data::write_shards(l, o, [&](int64_t done) { progress.update(done, ""); });
  progress.finish("");
  std::cout << l.source.size() << " samples written: data.dataset=webdataset data.shards=\"" << pattern << "\"" << std::endl;
  return 0;
}

int DataCommands::bench() {
  const auto recipe = load_recipe(recipe_, overrides_);
  configure_threads(recipe.threads);
  std::cout << runtime_summary() << std::endl;
  const auto dataset = data::load_dataset(recipe.data, true);
  const auto o = training_loader_options(recipe, dataset);
  data::Loader loader(dataset, o, augment::views_transform(recipe.augment.views, torch::kCPU));
  const int64_t batches = std::min(batches_, loader.batches_per_epoch() - 1);
  if (batches <= 0) throw Error("data bench: the dataset holds fewer than two batches of train.batch_size");
  loader.start_epoch(0);
  loader.next();  // warm-up: threads started, first files cached
  const auto start = std::chrono::steady_clock::now();
  for (int64_t b = 0; b < batches; ++b) loader.next();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double ips = static_cast<double>(batches * o.batch_size) / seconds;
  std::cout << std::fixed << std::setprecision(1) << "loader: " << ips << " images/s (" << batches << " batches of "
            << o.batch_size << ", " << o.workers << " workers, " << augment::count_views(recipe.augment.views) << " views, "
            << (dataset.streamed() ? "streamed" : "in memory") << ")" << std::endl;
  return 0;
}

}  // namespace selfsup::cli
