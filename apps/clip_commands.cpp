#include "clip_commands.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <set>
#include <sstream>

#include "selfsup/clip/embed.h"
#include "selfsup/clip/index.h"
#include "selfsup/clip/search_service.h"
#include "selfsup/clip/task.h"
#include "selfsup/clip/zero_shot.h"
#include "selfsup/core/error.h"
#include "selfsup/core/fs.h"
#include "selfsup/core/progress.h"
#include "selfsup/core/runtime.h"
#include "selfsup/data/decode.h"
#include "selfsup/data/emoji.h"
#include "selfsup/data/source.h"
#include "selfsup/io/png.h"
#include "selfsup/train/trainer.h"

namespace selfsup::cli {
namespace fs = std::filesystem;

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Images named on the command line: emoji:ARTIST[,ARTIST] (the emoji packages), flickr8k:SPLIT
// (the recipe's Flickr8k root) or a folder (every image file below it, sorted).
struct ImageSet {
  torch::Tensor images;  // N x 3 x S x S uint8
  std::vector<std::string> paths;
  torch::Tensor labels;  // N int64, -1 when unknown
  std::vector<std::string> class_names;
};

std::vector<std::string> split_list(const std::string& text, char sep) {
  std::vector<std::string> out;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, sep);)
    if (!item.empty()) out.push_back(item);
  return out;
}

bool is_dataset_spec(const std::string& spec) { return spec.rfind("emoji:", 0) == 0 || spec.rfind("flickr8k:", 0) == 0; }

// Every image file below a folder, sorted.
std::vector<std::string> list_image_folder(const std::string& folder) {
  if (!fs::is_directory(folder))
    throw Error(folder + ": expected a folder of images, emoji:ARTIST[,ARTIST] or flickr8k:SPLIT");
  std::vector<std::string> paths;
  for (const auto& entry : fs::recursive_directory_iterator(folder))
    if (entry.is_regular_file() && data::is_image_file(entry.path().string())) paths.push_back(entry.path().string());
  if (paths.empty()) throw Error(folder + ": no .png/.jpg/.jpeg/.bmp files below this folder");
  std::sort(paths.begin(), paths.end());
  return paths;
}

// A folder's images embedded a chunk of 16 batches at a time: a large collection never sits in
// memory as pixels.
torch::Tensor embed_files(clip::ClipModel& model, const std::vector<std::string>& paths, const augment::ViewConfig& view,
                          torch::Device device, int64_t size, int64_t batch_size) {
  const int64_t n = static_cast<int64_t>(paths.size()), chunk = 16 * batch_size;
  Progress bar("embedding", (n + chunk - 1) / chunk, 1);
  std::vector<torch::Tensor> parts;
  for (int64_t at = 0; at < n; at += chunk) {
    const std::vector<std::string> some(paths.begin() + at, paths.begin() + std::min(n, at + chunk));
    parts.push_back(clip::embed_images(model, data::decode_images(some, size, 3), view, device, batch_size));
    bar.update(at / chunk + 1, std::to_string(at + static_cast<int64_t>(some.size())) + " images");
  }
  bar.finish(std::to_string(n) + " images");
  return parts.empty() ? torch::Tensor() : torch::cat(parts);
}

ImageSet load_image_set(const std::string& spec, const Recipe& recipe) {
  const int64_t size = recipe.data.image_size > 0 ? recipe.data.image_size : 64;
  const auto colon = spec.find(':');
  const std::string kind = colon == std::string::npos ? "" : spec.substr(0, colon);
  if (kind == "emoji" || kind == "flickr8k") {
    data::DataConfig c = recipe.data;
    c.dataset = kind;
    if (kind == "emoji") {
      if (recipe.data.dataset != "emoji") c.root = data::default_emoji_root();
      c.test_artists = split_list(spec.substr(colon + 1), ',');
    } else {
      c.test_split = spec.substr(colon + 1);
    }
    c.test_subset = 0;
    auto ds = data::load_caption_dataset(c, /*train=*/false);
    return {ds.images.images, ds.paths, ds.images.labels, ds.images.class_names};
  }
  ImageSet set;
  set.paths = list_image_folder(spec);
  set.images = data::decode_images(set.paths, size, 3);
  set.labels = torch::full({static_cast<int64_t>(set.paths.size())}, -1, torch::kLong);
  return set;
}

std::string fixed(double v, int digits) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(digits) << v;
  return s.str();
}

}  // namespace

ClipCommands::ClipCommands(CLI::App& app) {
  embed_cmd_ = app.add_subcommand("embed", "Embed an image collection with a CLIP checkpoint into one index file for `search`");
  embed_cmd_->add_option("--checkpoint", checkpoint_, "checkpoint.pt of a CLIP run (selfsup train recipes/clip_emoji.yaml)")->required();
  embed_cmd_->add_option("--images", images_, "a folder (every image below it), emoji:ARTIST[,ARTIST] or flickr8k:SPLIT")->required();
  embed_cmd_->add_option("--out", out_, "index file to write")->capture_default_str();
  embed_cmd_->add_option("--batch-size", batch_size_, "images per forward pass")->capture_default_str();
  embed_cmd_->add_flag("--append", append_, "add the images not yet in --out to it (keeps its kind and IVF cells)");
  auto* ann = embed_cmd_->add_option_group("approximate index", "FAISS indexes for large collections (docs/clip.md)");
  ann->add_option("--index-type", index_type_,
                  "flat: exact scan; ivf: inverted file (k-means cells); hnsw: graph;\n"
                  "auto: flat up to " + std::to_string(kExactUpTo) + " images, ivf above")
      ->check(CLI::IsMember({"auto", "flat", "ivf", "hnsw"}))->capture_default_str();
  ann->add_option("--nlist", ann_.nlist, "IVF cells (0: 4 x sqrt(images))")->capture_default_str();
  ann->add_option("--train-sample", ann_.train_sample, "images the IVF k-means trains on (0: 64 per cell)")->capture_default_str();
  ann->add_option("--nprobe", ann_.nprobe, "IVF cells searched per query (0: twice the smallest reaching --target-recall)")->capture_default_str();
  ann->add_option("--hnsw-m", ann_.hnsw_m, "HNSW links per node")->capture_default_str();
  ann->add_option("--ef-construction", ann_.ef_construction, "HNSW build beam width")->capture_default_str();
  ann->add_option("--ef-search", ann_.ef_search, "HNSW search beam width (0: twice the smallest reaching --target-recall)")->capture_default_str();
  ann->add_option("--target-recall", ann_.target_recall, "recall@10 on image queries the automatic nprobe / ef-search must reach")
      ->capture_default_str();

  search_cmd_ = app.add_subcommand("search", "Find the images of an index that best match a sentence (or, with --image and\n"
                                             "--captions, the captions that best match an image)");
  search_cmd_->add_option("query", query_, "the sentence, e.g. \"a red heart\"");
  search_cmd_->add_option("--index", index_, "index file written by selfsup embed");
  search_cmd_->add_option("--checkpoint", checkpoint_, "the CLIP checkpoint that built the index")->required();
  search_cmd_->add_option("-k", k_, "number of matches")->capture_default_str();
  search_cmd_->add_option("--grid", grid_, "also write the matches as a PNG grid, best first");
  search_cmd_->add_option("--image", image_, "reverse search: an image file whose best captions to find");
  search_cmd_->add_option("--captions", captions_, "reverse search: a text file with one candidate caption per line");
  search_cmd_->add_flag("--exact", exact_, "scan every image even when the index is approximate");
  search_cmd_->add_option("--nprobe", nprobe_, "IVF index: cells to search (default: the one stored at build)");
  search_cmd_->add_option("--ef-search", ef_search_, "HNSW index: search beam (default: the one stored at build)");

  zeroshot_cmd_ = app.add_subcommand("zeroshot", "Classify images from class names alone (prompts averaged per class)");
  zeroshot_cmd_->add_option("--checkpoint", checkpoint_, "checkpoint.pt of a CLIP run")->required();
  zeroshot_cmd_->add_option("--images", images_, "a folder, emoji:ARTIST[,ARTIST] or flickr8k:SPLIT (default: the recipe's test split)");
  zeroshot_cmd_->add_option("--classes", classes_, "comma-separated class names (default: the dataset's categories)");
  zeroshot_cmd_->add_option("--template", templates_, "prompt with {} for the class name; repeat for several (default: the recipe's)");
}

bool ClipCommands::run(int& exit_code) {
  if (*embed_cmd_) exit_code = embed();
  else if (*search_cmd_) exit_code = search();
  else if (*zeroshot_cmd_) exit_code = zeroshot();
  else return false;
  return true;
}

int ClipCommands::embed() {
  if (batch_size_ < 1) throw Error("embed: --batch-size must be >= 1");
  auto clip = clip::load_trained_clip(checkpoint_, torch::kCPU);
  configure_threads(clip.recipe.threads);
  std::cout << runtime_summary() << std::endl;

  clip::EmbeddingIndex existing;
  if (append_ && fs::exists(out_)) {
    existing = clip::read_index(out_, /*for_append=*/true);
    if (existing.model.value("fingerprint", std::string()) != clip.identity["fingerprint"].get<std::string>())
      throw Error(out_ + ": embedded by another model (" + existing.model.value("checkpoint", std::string("unknown")) +
                  "); --append needs the checkpoint that built it");
  } else if (append_) {
    std::cout << out_ << " does not exist yet: creating it" << std::endl;
  }
  const std::set<std::string> known(existing.paths.begin(), existing.paths.end());

  const auto start = std::chrono::steady_clock::now();
  const auto view = clip.recipe.augment.views.at(0);
  const auto device = parse_device(clip.recipe.device);
  std::vector<std::string> new_paths;
  torch::Tensor new_emb;
  if (is_dataset_spec(images_)) {
    const auto set = load_image_set(images_, clip.recipe);
    std::vector<int64_t> rows;
    for (size_t i = 0; i < set.paths.size(); ++i)
      if (!known.count(set.paths[i])) rows.push_back(static_cast<int64_t>(i)), new_paths.push_back(set.paths[i]);
    if (!rows.empty())
      new_emb = clip::embed_images(*clip.model, set.images.index_select(0, torch::tensor(rows, torch::kLong)), view, device,
                                   batch_size_, /*progress=*/true);
  } else {
    for (auto& p : list_image_folder(images_))
      if (!known.count(p)) new_paths.push_back(std::move(p));
    new_emb = embed_files(*clip.model, new_paths, view, device, clip.recipe.data.image_size > 0 ? clip.recipe.data.image_size : 64,
                          batch_size_);
  }
  const double secs = seconds_since(start);
  if (new_paths.empty()) {
    std::cout << "no new images: " << out_ << " already holds all " << existing.paths.size() << " of them" << std::endl;
    return 0;
  }
  std::cout << "embedded " << new_emb.size(0) << " images (" << new_emb.size(1) << "-d) in " << fixed(secs, 2) << " s, "
            << fixed(new_emb.size(0) / std::max(secs, 1e-9), 0) << " images/s" << std::endl;

  auto paths = existing.paths;
  paths.insert(paths.end(), new_paths.begin(), new_paths.end());
  const auto all = existing.embeddings.defined() ? torch::cat({existing.embeddings, new_emb}) : new_emb;
  // The kind of index: --append keeps an index's kind unless --index-type names another.
  std::string type = index_type_;
  if (type == "auto") {
    if (existing.embeddings.defined()) type = existing.ann ? existing.ann->type() : "flat";
    else type = static_cast<int64_t>(paths.size()) > kExactUpTo ? "ivf" : "flat";
  }
  std::shared_ptr<clip::AnnIndex> ann;
  if (type != "flat") {
    if (existing.ann && existing.ann->type() == type) {
      std::cout << "adding " << new_emb.size(0) << " images to the " << type << " index" << std::endl;
      existing.ann->append(new_emb, all, &std::cout);
      ann = existing.ann;
    } else {
      ann_.type = type;
      ann = std::make_shared<clip::AnnIndex>(clip::AnnIndex::build(all, ann_, &std::cout));
    }
  }
  clip::write_index(out_, all, paths, clip.identity, ann.get());
  std::cout << "wrote " << out_ << ": " << paths.size() << " images, "
            << (ann ? ann->summary() : std::string("exact search")) << std::endl;
  return 0;
}

int ClipCommands::search() {
  if (k_ < 1) throw Error("search: -k must be >= 1");
  auto clip = clip::load_trained_clip(checkpoint_, torch::kCPU);
  configure_threads(clip.recipe.threads);
  const auto device = parse_device(clip.recipe.device);
  const int64_t max_length = selfsup::clip::clip_config(clip.recipe).text.max_length;
  if (!image_.empty()) {  // image -> captions
    if (captions_.empty()) throw Error("search --image: give --captions FILE (one candidate caption per line)");
    const auto captions = clip::read_caption_lines(captions_);
    const int64_t size = clip.recipe.data.image_size > 0 ? clip.recipe.data.image_size : 64;
    const auto image = data::decode_image(image_, size, 3).unsqueeze(0);
    const auto img = clip::embed_images(*clip.model, image, clip.recipe.augment.views.at(0), device);
    const auto txt = clip::embed_texts(*clip.model, *clip.tokenizer, captions, max_length, device);
    const auto scores = torch::mv(txt, img[0]);
    const auto top = scores.topk(std::min<int64_t>(k_, scores.size(0)));
    for (int64_t i = 0; i < std::get<1>(top).size(0); ++i) {
      const auto row = std::get<1>(top)[i].item<int64_t>();
      std::cout << i + 1 << "\t" << fixed(std::get<0>(top)[i].item<double>(), 4) << "\t" << captions[row] << "\n";
    }
    return 0;
  }
  if (index_.empty() || query_.empty()) throw Error("search: give --index FILE and a sentence (or --image with --captions)");
  auto index = clip::read_index(index_);
  const auto fingerprint = index.model.value("fingerprint", std::string());
  if (fingerprint != clip.identity["fingerprint"].get<std::string>())
    throw Error(index_ + ": embedded by another model (" + index.model.value("checkpoint", std::string("unknown")) +
                "); run selfsup embed with " + checkpoint_ + " first");
  const auto query = clip::embed_texts(*clip.model, *clip.tokenizer, {query_}, max_length, device)[0];
  const auto start = std::chrono::steady_clock::now();
  const auto options = clip::configure_search(index, exact_, nprobe_, ef_search_);
  const auto matches = clip::search(index, query, k_, options);
  const double ms = 1000 * seconds_since(start);
  for (size_t i = 0; i < matches.size(); ++i)
    std::cout << i + 1 << "\t" << fixed(matches[i].score, 4) << "\t" << index.paths[matches[i].index] << "\n";
  std::cout << "searched " << index.embeddings.size(0) << " images in " << fixed(ms, 2) << " ms ("
            << (index.ann && !options.exact ? index.ann->type() : std::string("exact")) << ")" << std::endl;
  if (!grid_.empty()) {
    std::vector<std::string> paths;
    for (const auto& m : matches) paths.push_back(index.paths[m.index]);
    const auto images = data::decode_images(paths, 64, 3).to(torch::kFloat) / 255;
    const auto tiles = images.unbind(0);
    const auto columns = static_cast<int64_t>(std::ceil(std::sqrt(static_cast<double>(tiles.size()))));
    io::write_png(grid_, io::image_grid(tiles, columns));
    std::cout << "wrote " << grid_ << " (best match first, row by row)" << std::endl;
  }
  return 0;
}

int ClipCommands::zeroshot() {
  auto clip = clip::load_trained_clip(checkpoint_, torch::kCPU);
  configure_threads(clip.recipe.threads);
  const auto device = parse_device(clip.recipe.device);
  ImageSet set;
  if (images_.empty()) {
    auto ds = data::load_caption_dataset(clip.recipe.data, /*train=*/false);
    set = {ds.images.images, ds.paths, ds.images.labels, ds.images.class_names};
  } else {
    set = load_image_set(images_, clip.recipe);
  }
  const bool custom_classes = !classes_.empty();
  const auto classes = custom_classes ? split_list(classes_, ',') : set.class_names;
  if (classes.size() < 2) throw Error("zeroshot: give at least two class names with --classes a,b,...");
  const auto templates = templates_.empty() ? selfsup::clip::clip_config(clip.recipe).zeroshot_templates : templates_;
  for (const auto& t : templates)
    if (t.find("{}") == std::string::npos) throw Error("zeroshot --template '" + t + "': no {} for the class name");
  const auto img = clip::embed_images(*clip.model, set.images, clip.recipe.augment.views.at(0), device, 256, /*progress=*/true);
  const auto cls = clip::class_embeddings(*clip.model, *clip.tokenizer, classes, templates,
                                          selfsup::clip::clip_config(clip.recipe).text.max_length, device);
  const bool labelled = !custom_classes && (set.labels >= 0).any().item<bool>();
  const auto result = clip::zero_shot_accuracy(img, cls, labelled ? set.labels : torch::full_like(set.labels, -1));
  if (labelled) {
    std::cout << "zero-shot on " << set.paths.size() << " images, " << classes.size() << " classes, "
              << templates.size() << " prompts each: top-1 " << fixed(100 * result.top1, 2) << "%, top-5 "
              << fixed(100 * result.top5, 2) << "%\n";
    for (size_t c = 0; c < classes.size(); ++c) {
      const auto mine = set.labels == static_cast<int64_t>(c);
      const auto n = mine.sum().item<int64_t>();
      if (n == 0) continue;
      const auto right = (mine & (result.predictions == static_cast<int64_t>(c))).sum().item<int64_t>();
      std::cout << "  " << std::left << std::setw(24) << classes[c] << fixed(100.0 * right / n, 1) << "% of " << n << "\n";
    }
  } else {
    for (size_t i = 0; i < set.paths.size(); ++i)
      std::cout << set.paths[i] << "\t" << classes[result.predictions[i].item<int64_t>()] << "\n";
  }
  return 0;
}

int ClipCommands::eval_retrieval(const std::string& checkpoint, const std::vector<std::string>& overrides,
                                 const std::string& json_out) {
  auto clip = clip::load_trained_clip(checkpoint, torch::kCPU);
  if (!overrides.empty()) {
    clip.recipe = parse_recipe(recipe_to_yaml(clip.recipe), checkpoint + " (stored recipe)", overrides);
  }
  configure_threads(clip.recipe.threads);
  std::cout << runtime_summary() << std::endl;
  const auto device = parse_device(clip.recipe.device);
  clip.model->to(device);
  const auto test = data::load_caption_dataset(clip.recipe.data, /*train=*/false);
  std::cout << "retrieval on " << test.images.size() << " images, " << test.captions.size() << " captions from "
            << test.source << std::endl;
  data::CaptionDataset train;  // for the raw-pixel baseline of the label protocol
  if (clip.recipe.eval.baselines) train = data::load_caption_dataset(clip.recipe.data, /*train=*/true);
  auto j = clip::evaluate_clip(*clip.model, *clip.tokenizer, clip.recipe, test, device, /*zero_shot=*/true,
                               clip.recipe.eval.baselines ? &train : nullptr);
  j["checkpoint"] = checkpoint;
  std::cout << train::format_results({{"eval", j}});
  if (!json_out.empty()) atomic_write(json_out, j.dump(2) + "\n");
  return 0;
}

}  // namespace selfsup::cli
