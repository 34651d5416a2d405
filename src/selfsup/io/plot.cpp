#include "selfsup/io/plot.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>

namespace selfsup::io {

namespace {

// 3 x 5 glyphs, rows top to bottom.
const std::map<char, const char*>& font() {
  static const std::map<char, const char*> glyphs{
      {'A', ".#.#.#####.##.#"}, {'B', "##.#.###.#.###."}, {'C', ".###..#..#...##"}, {'D', "##.#.##.##.###."},
      {'E', "####..##.#..###"}, {'F', "####..##.#..#.."}, {'G', ".###..#.##.#.##"}, {'H', "#.##.#####.##.#"},
      {'I', "###.#..#..#.###"}, {'J', "..#..#..##.#.#."}, {'K', "#.##.###.#.##.#"}, {'L', "#..#..#..#..###"},
      {'M', "#.########.##.#"}, {'N', "##.#.##.##.##.#"}, {'O', ".#.#.##.##.#.#."}, {'P', "##.#.###.#..#.."},
      {'Q', ".#.#.##.###..##"}, {'R', "##.#.###.#.##.#"}, {'S', ".###...#...###."}, {'T', "###.#..#..#..#."},
      {'U', "#.##.##.##.####"}, {'V', "#.##.##.##.#.#."}, {'W', "#.##.########.#"}, {'X', "#.##.#.#.#.##.#"},
      {'Y', "#.##.#.#..#..#."}, {'Z', "###..#.#.#..###"}, {'0', "####.##.##.####"}, {'1', ".#.##..#..#.###"},
      {'2', "##...#.#.#..###"}, {'3', "##...#.#...###."}, {'4', "#.##.####..#..#"}, {'5', "####..##...###."},
      {'6', ".###..####.####"}, {'7', "###..#.#..#..#."}, {'8', "####.#####.####"}, {'9', "####.####..###."},
      {'.', ".............#."}, {'-', "......###......"}, {'%', "#.#..#.#.#..#.#"}, {'=', "...###...###..."},
      {':', "....#.....#...."}};
  return glyphs;
}

void put(torch::TensorAccessor<float, 3>& a, int64_t x, int64_t y, const std::vector<float>& rgb) {
  if (y < 0 || x < 0 || y >= a.size(1) || x >= a.size(2)) return;
  for (int64_t c = 0; c < 3; ++c) a[c][y][x] = rgb[c];
}

void line(torch::Tensor& image, double x0, double y0, double x1, double y1, const std::vector<float>& rgb, int64_t width) {
  auto a = image.accessor<float, 3>();
  const int64_t n = static_cast<int64_t>(std::ceil(std::max(std::abs(x1 - x0), std::abs(y1 - y0)))) + 1;
  for (int64_t i = 0; i <= n; ++i) {
    const double f = static_cast<double>(i) / static_cast<double>(n);
    const int64_t x = std::llround(x0 + f * (x1 - x0)), y = std::llround(y0 + f * (y1 - y0));
    for (int64_t dy = 0; dy < width; ++dy)
      for (int64_t dx = 0; dx < width; ++dx) put(a, x + dx - width / 2, y + dy - width / 2, rgb);
  }
}

std::string tick(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", v);
  return buf;
}

const std::vector<std::vector<float>> kColours{{0.12f, 0.47f, 0.71f}, {1.0f, 0.5f, 0.05f}, {0.17f, 0.63f, 0.17f}};
const std::vector<float> kBlack{0, 0, 0}, kGrey{0.85f, 0.85f, 0.85f};

}  // namespace

void draw_text(torch::Tensor& image, const std::string& text, int64_t x, int64_t y, int64_t scale,
               const std::vector<float>& rgb) {
  auto a = image.accessor<float, 3>();
  for (size_t i = 0; i < text.size(); ++i) {
    const auto g = font().find(static_cast<char>(std::toupper(static_cast<unsigned char>(text[i]))));
    if (g == font().end()) continue;
    const std::string bits = g->second;
    for (int64_t row = 0; row < 5; ++row)
      for (int64_t col = 0; col < 3; ++col) {
        const size_t k = static_cast<size_t>(row * 3 + col);
        if (k >= bits.size() || bits[k] != '#') continue;
        for (int64_t dy = 0; dy < scale; ++dy)
          for (int64_t dx = 0; dx < scale; ++dx)
            put(a, x + static_cast<int64_t>(i) * 4 * scale + col * scale + dx, y + row * scale + dy, rgb);
      }
  }
}

torch::Tensor line_plot(const std::vector<Panel>& panels, const std::string& x_label) {
  const int64_t pw = 380, ph = 300, left = 70, right = 20, top = 60, bottom = 50;
  auto image = torch::ones({3, ph, pw * std::max<int64_t>(1, static_cast<int64_t>(panels.size()))});
  for (size_t p = 0; p < panels.size(); ++p) {
    const auto& panel = panels[p];
    const int64_t ox = static_cast<int64_t>(p) * pw;
    draw_text(image, panel.title, ox + 10, 8, 2, kBlack);
    double ymin = INFINITY, ymax = -INFINITY;
    std::set<double> xs;
    for (const auto& s : panel.series) {
      for (double v : s.y) ymin = std::min(ymin, v), ymax = std::max(ymax, v);
      xs.insert(s.x.begin(), s.x.end());
    }
    if (xs.empty()) continue;
    if (ymax - ymin < 1e-9) ymin -= 1, ymax += 1;
    const double pad = 0.08 * (ymax - ymin);
    ymin -= pad, ymax += pad;
    const double xmin = *xs.begin(), xmax = xs.size() > 1 ? *xs.rbegin() : xmin + 1;
    const double x0 = ox + left, x1 = ox + pw - right, y0 = ph - bottom, y1 = top;
    auto px = [&](double x) { return x0 + (x - xmin) / (xmax - xmin) * (x1 - x0); };
    auto py = [&](double y) { return y0 + (y - ymin) / (ymax - ymin) * (y1 - y0); };
    for (int k = 0; k <= 4; ++k) {  // horizontal grid lines with their values
      const double v = ymin + (ymax - ymin) * k / 4.0;
      line(image, x0, py(v), x1, py(v), kGrey, 1);
      draw_text(image, tick(v), ox + 4, std::llround(py(v)) - 5, 2, kBlack);
    }
    for (double x : xs) draw_text(image, tick(x), std::llround(px(x)) - 4, static_cast<int64_t>(y0) + 8, 2, kBlack);
    draw_text(image, x_label, static_cast<int64_t>(x0), ph - 18, 2, kBlack);
    line(image, x0, y0, x1, y0, kBlack, 1);
    line(image, x0, y0, x0, y1, kBlack, 1);
    for (size_t s = 0; s < panel.series.size(); ++s) {
      const auto& series = panel.series[s];
      const auto& colour = kColours[s % kColours.size()];
      draw_text(image, series.label, ox + 10 + static_cast<int64_t>(s) * 170, 32, 2, colour);
      for (size_t i = 0; i < series.x.size(); ++i) {
        if (i > 0) line(image, px(series.x[i - 1]), py(series.y[i - 1]), px(series.x[i]), py(series.y[i]), colour, 2);
        line(image, px(series.x[i]), py(series.y[i]), px(series.x[i]), py(series.y[i]), colour, 6);
      }
    }
  }
  return image;
}

}  // namespace selfsup::io
