#include "selfsup/io/report.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>

#include "selfsup/core/error.h"
#include "selfsup/core/fs.h"
#include "selfsup/io/plot.h"

namespace selfsup::io {
namespace fs = std::filesystem;

namespace {

constexpr uintmax_t kMaxPictureBytes = 8u << 20;  // larger PNGs are listed, not inlined
constexpr size_t kMaxPictures = 60;

std::string base64(const std::string& bytes) {
  static const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (size_t i = 0; i < bytes.size(); i += 3) {
    uint32_t v = static_cast<uint32_t>(static_cast<unsigned char>(bytes[i])) << 16;
    if (i + 1 < bytes.size()) v |= static_cast<uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8;
    if (i + 2 < bytes.size()) v |= static_cast<uint32_t>(static_cast<unsigned char>(bytes[i + 2]));
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    out += i + 1 < bytes.size() ? alphabet[(v >> 6) & 63] : '=';
    out += i + 2 < bytes.size() ? alphabet[v & 63] : '=';
  }
  return out;
}

// A cell as a number; NaN when empty or not a number.
double number(const std::string& cell) {
  if (cell.empty()) return NAN;
  char* end = nullptr;
  const double v = std::strtod(cell.c_str(), &end);
  return end == cell.c_str() + cell.size() ? v : NAN;
}

std::string format(double v) {
  if (!std::isfinite(v)) return "";
  char buf[32];
  if (v == std::round(v) && std::abs(v) < 1e15) std::snprintf(buf, sizeof buf, "%.0f", v);
  else if (std::abs(v) >= 1e5 || (std::abs(v) < 1e-3 && v != 0)) std::snprintf(buf, sizeof buf, "%.3g", v);
  else std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

// Nested JSON objects as dotted keys: {"retrieval": {"text_to_image": {"r1": 0.3}}} -> retrieval.text_to_image.r1.
void flatten(const nlohmann::json& j, const std::string& prefix, std::map<std::string, std::string>& out) {
  if (j.is_object()) {
    for (const auto& [key, value] : j.items()) flatten(value, prefix.empty() ? key : prefix + "." + key, out);
  } else if (j.is_number()) {
    out[prefix] = format(j.get<double>());
  } else if (j.is_string() || j.is_boolean()) {
    out[prefix] = j.is_string() ? j.get<std::string>() : (j.get<bool>() ? "true" : "false");
  }
}

// The columns worth a curve: numeric somewhere, and not the x axis.
std::vector<std::string> curve_columns(const CsvTable& t) {
  std::vector<std::string> out;
  for (size_t c = 0; c < t.columns.size(); ++c) {
    if (t.columns[c] == "epoch" || t.columns[c] == "step") continue;
    for (const auto& row : t.rows)
      if (std::isfinite(number(row[c]))) {
        out.push_back(t.columns[c]);
        break;
      }
  }
  return out;
}

Series series_of(const RunRecord& run, const std::string& column, const std::string& label) {
  Series s{label, {}, {}, {}, {}};
  const auto& t = run.table;
  const auto col = std::find(t.columns.begin(), t.columns.end(), column) - t.columns.begin();
  const auto x_col = std::find(t.columns.begin(), t.columns.end(), "epoch") - t.columns.begin();
  if (static_cast<size_t>(col) >= t.columns.size()) return s;
  for (size_t r = 0; r < t.rows.size(); ++r) {
    s.x.push_back(static_cast<size_t>(x_col) < t.columns.size() ? number(t.rows[r][static_cast<size_t>(x_col)])
                                                                : static_cast<double>(r + 1));
    s.y.push_back(number(t.rows[r][static_cast<size_t>(col)]));
  }
  return s;
}

// Evaluation rows (dotted keys) beside the baselines: one column per run (and per baseline).
std::string evaluation_table(const std::vector<std::pair<std::string, std::map<std::string, std::string>>>& columns) {
  std::set<std::string> keys;
  for (const auto& [name, values] : columns)
    for (const auto& [key, value] : values) keys.insert(key);
  if (keys.empty()) return "<p class=\"none\">no evaluation in metrics.json</p>";
  std::string out = "<table class=\"eval\"><tr><th>metric</th>";
  for (const auto& [name, values] : columns) out += "<th>" + xml_escape(name) + "</th>";
  out += "</tr>";
  for (const auto& key : keys) {
    out += "<tr><td>" + xml_escape(key) + "</td>";
    for (const auto& [name, values] : columns) {
      const auto it = values.find(key);
      out += "<td>" + (it == values.end() ? std::string() : xml_escape(it->second)) + "</td>";
    }
    out += "</tr>";
  }
  return out + "</table>";
}

std::vector<std::pair<std::string, std::map<std::string, std::string>>> evaluation_columns(const RunRecord& run,
                                                                                           const std::string& label) {
  std::vector<std::pair<std::string, std::map<std::string, std::string>>> columns;
  std::map<std::string, std::string> values;
  if (run.metrics.is_object() && run.metrics.contains("eval")) flatten(run.metrics["eval"], "", values);
  values.erase("seconds");
  columns.emplace_back(label, values);
  if (run.metrics.is_object() && run.metrics.contains("baselines") && run.metrics["baselines"].is_object())
    for (const auto& [name, baseline] : run.metrics["baselines"].items()) {
      std::map<std::string, std::string> b;
      flatten(baseline, "", b);
      b.erase("seconds");
      columns.emplace_back("baseline: " + name, b);
    }
  return columns;
}

std::string summary_line(const RunRecord& run) {
  const auto& m = run.metrics;
  if (!m.is_object()) return "";
  std::vector<std::string> parts;
  for (const char* key : {"method", "backbone"})
    if (m.contains(key) && m[key].is_string()) parts.push_back(m[key].get<std::string>());
  if (m.contains("epochs_done") && m.contains("epochs"))
    parts.push_back(m["epochs_done"].dump() + " of " + m["epochs"].dump() + " epochs");
  if (m.contains("images_per_second") && m["images_per_second"].is_number())
    parts.push_back(format(m["images_per_second"].get<double>()) + " images/s");
  if (m.contains("runtime") && m["runtime"].is_string()) parts.push_back(m["runtime"].get<std::string>());
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : " · ") + xml_escape(p);
  return out;
}

std::string curves(const std::vector<const RunRecord*>& runs) {
  std::vector<std::string> columns;
  for (const auto* run : runs)
    for (const auto& c : curve_columns(run->table))
      if (std::find(columns.begin(), columns.end(), c) == columns.end()) columns.push_back(c);
  if (columns.empty()) return "<p class=\"none\">no per-epoch metrics (metrics.csv)</p>";
  std::string out = "<div class=\"plots\">";
  for (const auto& column : columns) {
    Panel panel{column, {}};
    for (const auto* run : runs) panel.series.push_back(series_of(*run, column, run->name));
    out += svg_line_plot(panel, "epoch");
  }
  return out + "</div>";
}

std::string csv_table(const CsvTable& t) {
  std::string out = "<div class=\"scroll\"><table class=\"csv\"><tr>";
  for (const auto& c : t.columns) out += "<th>" + xml_escape(c) + "</th>";
  out += "</tr>";
  for (const auto& row : t.rows) {
    out += "<tr>";
    for (const auto& cell : row) {
      const double v = number(cell);
      out += "<td>" + xml_escape(std::isfinite(v) ? format(v) : cell) + "</td>";
    }
    out += "</tr>";
  }
  return out + "</table></div>";
}

std::string pictures(const RunRecord& run) {
  if (run.pictures.empty()) return "";
  std::string out = "<h3>Pictures</h3><div class=\"pictures\">";
  for (size_t i = 0; i < run.pictures.size(); ++i) {
    const auto& path = run.pictures[i];
    const auto shown = fs::relative(path, run.dir).string();
    if (i >= kMaxPictures || fs::file_size(path) > kMaxPictureBytes) {
      out += "<p class=\"none\">" + xml_escape(shown) + " (not inlined: too large or too many)</p>";
      continue;
    }
    out += "<figure><img alt=\"" + xml_escape(shown) + "\" src=\"data:image/png;base64," +
           base64(read_file(path, "picture")) + "\"><figcaption>" + xml_escape(shown) + "</figcaption></figure>";
  }
  return out + "</div>";
}

const char* kStyle = R"CSS(
body { font-family: system-ui, sans-serif; margin: 1.5em auto; max-width: 1400px; padding: 0 1em; color: #222; }
h1 { font-size: 1.5em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: .2em; margin-top: 2em; }
.meta, .none { color: #666; }
.plots { display: flex; flex-wrap: wrap; gap: 12px; }
.plot { background: #fff; border: 1px solid #e4e4e4; border-radius: 4px; }
table { border-collapse: collapse; font-size: .9em; }
td, th { border: 1px solid #ddd; padding: 3px 8px; text-align: right; }
td:first-child, th:first-child { text-align: left; }
th { background: #f4f4f4; }
.scroll { overflow-x: auto; max-height: 420px; overflow-y: auto; }
.pictures { display: flex; flex-wrap: wrap; gap: 16px; }
figure { margin: 0; } figure img { max-width: 640px; image-rendering: pixelated; border: 1px solid #ddd; }
figcaption { font-size: .85em; color: #555; }
pre { background: #f6f6f6; padding: .8em; overflow-x: auto; font-size: .85em; }
)CSS";

}  // namespace

CsvTable parse_csv(const std::string& text, const std::string& path) {
  CsvTable t;
  std::istringstream in(text);
  std::string line;
  auto cells = [](const std::string& l) {
    std::vector<std::string> out;
    std::string cell;
    std::istringstream s(l);
    while (std::getline(s, cell, ',')) out.push_back(cell);
    if (!l.empty() && l.back() == ',') out.emplace_back();
    return out;
  };
  size_t number_of_line = 0;
  while (std::getline(in, line)) {
    ++number_of_line;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    if (t.columns.empty()) {
      t.columns = cells(line);
      continue;
    }
    auto row = cells(line);
    if (row.size() != t.columns.size())
      throw Error(path + ":" + std::to_string(number_of_line) + ": " + std::to_string(row.size()) + " cells, the header has " +
                  std::to_string(t.columns.size()));
    t.rows.push_back(std::move(row));
  }
  return t;
}

RunRecord read_run(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw Error(dir + ": no such run folder");
  RunRecord run;
  run.dir = dir;
  run.name = fs::path(dir).lexically_normal().filename().string();
  if (run.name.empty() || run.name == ".") run.name = fs::absolute(dir).lexically_normal().parent_path().filename().string();
  const auto file = [&](const char* name) { return (fs::path(dir) / name).string(); };
  bool any = false;
  if (fs::exists(file("recipe.yaml"))) run.recipe_yaml = read_file(file("recipe.yaml"), "recipe"), any = true;
  if (fs::exists(file("metrics.json"))) {
    try {
      run.metrics = nlohmann::json::parse(read_file(file("metrics.json"), "metrics"));
    } catch (const nlohmann::json::exception& e) {
      throw Error(file("metrics.json") + ": not valid JSON (" + e.what() + ")");
    }
    any = true;
  }
  if (fs::exists(file("metrics.csv"))) run.table = parse_csv(read_file(file("metrics.csv"), "metrics"), file("metrics.csv")), any = true;
  if (!any) throw Error(dir + ": not a run folder (no recipe.yaml, metrics.json or metrics.csv)");
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it.depth() > 2) it.disable_recursion_pending();
    if (it->is_regular_file(ec) && it->path().extension() == ".png") run.pictures.push_back(it->path().string());
  }
  std::sort(run.pictures.begin(), run.pictures.end());
  return run;
}

std::string render_report(const std::vector<RunRecord>& runs) {
  const auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  char date[32];
  std::strftime(date, sizeof date, "%Y-%m-%d %H:%M", std::localtime(&now));
  std::string title = runs.size() == 1 ? runs[0].name : std::to_string(runs.size()) + " runs";
  std::string out = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>selfsup report: " +
                    xml_escape(title) + "</title><style>" + kStyle + "</style></head><body>\n";
  out += "<h1>selfsup report: " + xml_escape(title) + "</h1><p class=\"meta\">made " + date + " from ";
  for (size_t i = 0; i < runs.size(); ++i) out += (i ? ", " : "") + std::string("<code>") + xml_escape(runs[i].dir) + "</code>";
  out += "</p>\n";
  if (runs.size() > 1) {
    std::vector<const RunRecord*> all;
    std::vector<std::pair<std::string, std::map<std::string, std::string>>> columns;
    for (const auto& run : runs) {
      all.push_back(&run);
      auto mine = evaluation_columns(run, run.name);
      columns.push_back(mine.front());
      for (size_t b = 1; b < mine.size(); ++b)  // one column per baseline, the first run's
        if (std::none_of(columns.begin(), columns.end(), [&](const auto& c) { return c.first == mine[b].first; }))
          columns.push_back(mine[b]);
    }
    out += "<section id=\"comparison\"><h2>Comparison</h2><h3>Evaluation</h3>" + evaluation_table(columns) +
           "<h3>Training curves</h3>" + curves(all) + "</section>\n";
  }
  for (size_t i = 0; i < runs.size(); ++i) {
    const auto& run = runs[i];
    out += "<section class=\"run\" id=\"run" + std::to_string(i) + "\"><h2>" + xml_escape(run.name) + "</h2>";
    out += "<p class=\"meta\">" + summary_line(run) + "</p>";
    out += "<h3>Evaluation</h3>" + evaluation_table(evaluation_columns(run, run.name));
    out += "<h3>Training curves</h3>" + curves({&run});
    out += pictures(run);
    if (!run.table.columns.empty())
      out += "<details><summary>metrics.csv (" + std::to_string(run.table.rows.size()) + " rows)</summary>" + csv_table(run.table) +
             "</details>";
    if (!run.recipe_yaml.empty())
      out += "<details><summary>recipe.yaml (resolved)</summary><pre>" + xml_escape(run.recipe_yaml) + "</pre></details>";
    out += "</section>\n";
  }
  return out + "</body></html>\n";
}

}  // namespace selfsup::io
