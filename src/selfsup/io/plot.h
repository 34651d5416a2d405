// Line plots a person can open without Python, from one description (panels of series) drawn two
// ways: as a PNG image (panels side by side, each with its own y range, one coloured line per
// series, tick labels in a built-in 3x5 pixel font: upper-case letters, digits, . - % = : and space)
// or as an SVG element for HTML pages (real text, sharp at any zoom: `selfsup report`).
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

namespace selfsup::io {

struct Series {
  std::string label;
  std::vector<double> x, y;
  std::vector<double> low, high;  // optional: a shaded band around the line (e.g. min-max over seeds)
};

struct Panel {
  std::string title;
  std::vector<Series> series;
};

// A 3 x H x W float image in [0, 1] for write_png.
torch::Tensor line_plot(const std::vector<Panel>& panels, const std::string& x_label);

// One panel as an inline <svg> element of `width` x `height` CSS pixels: grid lines and tick values,
// a legend when there are several series, a <title> per series (shown on hover). Points whose y is
// not finite are left out (the line breaks there).
std::string svg_line_plot(const Panel& panel, const std::string& x_label, int width = 440, int height = 260);

// `text` with <, >, & and " replaced by entities, for SVG and HTML.
std::string xml_escape(const std::string& text);

// Draws `text` with its top-left corner at (x, y), each font pixel `scale` x `scale` (exposed for tests).
void draw_text(torch::Tensor& image, const std::string& text, int64_t x, int64_t y, int64_t scale,
               const std::vector<float>& rgb);

}  // namespace selfsup::io
