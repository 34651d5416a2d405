#include "selfsup/diffusion/evaluate.h"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "selfsup/augment/pipeline.h"
#include "selfsup/core/error.h"
#include "selfsup/core/fs.h"
#include "selfsup/data/source.h"
#include "selfsup/eval/sample_metrics.h"
#include "selfsup/io/plot.h"
#include "selfsup/io/png.h"

namespace selfsup::diffusion {
namespace fs = std::filesystem;

namespace {

std::string number(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

// The first `per_class` indices of each class (class-major), from labels in dataset order.
torch::Tensor first_per_class(const torch::Tensor& labels, int64_t classes, int64_t per_class) {
  std::vector<torch::Tensor> parts;
  for (int64_t c = 0; c < classes; ++c) {
    const auto idx = (labels == c).nonzero().view(-1);
    if (idx.size(0) < per_class) throw Error("eval samples: class " + std::to_string(c) + " has only " +
                                             std::to_string(idx.size(0)) + " real images, fewer than --per-class");
    parts.push_back(idx.slice(0, 0, per_class));
  }
  return torch::cat(parts);
}

// Mean over classes of the mean pairwise distance within each class's block of `per_class` rows.
double within_class_distance(const torch::Tensor& features, int64_t classes, int64_t per_class) {
  double sum = 0;
  for (int64_t c = 0; c < classes; ++c) sum += eval::mean_pairwise_distance(features.slice(0, c * per_class, (c + 1) * per_class));
  return sum / static_cast<double>(classes);
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

std::string GuidanceSetting::name() const { return (kind == "cfg" ? "cfg_s" : "classifier_g") + number(scale); }

nlohmann::json SweepReport::to_json() const {
  nlohmann::json j;
  j["judge_test_accuracy"] = judge_test_accuracy;
  j["real_frechet"] = real_frechet;
  j["real_within_class"] = real_within_class;
  for (const auto& r : results)
    j["settings"].push_back({{"kind", r.setting.kind},
                             {"scale", r.setting.scale},
                             {"judge_accuracy", r.judge_accuracy},
                             {"frechet", r.frechet},
                             {"within_class", r.within_class},
                             {"class_accuracy", r.class_accuracy},
                             {"seconds", r.seconds},
                             {"images_per_second", r.images_per_second}});
  return j;
}

SweepReport guidance_sweep(Trained<DiffusionModel>& model, Trained<NoisyClassifier>* noisy, Trained<ImageClassifier>& judge,
                           const SweepOptions& o, torch::Device device) {
  const int64_t classes = model.model->num_classes, per_class = o.per_class;
  if (judge.test.num_classes() != classes)
    throw Error(judge.checkpoint + ": the judge knows " + std::to_string(judge.test.num_classes()) +
                " classes, the diffusion model " + std::to_string(classes));
  if (per_class < 2) throw Error("eval samples: --per-class must be at least 2");
  if (noisy) {
    const auto& a = model.model->schedule;
    const auto& b = noisy->model->schedule;
    if (a.steps != b.steps || !torch::allclose(a.alphas_cumprod, b.alphas_cumprod))
      throw Error(noisy->checkpoint + ": the noisy classifier was trained on another noise schedule than " +
                  model.checkpoint + " (diffusion.timesteps / schedule / betas must match)");
  }
  SweepReport report;
  const auto& real = model.test;
  std::cout << "judge features of " << real.size() << " real test images..." << std::endl;
  const auto real_features = judge_features(*judge.model, judge.recipe, real.images, device);
  report.judge_test_accuracy = judge_accuracy(*judge.model, judge.recipe, real.images, real.labels, device);
  const auto real_subset = first_per_class(real.labels, classes, per_class);
  report.real_within_class = within_class_distance(real_features.index_select(0, real_subset), classes, per_class);
  const auto train = data::load_dataset(model.recipe.data, /*train=*/true);
  const auto train_subset = first_per_class(train.labels, classes, per_class);
  report.real_frechet = eval::frechet_distance(
      judge_features(*judge.model, judge.recipe, train.images.index_select(0, train_subset), device), real_features);
  std::cout << "judge test accuracy " << std::fixed << std::setprecision(2) << 100 * report.judge_test_accuracy
            << "%; real images: Frechet distance " << report.real_frechet << " (" << classes * per_class
            << " training images vs the test set), within-class distance " << report.real_within_class << std::endl;

  const auto labels = torch::arange(classes).repeat_interleave(per_class);
  for (const auto& setting : o.settings) {
    SampleOptions s = o.sampling;
    if (setting.kind == "cfg") {
      s.guidance = setting.scale;
    } else if (setting.kind == "classifier") {
      if (!noisy) throw Error("eval samples: classifier guidance needs --classifier CHECKPOINT (a noisy_classifier run)");
      s.guidance = 0;
      s.classifier = noisy->model->classifier();
      s.classifier_scale = setting.scale;
    } else {
      throw Error("eval samples: unknown guidance kind '" + setting.kind + "'");
    }
    std::cout << "== " << setting.name() << std::endl;
    const auto start = std::chrono::steady_clock::now();
    SettingResult r;
    r.setting = setting;
    r.images = generate(*model.model, labels, s, o.batch_size, device);
    r.seconds = seconds_since(start);
    r.images_per_second = static_cast<double>(labels.size(0)) / r.seconds;
    const auto features = judge_features(*judge.model, judge.recipe, r.images, device);
    torch::NoGradGuard no_grad;
    const auto predicted = judge.model->logits(augment::prepare_eval(r.images, judge.recipe.augment.views[0], device)).argmax(1).cpu();
    const auto correct = predicted.eq(labels).to(torch::kDouble);
    r.judge_accuracy = correct.mean().item<double>();
    for (int64_t c = 0; c < classes; ++c)
      r.class_accuracy.push_back(correct.slice(0, c * per_class, (c + 1) * per_class).mean().item<double>());
    r.frechet = eval::frechet_distance(features, real_features);
    r.within_class = within_class_distance(features, classes, per_class);
    std::cout << setting.name() << ": judge accuracy " << std::setprecision(2) << 100 * r.judge_accuracy
              << "%, Frechet distance " << r.frechet << ", within-class distance " << r.within_class << " ("
              << std::setprecision(1) << r.images_per_second << " images/s)" << std::endl;
    report.results.push_back(std::move(r));
  }
  return report;
}

void write_sweep(const SweepReport& report, const std::string& dir, const std::vector<std::string>& class_names) {
  fs::create_directories(dir);
  const auto csv_path = fs::path(dir) / "samples.csv";
  atomic_write(csv_path.string(), [&](std::ostream& csv) {
    csv << "kind,scale,judge_accuracy,frechet_distance,within_class_distance,images_per_second,seconds";
    for (const auto& c : class_names) csv << ",acc_" << c;
    csv << "\n";
    for (const auto& r : report.results) {
      csv << r.setting.kind << "," << r.setting.scale << "," << r.judge_accuracy << "," << r.frechet << ","
          << r.within_class << "," << r.images_per_second << "," << r.seconds;
      for (double a : r.class_accuracy) csv << "," << a;
      csv << "\n";
    }
  });
  atomic_write((fs::path(dir) / "samples.json").string(), report.to_json().dump(2) + "\n");
  for (const auto& r : report.results) {
    const int64_t classes = static_cast<int64_t>(r.class_accuracy.size());
    const int64_t per_class = r.images.size(0) / classes, shown = std::min<int64_t>(10, per_class);
    std::vector<torch::Tensor> rows;
    for (int64_t c = 0; c < classes; ++c) rows.push_back(r.images.slice(0, c * per_class, c * per_class + shown));
    io::write_png((fs::path(dir) / ("grid_" + r.setting.name() + ".png")).string(), sample_grid(torch::cat(rows), shown));
  }
  // One panel per metric, one line per guidance kind.
  std::vector<io::Panel> panels{{"JUDGE ACCURACY %", {}}, {"FRECHET DISTANCE", {}}, {"WITHIN-CLASS DISTANCE", {}}};
  for (const std::string kind : {"cfg", "classifier"}) {
    io::Series acc{kind == "cfg" ? "CFG S" : "CLASSIFIER G", {}, {}, {}, {}}, fd = acc, wc = acc;
    for (const auto& r : report.results) {
      if (r.setting.kind != kind) continue;
      for (auto* s : {&acc, &fd, &wc}) s->x.push_back(r.setting.scale);
      acc.y.push_back(100 * r.judge_accuracy);
      fd.y.push_back(r.frechet);
      wc.y.push_back(r.within_class);
    }
    if (acc.x.empty()) continue;
    panels[0].series.push_back(acc);
    panels[1].series.push_back(fd);
    panels[2].series.push_back(wc);
  }
  io::write_png((fs::path(dir) / "tradeoff.png").string(), io::line_plot(panels, "GUIDANCE SCALE"));
}

}  // namespace selfsup::diffusion
