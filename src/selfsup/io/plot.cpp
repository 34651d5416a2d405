#include "selfsup/io/plot.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>
#include <vector>

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

// Lightens the pixels between the band's lower and upper edge (linear between two x positions)
// towards `rgb`: a quarter of the colour over what is drawn already.
void shade(torch::Tensor& image, double x0, double x1, double low0, double low1, double high0, double high1,
           const std::vector<float>& rgb) {
  auto a = image.accessor<float, 3>();
  for (int64_t x = std::llround(x0); x <= std::llround(x1); ++x) {
    const double f = x1 > x0 ? (static_cast<double>(x) - x0) / (x1 - x0) : 0;
    const double top = high0 + f * (high1 - high0), bottom = low0 + f * (low1 - low0);
    for (int64_t y = std::llround(std::min(top, bottom)); y <= std::llround(std::max(top, bottom)); ++y) {
      if (y < 0 || x < 0 || y >= a.size(1) || x >= a.size(2)) continue;
      for (int64_t c = 0; c < 3; ++c) a[c][y][x] = 0.75f * a[c][y][x] + 0.25f * rgb[c];
    }
  }
}

std::string tick(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", v);
  return buf;
}

// Round tick values (1, 2, 2.5 or 5 times a power of ten apart) covering [lo, hi], about `count`.
std::vector<double> nice_ticks(double lo, double hi, int count) {
  const double raw = (hi - lo) / count, power = std::pow(10.0, std::floor(std::log10(raw)));
  double step = power;
  for (const double m : {1.0, 2.0, 2.5, 5.0, 10.0})
    if (m * power >= raw) {
      step = m * power;
      break;
    }
  std::vector<double> ticks;
  for (double v = std::ceil(lo / step - 1e-9) * step; v <= hi + 1e-9 * step; v += step) ticks.push_back(std::abs(v) < 1e-12 * step ? 0 : v);
  return ticks;
}

const std::vector<std::vector<float>> kColours{{0.12f, 0.47f, 0.71f}, {1.0f, 0.5f, 0.05f}, {0.17f, 0.63f, 0.17f},
                                               {0.84f, 0.15f, 0.16f}, {0.58f, 0.40f, 0.74f}, {0.55f, 0.34f, 0.29f}};
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
      for (double v : s.low) ymin = std::min(ymin, v);
      for (double v : s.high) ymax = std::max(ymax, v);
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
    for (const double v : nice_ticks(ymin, ymax, 4)) {  // horizontal grid lines with their values
      line(image, x0, py(v), x1, py(v), kGrey, 1);
      draw_text(image, tick(v), ox + 4, std::llround(py(v)) - 5, 2, kBlack);
    }
    // Every x value when there are few (a guidance sweep); round values along a long axis (epochs).
    const auto x_ticks = xs.size() <= 10 ? std::vector<double>(xs.begin(), xs.end()) : nice_ticks(xmin, xmax, 5);
    for (const double x : x_ticks) draw_text(image, tick(x), std::llround(px(x)) - 4, static_cast<int64_t>(y0) + 8, 2, kBlack);
    draw_text(image, x_label, static_cast<int64_t>(x0), ph - 18, 2, kBlack);
    line(image, x0, y0, x1, y0, kBlack, 1);
    line(image, x0, y0, x0, y1, kBlack, 1);
    for (size_t s = 0; s < panel.series.size(); ++s) {
      const auto& series = panel.series[s];
      const auto& colour = kColours[s % kColours.size()];
      draw_text(image, series.label, ox + 10 + static_cast<int64_t>(s % 2) * 180, 32 + static_cast<int64_t>(s / 2) * 14, 2, colour);
      if (series.low.size() == series.x.size() && series.high.size() == series.x.size())
        for (size_t i = 1; i < series.x.size(); ++i) shade(image, px(series.x[i - 1]), px(series.x[i]), py(series.low[i - 1]),
                                                           py(series.low[i]), py(series.high[i - 1]), py(series.high[i]), colour);
      for (size_t i = 0; i < series.x.size(); ++i) {
        if (i > 0) line(image, px(series.x[i - 1]), py(series.y[i - 1]), px(series.x[i]), py(series.y[i]), colour, 2);
        line(image, px(series.x[i]), py(series.y[i]), px(series.x[i]), py(series.y[i]), colour, 6);
      }
    }
  }
  return image;
}

std::string xml_escape(const std::string& text) {
  std::string out;
  for (const char c : text) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

namespace {

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}


// Tab10, the palette most plotting tools start from.
const char* const kSvgColours[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                   "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

}  // namespace

std::string svg_line_plot(const Panel& panel, const std::string& x_label, int width, int height) {
  const bool legend = panel.series.size() > 1;
  const double left = 58, right = 14, top = legend ? 44 + 16.0 * static_cast<double>((panel.series.size() - 1) / 3) : 30,
               bottom = 40;
  double ymin = INFINITY, ymax = -INFINITY, xmin = INFINITY, xmax = -INFINITY;
  for (const auto& s : panel.series)
    for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i)
      if (std::isfinite(s.y[i]) && std::isfinite(s.x[i])) {
        ymin = std::min(ymin, s.y[i]), ymax = std::max(ymax, s.y[i]), xmin = std::min(xmin, s.x[i]), xmax = std::max(xmax, s.x[i]);
        if (i < s.low.size()) ymin = std::min(ymin, s.low[i]);
        if (i < s.high.size()) ymax = std::max(ymax, s.high[i]);
      }
  std::string out = "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"plot\" width=\"" + std::to_string(width) + "\" height=\"" +
                    std::to_string(height) + "\" viewBox=\"0 0 " + std::to_string(width) + " " + std::to_string(height) +
                    "\" font-family=\"sans-serif\" font-size=\"11\">";
  out += "<text x=\"" + num(left) + "\" y=\"16\" font-size=\"13\" font-weight=\"bold\">" + xml_escape(panel.title) + "</text>";
  if (!std::isfinite(ymin)) return out + "<text x=\"" + num(left) + "\" y=\"60\" fill=\"#888\">no values</text></svg>";
  if (ymax - ymin < 1e-12) ymin -= 0.5 * std::max(1e-3, std::abs(ymin)), ymax += 0.5 * std::max(1e-3, std::abs(ymax));
  const double pad = 0.05 * (ymax - ymin);
  ymin -= pad, ymax += pad;
  if (xmax <= xmin) xmin -= 0.5, xmax += 0.5;
  const double x0 = left, x1 = width - right, y0 = height - bottom, y1 = top;
  auto px = [&](double x) { return x0 + (x - xmin) / (xmax - xmin) * (x1 - x0); };
  auto py = [&](double y) { return y0 + (y - ymin) / (ymax - ymin) * (y1 - y0); };
  for (const double v : nice_ticks(ymin, ymax, 4)) {
    const double y = py(v);
    out += "<line x1=\"" + num(x0) + "\" y1=\"" + num(y) + "\" x2=\"" + num(x1) + "\" y2=\"" + num(y) + "\" stroke=\"#ddd\"/>";
    out += "<text x=\"" + num(x0 - 6) + "\" y=\"" + num(y + 4) + "\" text-anchor=\"end\">" + tick(v) + "</text>";
  }
  for (const double v : nice_ticks(xmin, xmax, 5))
    out += "<text x=\"" + num(px(v)) + "\" y=\"" + num(y0 + 15) + "\" text-anchor=\"middle\">" + tick(v) + "</text>";
  out += "<path d=\"M" + num(x0) + " " + num(y1) + "V" + num(y0) + "H" + num(x1) + "\" fill=\"none\" stroke=\"#333\"/>";
  out += "<text x=\"" + num((x0 + x1) / 2) + "\" y=\"" + num(height - 6.0) + "\" text-anchor=\"middle\">" + xml_escape(x_label) + "</text>";
  for (size_t s = 0; s < panel.series.size(); ++s) {
    const auto& series = panel.series[s];
    const std::string colour = kSvgColours[s % (sizeof kSvgColours / sizeof *kSvgColours)];
    std::string d;
    size_t points = 0;
    bool pen_down = false;
    for (size_t i = 0; i < series.x.size() && i < series.y.size(); ++i) {
      if (!std::isfinite(series.y[i]) || !std::isfinite(series.x[i])) {
        pen_down = false;
        continue;
      }
      d += (pen_down ? "L" : "M") + num(px(series.x[i])) + " " + num(py(series.y[i]));
      pen_down = true;
      ++points;
    }
    out += "<g class=\"series\"><title>" + xml_escape(series.label) + "</title>";
    if (series.low.size() == series.x.size() && series.high.size() == series.x.size() && !series.x.empty()) {
      std::string band;
      for (size_t i = 0; i < series.x.size(); ++i) band += (i ? "L" : "M") + num(px(series.x[i])) + " " + num(py(series.high[i]));
      for (size_t i = series.x.size(); i-- > 0;) band += "L" + num(px(series.x[i])) + " " + num(py(series.low[i]));
      out += "<path d=\"" + band + "Z\" fill=\"" + colour + "\" fill-opacity=\"0.2\" stroke=\"none\"/>";
    }
    out += "<path d=\"" + d + "\" fill=\"none\" stroke=\"" + colour + "\" stroke-width=\"2\"/>";
    if (points <= 40)  // markers while they stay readable
      for (size_t i = 0; i < series.x.size() && i < series.y.size(); ++i)
        if (std::isfinite(series.y[i]) && std::isfinite(series.x[i]))
          out += "<circle cx=\"" + num(px(series.x[i])) + "\" cy=\"" + num(py(series.y[i])) + "\" r=\"2.5\" fill=\"" + colour + "\"/>";
    out += "</g>";
    if (legend) {
      const double lx = left + 130.0 * static_cast<double>(s % 3), ly = 32 + 16.0 * static_cast<double>(s / 3);
      out += "<rect x=\"" + num(lx) + "\" y=\"" + num(ly - 8) + "\" width=\"12\" height=\"3\" fill=\"" + colour + "\"/>";
      out += "<text x=\"" + num(lx + 16) + "\" y=\"" + num(ly - 3) + "\">" + xml_escape(series.label.substr(0, 18)) + "</text>";
    }
  }
  return out + "</svg>";
}

}  // namespace selfsup::io
