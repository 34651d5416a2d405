#include "selfsup/core/progress.h"

#include "selfsup/core/distributed.h"

#include <unistd.h>

#include <cstdio>
#include <iostream>

namespace selfsup {

Progress::Progress(std::string label, int64_t total, int64_t log_every)
    : label_(std::move(label)), total_(std::max<int64_t>(1, total)), log_every_(std::max<int64_t>(1, log_every)),
      tty_(is_terminal()), start_(std::chrono::steady_clock::now()), last_draw_(start_) {}

bool Progress::is_terminal() { return isatty(STDERR_FILENO) != 0; }

double Progress::elapsed_seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

std::string format_duration(double s) {
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%dh%02dm", static_cast<int>(s / 3600), static_cast<int>(s / 60) % 60);
  else if (s >= 60)
    std::snprintf(buf, sizeof buf, "%dm%02ds", static_cast<int>(s / 60), static_cast<int>(s) % 60);
  else
    std::snprintf(buf, sizeof buf, "%.1fs", s);
  return buf;
}

std::string Progress::line(int64_t done, const std::string& stats) const {
  const double elapsed = elapsed_seconds();
  const double eta = done > 0 ? elapsed * static_cast<double>(total_ - done) / static_cast<double>(done) : 0;
  std::string out = label_ + " " + std::to_string(done) + "/" + std::to_string(total_);
  if (tty_) {
    const int width = 24, filled = static_cast<int>(width * done / total_);
    out = label_ + " [" + std::string(filled, '#') + std::string(width - filled, '.') + "] " +
          std::to_string(done) + "/" + std::to_string(total_);
  }
  return out + " " + stats + " | " + format_duration(elapsed) + " < " + format_duration(eta);
}

void Progress::update(int64_t done, const std::string& stats) {
  if (!dist::is_main()) return;  // one process reports for all of them
  if (tty_) {
    const auto now = std::chrono::steady_clock::now();
    if (std::chrono::duration<double>(now - last_draw_).count() < 0.2 && done < total_) return;
    last_draw_ = now;
    std::cerr << "\r\033[K" << line(done, stats) << std::flush;
  } else if (done % log_every_ == 0 && done < total_) {  // the last line is finish()'s
    std::cout << line(done, stats) << std::endl;
  }
}

void Progress::finish(const std::string& stats) { finish(total_, stats); }

void Progress::finish(int64_t done, const std::string& stats) {
  if (!dist::is_main()) return;
  if (tty_)
    std::cerr << "\r\033[K" << line(done, stats) << std::endl;
  else
    std::cout << line(done, stats) << std::endl;
}

}  // namespace selfsup
