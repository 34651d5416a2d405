// Line plots a person can open without Python: panels side by side, each with its own y range,
// one coloured line per series, tick labels in a built-in 3x5 pixel font (upper-case letters,
// digits, . - % = : and space; other characters are drawn as spaces).
#pragma once

#include <torch/torch.h>

#include <string>
#include <vector>

namespace selfsup::io {

struct Series {
  std::string label;
  std::vector<double> x, y;
};

struct Panel {
  std::string title;
  std::vector<Series> series;
};

// A 3 x H x W float image in [0, 1] for write_png.
torch::Tensor line_plot(const std::vector<Panel>& panels, const std::string& x_label);

// Draws `text` with its top-left corner at (x, y), each font pixel `scale` x `scale` (exposed for tests).
void draw_text(torch::Tensor& image, const std::string& text, int64_t x, int64_t y, int64_t scale,
               const std::vector<float>& rgb);

}  // namespace selfsup::io
