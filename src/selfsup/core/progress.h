// Progress reporting for long loops: a one-line bar redrawn in place on a terminal, plain lines
// every `log_every` steps otherwise (logs, CI).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace selfsup {

class Progress {
 public:
  Progress(std::string label, int64_t total, int64_t log_every = 50);
  // `done` steps finished; `stats` is appended (e.g. "loss 6.21 lr 0.06 412 img/s").
  void update(int64_t done, const std::string& stats);
  void finish(const std::string& stats);
  void finish(int64_t done, const std::string& stats);  // stopped early, after `done` steps
  double elapsed_seconds() const;

  static bool is_terminal();

 private:
  std::string line(int64_t done, const std::string& stats) const;
  std::string label_;
  int64_t total_, log_every_;
  bool tty_;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

// "1h02m", "3m05s", "12.3s".
std::string format_duration(double seconds);

}  // namespace selfsup
