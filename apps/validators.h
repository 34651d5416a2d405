// Range checks for numeric command-line flags. CLI::Range lets NaN through (every comparison with
// NaN is false), so real numbers are checked for finiteness here too. A failure is a parse error:
// one line naming the flag, exit 2.
#pragma once

#include <CLI/CLI.hpp>

#include <cmath>
#include <sstream>
#include <string>

namespace selfsup::cli {

inline CLI::Validator finite_in(double lo, double hi) {
  std::ostringstream range;
  range << "[" << lo << ", " << hi << "]";
  return CLI::Validator(
      [lo, hi, r = range.str()](std::string& text) -> std::string {
        double v = 0;
        try {
          size_t used = 0;
          v = std::stod(text, &used);
          if (used != text.size()) return "expected a number in " + r + ", got '" + text + "'";
        } catch (const std::exception&) {
          return "expected a number in " + r + ", got '" + text + "'";
        }
        if (!std::isfinite(v) || v < lo || v > hi) return "expected a finite number in " + r + ", got " + text;
        return "";
      },
      "NUMBER in " + range.str());
}

inline CLI::Validator integer_in(int64_t lo, int64_t hi) {
  return CLI::Range(lo, hi);
}

}  // namespace selfsup::cli
