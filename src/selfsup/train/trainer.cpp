#include "selfsup/train/trainer.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <thread>
#include <type_traits>

#include "selfsup/core/distributed.h"
#include "selfsup/core/error.h"
#include "selfsup/core/fs.h"
#include "selfsup/core/progress.h"
#include "selfsup/core/runtime.h"
#include "selfsup/data/loader.h"
#include "selfsup/models/batch_norm.h"
#include "selfsup/train/checkpoint.h"
#include "selfsup/train/data_parallel.h"
#include "selfsup/train/grad_norms.h"
#include "selfsup/train/precision.h"
#include "selfsup/train/schedule.h"
#include "selfsup/train/step.h"
#include "selfsup/train/task.h"

namespace selfsup::train {
namespace fs = std::filesystem;

namespace {

std::string fixed(double v, int digits) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(digits) << v;
  return s.str();
}

// Per-epoch means of the method's logs.
struct EpochStats {
  double loss = 0;
  std::map<std::string, double> logs;
  int64_t steps = 0;
  void add(double l, const std::map<std::string, double>& step_logs) {
    loss += l;
    for (const auto& [k, v] : step_logs) logs[k] += v;
    ++steps;
  }
  double mean_loss() const { return steps ? loss / steps : 0; }
  double mean(const std::string& k) const { return steps ? logs.at(k) / steps : 0; }
};

torch::Device training_device(const Recipe& r, const dist::WorldInfo& world) {
  const auto device = parse_device(r.device);
  // One GPU per process on a machine: cuda means cuda:LOCAL_RANK.
  if (device.is_cuda() && !device.has_index() && world.size > 1) return torch::Device(torch::kCUDA, world.local_rank);
  return device;
}

class Run {
 public:
  Run(const Recipe& recipe, bool resume, bool overwrite, const dist::WorldInfo& world, int64_t timeout_seconds)
      : r_(recipe), dir_(fs::path(recipe.run_dir) / recipe.name), device_(training_device(recipe, world)),
        session_(world, device_, timeout_seconds) {
    // threads: 0 = this process's share of the machine's cores.
    const auto cores = static_cast<int64_t>(std::max(1u, std::thread::hardware_concurrency()));
    configure_threads(r_.threads > 0 ? r_.threads : std::max<int64_t>(1, cores / world.local_size));
    bf16_ = resolve_precision(r_.precision, device_) == "bf16";
    std::cout << runtime_summary() << " | " << (bf16_ ? "bf16 autocast" : "fp32") << std::endl;
    if (dist::active()) {
      check_same_recipe(recipe_to_yaml(r_));
      std::cout << "processes: " << dist::world_size() << " (" << world.launcher << ", " << dist::backend()
                << "), global batch " << r_.train.batch_size << " = " << dist::world_size() << " x "
                << r_.train.batch_size / dist::world_size() << std::endl;
    }
    fs::create_directories(dir_);
    checkpoint_ = (dir_ / "checkpoint.pt").string();
    if (resume && overwrite) throw Error("train: --resume continues a run, --overwrite replaces it: give one of them");
    if (!resume && fs::exists(checkpoint_) && dist::is_main()) {
      if (!overwrite)
        throw Error(dir_.string() + ": holds the checkpoint of an earlier run: --resume to continue it, --overwrite to "
                    "start over (deleting it), or another name=");
      fs::remove(checkpoint_);  // a failure before the new run's first checkpoint must not leave the old one
    }
    CheckpointInfo resumed;
    if (resume) {
      resumed = read_checkpoint_info(checkpoint_);
      check_resumable(resumed.recipe_yaml);  // before anything in the run folder is touched
    }
    task_ = make_task(r_, device_, resumed.extras);
    model_ = task_->model();
    if (r_.model.sync_bn) models::set_sync_bn(*model_, true);
    optimizer_ = std::make_unique<Optimizer>(model_->optimizer_parameters(), r_.train.optimizer);
    if (resume) {
      const auto& info = resumed;
      load_checkpoint(checkpoint_, *model_, optimizer_.get());
      epochs_done_ = info.epochs_done;
      global_step_ = info.global_step;
      std::cout << "resumed " << checkpoint_ << " after epoch " << epochs_done_ << ", step " << global_step_ << std::endl;
      drop_rows_after_checkpoint();
    } else if (dist::is_main()) {
      std::error_code ec;
      fs::remove(dir_ / "metrics.csv", ec);
      fs::remove(dir_ / "grad_norms.csv", ec);
    }
    if (dist::is_main()) atomic_write((dir_ / "recipe.yaml").string(), recipe_to_yaml(r_));
    if (dist::active()) {
      broadcast_state(*model_);
      std::vector<torch::Tensor> params;
      for (const auto& p : optimizer_->parameters()) params.push_back(p.tensor);
      averager_ = std::make_unique<GradientAverager>(params);
    }
    if (r_.train.grad_norms && dist::is_main())
      grad_norms_ = std::make_unique<GradNormLog>(optimizer_->parameters(), (dir_ / "grad_norms.csv").string());
  }

  // A run killed after logging an epoch (or step) but before its checkpoint logged rows the resumed
  // run logs again: keep the header and the rows up to the checkpoint's position.
  void drop_rows_after_checkpoint() const {
    if (!dist::is_main()) return;
    drop_rows_after((dir_ / "metrics.csv").string(), epochs_done_);
    drop_rows_after((dir_ / "grad_norms.csv").string(), global_step_);
  }

  static void drop_rows_after(const std::string& path, int64_t last) {
    if (!fs::exists(path)) return;
    std::istringstream in(read_file(path, "log file"));
    std::string kept, line;
    for (bool header = true; std::getline(in, line); header = false) {
      int64_t position = 0;  // the first column: epoch (metrics.csv) or step (grad_norms.csv)
      try {
        position = std::stoll(line.substr(0, line.find(',')));
      } catch (const std::exception&) {
      }
      if (header || position <= last) kept += line + "\n";
    }
    atomic_write(path, kept);
  }

  // --resume continues the same run: keys that only say how long, how often or where it runs may
  // change; anything else (optimiser, model, method, data, augmentation, seed, ...) would mix two
  // runs or fail deep inside, so the differing keys are reported instead.
  void check_resumable(const std::string& stored_yaml) const {
    static const char* kMayChange[] = {"train.epochs", "train.stop_after_epochs", "train.stop_after_steps",
                                       "train.checkpoint_every_steps", "train.log_every",
                                       "train.checkpoint_every", "train.knn_every", "train.grad_norms",
                                       "eval.", "data.workers", "data.prefetch", "data.on_bad_file", "threads", "device", "run_dir"};
    const auto stored = recipe_to_yaml(parse_recipe(stored_yaml, checkpoint_ + " (stored recipe)"));
    std::string changed;
    for (const auto& d : recipe_differences(stored, recipe_to_yaml(r_))) {
      bool allowed = false;
      for (const char* prefix : kMayChange) allowed = allowed || d.rfind(prefix, 0) == 0;
      if (!allowed) changed += (changed.empty() ? "" : "; ") + d;
    }
    if (!changed.empty())
      throw Error(checkpoint_ + ": --resume needs the recipe of the run being resumed; changed: " + changed +
                  " (start a new run with another name=)");
  }

  nlohmann::json run() {
    const auto& train_images = task_->train_images();
    auto lo = training_loader_options(r_, train_images);
    lo.shard_rank = dist::rank();
    lo.shard_count = dist::world_size();
    lo.groups = task_->batch_groups();
    if (r_.train.batch_size % lo.shard_count != 0)
      throw Error("train.batch_size: " + std::to_string(r_.train.batch_size) + " (the global batch) cannot be split evenly over " +
                  std::to_string(lo.shard_count) + " processes: expected a multiple of " + std::to_string(lo.shard_count));
    data::Loader loader(train_images, lo, augment::views_transform(r_.augment.views, device_));
    const int64_t steps_per_epoch = loader.batches_per_epoch();
    if (steps_per_epoch == 0)
      throw Error("train.batch_size: " + std::to_string(r_.train.batch_size) + " is larger than the " +
                  std::to_string(train_images.size()) + " training images");
    const int64_t total_steps = steps_per_epoch * r_.train.epochs;
    const int64_t warmup_steps = static_cast<int64_t>(r_.train.schedule.warmup_epochs * steps_per_epoch);
    int64_t last_epoch = r_.train.epochs;
    if (r_.train.stop_after_epochs > 0) last_epoch = std::min(last_epoch, epochs_done_ + r_.train.stop_after_epochs);

    double train_seconds = 0, wait_seconds = 0, loader_seconds = 0;
    int64_t images = 0, steps_this_invocation = 0;
    // A checkpoint written mid-epoch (train.checkpoint_every_steps, stop_after_steps) resumes at
    // the next batch of that epoch: the loader's batches depend only on (seed, epoch, step).
    int64_t first_step = std::clamp<int64_t>(global_step_ - epochs_done_ * steps_per_epoch, 0, steps_per_epoch - 1);
    bool stopped = false, limit_reached = false;
    for (int64_t epoch = epochs_done_; epoch < last_epoch && !limit_reached; ++epoch, first_step = 0) {
      model_->train();
      loader.reset_wait_seconds();
      loader.start_epoch(epoch, first_step);
      Progress progress("epoch " + std::to_string(epoch + 1) + "/" + std::to_string(r_.train.epochs), steps_per_epoch,
                        r_.train.log_every);
      EpochStats stats;
      int64_t step = first_step;
      double prepare_seconds = 0;
      while (auto batch = loader.next()) {
        StepContext ctx;
        ctx.epoch = epoch;
        ctx.global_step = global_step_;
        ctx.total_steps = total_steps;
        ctx.generator = at::make_generator<at::CPUGeneratorImpl>(step_seed(r_.seed, epoch, step));
        const double lr = lr_at(r_.train.schedule, r_.train.optimizer.lr, global_step_, warmup_steps, total_steps);
        optimizer_->set_lr(lr);
        StepResult out;
        try {
          out = optimisation_step(
              *model_, *optimizer_, *batch, ctx, r_.train.grad_clip, bf16_,
              [&] {
                if (grad_norms_) grad_norms_->record(global_step_ + 1);
              },
              averager_.get());
        } catch (const Diverged& e) {
          throw Diverged(std::string(e.what()) + " at epoch " + std::to_string(epoch + 1) + " step " +
                         std::to_string(step + 1) + " (lr " + std::to_string(lr) +
                         "); training stopped. Last good checkpoint: " +
                         (fs::exists(checkpoint_) ? checkpoint_ : std::string("none written yet")));
        }
        const double loss = out.loss;
        stats.add(loss, out.logs);
        prepare_seconds += batch->prepare_seconds;
        ++global_step_;
        ++step;
        const double elapsed = progress.elapsed_seconds();
        progress.update(step, step_line(stats, lr, stats.steps * lo.batch_size / std::max(elapsed, 1e-9)));
        warn_on_collapse(out.logs);
        const auto& t = r_.train;
        limit_reached = t.stop_after_steps > 0 && ++steps_this_invocation >= t.stop_after_steps;
        stopped = limit_reached && step < steps_per_epoch;  // at the epoch's end, the epoch finishes as usual
        if (stopped || (t.checkpoint_every_steps > 0 && global_step_ % t.checkpoint_every_steps == 0 && step < steps_per_epoch)) {
          save();
          if (stopped) break;
        }
      }
      const double epoch_seconds = progress.elapsed_seconds();
      const double ips = static_cast<double>(stats.steps * lo.batch_size) / epoch_seconds;
      progress.finish(step, step_line(stats, optimizer_->lr(), ips) + " | data wait " +
                      fixed(100 * loader.wait_seconds() / epoch_seconds, 1) + "%, loader busy " +
                      fixed(100 * prepare_seconds / epoch_seconds, 1) + "%");
      train_seconds += epoch_seconds;
      wait_seconds += loader.wait_seconds();
      loader_seconds += prepare_seconds;
      images += stats.steps * lo.batch_size;
      if (stopped) {
        std::cout << "stopped after step " << step << " of epoch " << epoch + 1 << " (train.stop_after_steps); --resume continues there"
                  << std::endl;
        break;
      }
      epochs_done_ = epoch + 1;

      if (!r_.model.sync_bn) average_bn_statistics(*model_);
      if (dist::is_main()) {  // the other processes go on to the next epoch and wait for rank 0 there
        const auto evaluation = alone([&] { return task_->evaluate_epoch(epochs_done_); });
        append_csv(stats, optimizer_->lr(), ips, loader.wait_seconds() / epoch_seconds,
                   prepare_seconds / epoch_seconds, epoch_seconds, evaluation);
      }
      if (epochs_done_ % r_.train.checkpoint_every == 0 || epochs_done_ == last_epoch || limit_reached) save();
    }

    nlohmann::json metrics;
    metrics["name"] = r_.name;
    metrics["method"] = task_->method_name().empty() ? r_.task : task_->method_name();
    metrics["backbone"] = task_->describe_model();
    metrics["epochs_done"] = epochs_done_;
    metrics["epochs"] = r_.train.epochs;
    metrics["train_images"] = train_images.size();
    if (train_images.streamed())
      metrics["skipped_files"] = static_cast<int64_t>(train_images.stream->skipped.size()) + loader.skipped_files();
    metrics["threads"] = at::get_num_threads();
    metrics["precision"] = bf16_ ? "bf16" : "fp32";
    metrics["runtime"] = runtime_summary();
    if (dist::active()) {
      metrics["processes"] = dist::world_size();
      metrics["allreduce_bytes_per_step"] = averager_->bytes_per_step();
      if (train_seconds > 0) metrics["allreduce_wait_share"] = averager_->wait_seconds() / train_seconds;
    }
    if (images > 0) {
      metrics["train_seconds_this_invocation"] = train_seconds;
      metrics["images_per_second"] = images / train_seconds;
      metrics["data_wait_share"] = wait_seconds / train_seconds;
      metrics["loader_busy_share"] = loader_seconds / train_seconds;
    }
    if (!dist::is_main()) return metrics;  // rank 0 evaluates and writes; the others are done
    if (r_.eval.at_end && epochs_done_ == r_.train.epochs) metrics.update(alone([&] { return task_->evaluate_final(); }));
    atomic_write((dir_ / "metrics.json").string(), metrics.dump(2) + "\n");
    return metrics;
  }

 private:
  static std::string step_line(const EpochStats& s, double lr, double ips) {
    std::string line = "loss " + fixed(s.mean_loss(), 4) + " lr " + fixed(lr, 5);
    for (const auto& [k, v] : s.logs) line += " " + k + " " + fixed(v / s.steps, 3);
    return line + " | " + fixed(ips, 0) + " img/s";
  }

  void warn_on_collapse(const std::map<std::string, double>& logs) {
    if (warned_collapse_ || !dist::is_main()) return;
    const auto spread = logs.find("spread"), uniformity = logs.find("uniformity");
    if (spread != logs.end() && spread->second < 0.05) {
      warned_collapse_ = true;
      std::cerr << "\nwarning: embedding spread " << fixed(spread->second, 4)
                << " (about 1 when healthy): the representation is collapsing toward a constant" << std::endl;
    } else if (uniformity != logs.end() && uniformity->second > 0.985) {
      warned_collapse_ = true;
      std::cerr << "\nwarning: the targets' entropy is " << fixed(100 * uniformity->second, 1)
                << "% of ln K: uniform collapse (every image gets the same flat distribution over the prototypes)"
                << std::endl;
    }
  }

  void append_csv(const EpochStats& s, double lr, double ips, double wait_share, double loader_share, double seconds,
                  const std::map<std::string, double>& evaluation) {
    const fs::path path = dir_ / "metrics.csv";
    const bool fresh = !fs::exists(path);
    std::ofstream out(path, std::ios::app);
    if (fresh) {
      out << "epoch,step,loss,lr";
      for (const auto& kv : s.logs) out << "," << kv.first;
      out << ",images_per_s,data_wait_share,loader_busy_share,epoch_seconds";
      for (const auto& name : task_->epoch_metric_names()) out << "," << name;
      out << "\n";
    }
    out << epochs_done_ << "," << global_step_ << "," << s.mean_loss() << "," << lr;
    for (const auto& kv : s.logs) out << "," << kv.second / s.steps;
    out << "," << ips << "," << wait_share << "," << loader_share << "," << seconds;
    for (const auto& name : task_->epoch_metric_names()) {
      out << ",";
      if (const auto it = evaluation.find(name); it != evaluation.end()) out << it->second;
    }
    out << "\n";
    out.flush();  // an append-only log: a failed append is an error, never a silently short file
    if (!out) throw Error(path.string() + ": cannot append the epoch's row (disk full?)");
  }

  // Rank 0 evaluates while the other processes do not take part: SyncBatchNorm (a fine-tune
  // trains the encoder) must not wait for them, and with `threads: 0` rank 0 takes all the cores
  // the waiting processes leave idle (bench: kNN + linear probe after 2,560 images, 10.5 s on one
  // thread, 8.4 s on two — the single-process time).
  template <typename F>
  std::invoke_result_t<F> alone(F&& evaluate) {
    const int threads = at::get_num_threads();
    if (dist::active() && r_.threads <= 0) configure_threads(0);
    if (r_.model.sync_bn) models::set_sync_bn(*model_, false);
    auto result = evaluate();
    if (r_.model.sync_bn) models::set_sync_bn(*model_, true);
    at::set_num_threads(threads);
    return result;
  }

  void save() {
    if (!r_.model.sync_bn) average_bn_statistics(*model_);
    check_processes_agree(*model_, global_step_);
    if (!dist::is_main()) return;
    CheckpointInfo info{recipe_to_yaml(r_), epochs_done_, global_step_, task_->train_images().size(),
                        task_->checkpoint_extras()};
    save_checkpoint(checkpoint_, *model_, optimizer_.get(), info);
  }

  Recipe r_;
  fs::path dir_;
  torch::Device device_;
  ProcessGroupSession session_;
  std::unique_ptr<Task> task_;
  std::shared_ptr<Model> model_;
  std::unique_ptr<Optimizer> optimizer_;
  std::unique_ptr<GradNormLog> grad_norms_;
  std::unique_ptr<GradientAverager> averager_;  // several processes only
  std::string checkpoint_;
  int64_t epochs_done_ = 0, global_step_ = 0;
  bool warned_collapse_ = false, bf16_ = false;
};

std::string percent(const nlohmann::json& j, const char* key) {
  return j.contains(key) ? fixed(100 * j[key].get<double>(), 2) + "%" : "-";
}

}  // namespace

nlohmann::json run_training(const Recipe& recipe, bool resume, bool overwrite, int64_t timeout_seconds) {
  return Run(recipe, resume, overwrite, dist::world_from_environment(), timeout_seconds).run();
}

std::string format_results(const nlohmann::json& m) {
  std::ostringstream out;
  if (m.contains("eval") && m["eval"].contains("retrieval")) {  // CLIP
    const auto& e = m["eval"];
    out << "retrieval on " << e.value("test_images", 0) << " test images (chance R@10 " << percent(e, "chance_r10") << ")\n";
    for (const char* dir : {"text_to_image", "image_to_text"}) {
      const auto& d = e["retrieval"][dir];
      out << std::left << std::setw(15) << dir << "R@1 " << percent(d, "r1") << "  R@5 " << percent(d, "r5") << "  R@10 "
          << percent(d, "r10") << "  median rank " << fixed(d.value("median_rank", 0.0), 1) << "\n";
    }
    if (e.contains("zeroshot"))
      out << "zero-shot      top-1 " << percent(e["zeroshot"], "top1") << "  top-5 " << percent(e["zeroshot"], "top5") << "\n";
    if (e.contains("label_protocol")) {
      const auto& l = e["label_protocol"];
      const auto recalls = [&](const nlohmann::json& p, const char* dir) {
        return percent(p[dir], "r1") + " / " + percent(p[dir], "r5") + " / " + percent(p[dir], "r10");
      };
      out << "label protocol (" << l.value("queries", 0) << " labels as queries), R@1/5/10: text->image "
          << recalls(l, "text_to_image") << ", image->text " << recalls(l, "image_to_text") << "\n";
      out << "  R@1 counting any skin tone: text->image " << percent(l["any_tone_r1"], "text_to_image") << ", image->text "
          << percent(l["any_tone_r1"], "image_to_text") << "\n";
      if (l.contains("unseen"))
        out << "  emoji unseen in training (" << l["unseen"].value("queries", 0) << "): text->image "
            << recalls(l["unseen"], "text_to_image") << ", image->text " << recalls(l["unseen"], "image_to_text") << "\n";
      if (l.contains("raw_pixels"))
        out << "  raw pixels (each label = its training images, best match): text->image " << recalls(l["raw_pixels"], "text_to_image")
            << ", image->text " << recalls(l["raw_pixels"], "image_to_text") << "\n";
    }
    return out.str();
  }
  if (m.contains("eval") && m["eval"].contains("test_top1")) {  // a supervised classifier (the judge)
    out << "test top-1 " << percent(m["eval"], "test_top1") << " on " << m["eval"].value("test_images", 0) << " images\n";
    return out.str();
  }
  if (m.contains("eval") && m["eval"].contains("test_top1_by_t")) {  // the noisy classifier
    out << "test top-1 at noise level t:";
    for (const auto& [t, acc] : m["eval"]["test_top1_by_t"].items()) out << "  t=" << t << " " << fixed(100 * acc.get<double>(), 2) << "%";
    return out.str() + "\n";
  }
  if (!m.contains("eval")) return out.str();
  // One table per label budget: all labels, then each of eval.few_labels.
  std::vector<std::pair<std::string, const nlohmann::json*>> rows{
      {m.value("name", "trained") + " (" + m.value("method", "") + ")", &m["eval"]}};  // name, its results
  const bool baselines = m.contains("baselines");
  if (baselines) {
    rows.emplace_back("random init", &m["baselines"]["random_init"]);
    rows.emplace_back("raw pixels", &m["baselines"]["raw_pixels"]);
  }
  int name_width = 28;  // wide enough for the longest run name, so a long one never runs into its numbers
  for (const auto& row : rows) name_width = std::max(name_width, static_cast<int>(row.first.size()) + 2);
  std::vector<std::string> ahead, behind;  // where the trained encoder beats both baselines, and where not
  const auto compare = [&](const std::string& what, const std::vector<const nlohmann::json*>& js, const char* key) {
    if (js.size() < 3 || !js[0]->contains(key) || !js[1]->contains(key) || !js[2]->contains(key)) return;
    const double trained = (*js[0])[key], best = std::max((*js[1])[key].get<double>(), (*js[2])[key].get<double>());
    (trained > best ? ahead : behind).push_back(what);
  };
  const auto table = [&](const std::string& title, const std::string& budget) {
    if (!title.empty()) out << title << "\n";
    const int last = budget.empty() ? 14 : 0;  // no fine-tune column with few labels: no padding either
    out << std::left << std::setw(name_width) << "features" << std::setw(12) << "kNN top-1" << std::setw(last) << "linear top-1"
        << (budget.empty() ? "fine-tune top-1" : "") << "\n";
    std::vector<const nlohmann::json*> js;
    for (const auto& [name, all] : rows) {
      if (!budget.empty() && !(all->contains("few_labels") && (*all)["few_labels"].contains(budget))) continue;
      const nlohmann::json& j = budget.empty() ? *all : (*all)["few_labels"][budget];
      js.push_back(&j);
      out << std::setw(name_width) << name << std::setw(12) << percent(j, "knn_top1") << std::setw(last)
          << percent(j, "linear_top1") << (budget.empty() ? percent(j, "finetune_top1") : "") << "\n";
    }
    const std::string suffix = budget.empty() ? "" : " (" + budget + " of the labels)";
    compare("kNN" + suffix, js, "knn_top1");
    compare("linear" + suffix, js, "linear_top1");
  };
  table("", "");
  if (m["eval"].contains("few_labels"))
    for (const auto& [budget, j] : m["eval"]["few_labels"].items())
      table("\nwith " + budget + " of the training labels (" + std::to_string(j.value("labelled_images", 0)) +
                " images; same test images):", budget);
  const auto join = [](const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
    return s;
  };
  if (baselines && !ahead.empty()) out << "\nahead of both baselines: " << join(ahead) << "\n";
  if (baselines && !behind.empty()) out << (ahead.empty() ? "\n" : "") << "not ahead of both baselines: " << join(behind) << "\n";
  return out.str();
}

}  // namespace selfsup::train
