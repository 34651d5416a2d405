// `selfsup report`: one self-contained HTML page (no network: styles inline, plots as inline SVG,
// pictures as data: URLs) showing what training runs wrote — the resolved recipe, the metrics per
// epoch as curves and as a table, the evaluation beside its baselines, and the pictures the run
// made. Several runs make one comparison page with overlaid curves.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace selfsup::io {

// metrics.csv as text cells, in file order.
struct CsvTable {
  std::vector<std::string> columns;
  std::vector<std::vector<std::string>> rows;
};

struct RunRecord {
  std::string dir, name;             // name: the folder's name
  std::string recipe_yaml;           // recipe.yaml, "" when absent
  nlohmann::json metrics;            // metrics.json, null when absent
  CsvTable table;                    // metrics.csv, empty when absent
  std::vector<std::string> pictures; // PNG files of the run folder and its subfolders, sorted
};

// Reads a run folder. Throws selfsup::Error naming the folder or file when it is missing,
// unreadable, holds none of recipe.yaml / metrics.json / metrics.csv, or a file is malformed.
RunRecord read_run(const std::string& dir);

// Parses metrics.csv text; `path` names it in errors (a row with the wrong number of cells).
CsvTable parse_csv(const std::string& text, const std::string& path);

// The report page for one run or a comparison of several.
std::string render_report(const std::vector<RunRecord>& runs);

}  // namespace selfsup::io
