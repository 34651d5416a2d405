// Summary of the downstream experiment (bench/downstream.sh, docs/downstream.md): reads the
// fine-tuning run folders OUT/frac_F/MODEL/seed_S/{metrics.csv,metrics.json} that
// `selfsup eval finetune --out-dir` wrote and prints a Markdown table per label fraction — last and
// best test accuracy and the curve's roughness (mean absolute epoch-to-epoch change of test
// accuracy), mean ± std over seeds — and writes OUT/curves_frac_F.png: test accuracy and train
// loss per epoch, one line per model (the mean over seeds) in a min-max band.
//
//   selfsup_bench_downstream OUT
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "selfsup/core/error.h"
#include "selfsup/core/fs.h"
#include "selfsup/io/plot.h"
#include "selfsup/io/png.h"
#include "selfsup/io/report.h"

namespace fs = std::filesystem;

namespace {

struct Curve {
  std::vector<double> test_acc, train_loss;  // per epoch
};

std::vector<double> column(const selfsup::io::CsvTable& t, const std::string& name, const std::string& path) {
  const auto it = std::find(t.columns.begin(), t.columns.end(), name);
  if (it == t.columns.end()) throw selfsup::Error(path + ": no column " + name);
  std::vector<double> out;
  for (const auto& row : t.rows) {
    const auto& cell = row[static_cast<size_t>(it - t.columns.begin())];
    out.push_back(cell.empty() ? NAN : std::stod(cell));
  }
  return out;
}

std::pair<double, double> mean_std(const std::vector<double>& v) {
  double m = 0, s = 0;
  for (double x : v) m += x;
  m /= static_cast<double>(std::max<size_t>(1, v.size()));
  for (double x : v) s += (x - m) * (x - m);
  return {m, v.size() > 1 ? std::sqrt(s / static_cast<double>(v.size() - 1)) : 0.0};
}

std::string pm(const std::vector<double>& v, double scale) {
  const auto [m, s] = mean_std(v);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2f ± %.2f", scale * m, scale * s);
  return buf;
}

// The mean absolute change of test accuracy from one epoch to the next (percentage points).
double roughness(const std::vector<double>& acc) {
  double sum = 0;
  int64_t n = 0;
  for (size_t i = 1; i < acc.size(); ++i)
    if (std::isfinite(acc[i]) && std::isfinite(acc[i - 1])) sum += std::abs(acc[i] - acc[i - 1]), ++n;
  return n ? 100 * sum / static_cast<double>(n) : NAN;
}

selfsup::io::Series band(const std::string& label, const std::vector<Curve>& seeds, bool accuracy) {
  selfsup::io::Series s{label, {}, {}, {}, {}};
  size_t epochs = SIZE_MAX;
  for (const auto& c : seeds) epochs = std::min(epochs, c.test_acc.size());
  for (size_t e = 0; e < epochs; ++e) {
    std::vector<double> v;
    for (const auto& c : seeds) v.push_back(accuracy ? 100 * c.test_acc[e] : c.train_loss[e]);
    s.x.push_back(static_cast<double>(e + 1));
    s.y.push_back(mean_std(v).first);
    s.low.push_back(*std::min_element(v.begin(), v.end()));
    s.high.push_back(*std::max_element(v.begin(), v.end()));
  }
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: selfsup_bench_downstream OUT   (the folder bench/downstream.sh wrote)\n";
    return 2;
  }
  const std::string out = argv[1];
  try {
    // fraction -> model -> seeds
    std::map<std::string, std::map<std::string, std::vector<Curve>>> runs;
    std::map<std::string, std::map<std::string, std::vector<double>>> last, best, rough;
    for (const auto& frac : fs::directory_iterator(out)) {
      if (!frac.is_directory() || frac.path().filename().string().rfind("frac_", 0) != 0) continue;
      const auto f = frac.path().filename().string().substr(5);
      for (const auto& model : fs::directory_iterator(frac.path())) {
        if (!model.is_directory()) continue;
        const auto m = model.path().filename().string();
        for (const auto& seed : fs::directory_iterator(model.path())) {
          const auto csv_path = (seed.path() / "metrics.csv").string();
          if (!fs::exists(csv_path)) continue;
          const auto t = selfsup::io::parse_csv(selfsup::read_file(csv_path), csv_path);
          Curve c{column(t, "test_acc", csv_path), column(t, "train_loss", csv_path)};
          if (c.test_acc.empty()) continue;
          last[f][m].push_back(c.test_acc.back());
          best[f][m].push_back(*std::max_element(c.test_acc.begin(), c.test_acc.end()));
          rough[f][m].push_back(roughness(c.test_acc));
          runs[f][m].push_back(std::move(c));
        }
      }
    }
    if (runs.empty()) throw selfsup::Error(out + ": no frac_*/MODEL/seed_*/metrics.csv below this folder");
    for (const auto& [f, models] : runs) {
      std::cout << "\n**" << 100 * std::stod(f) << "% of the labels**\n\n"
                << "| model | seeds | last test accuracy (%) | best test accuracy (%) | roughness (points per epoch) |\n"
                << "|---|---|---|---|---|\n";
      selfsup::io::Panel acc{"TEST ACCURACY %", {}}, loss{"TRAIN LOSS", {}};
      for (const auto& [m, seeds] : models) {
        std::cout << "| " << m << " | " << seeds.size() << " | " << pm(last[f][m], 100) << " | " << pm(best[f][m], 100) << " | "
                  << pm(rough[f][m], 1) << " |\n";
        acc.series.push_back(band(m, seeds, true));
        loss.series.push_back(band(m, seeds, false));
      }
      const auto png = (fs::path(out) / ("curves_frac_" + f + ".png")).string();
      selfsup::io::write_png(png, selfsup::io::line_plot({acc, loss}, "EPOCH"));
      std::cout << "\n![curves](" << png << ")\n";
    }
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << std::endl;
    return 2;
  }
  return 0;
}
