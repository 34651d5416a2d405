// `selfsup report`: metrics.csv parsing, the SVG plots, the page's sections, and a real run's
// report rendered by headless Chromium (loads without console errors; the plots are there and
// not blank on a screenshot).
#include <gtest/gtest.h>
#include <stb/stb_image.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "run_cli.h"
#include "test_util.h"
#include "selfsup/core/error.h"
#include "selfsup/io/plot.h"
#include "selfsup/io/report.h"

using namespace selfsup;
namespace fs = std::filesystem;

namespace {

size_t count_of(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

}  // namespace

TEST(Report, ParsesMetricsCsvAndNamesTheBadLine) {
  const auto t = io::parse_csv("epoch,loss,knn_top1\n1,2.5,\n2,2.0,0.61\n", "m.csv");
  ASSERT_EQ(t.columns, (std::vector<std::string>{"epoch", "loss", "knn_top1"}));
  ASSERT_EQ(t.rows.size(), 2u);
  EXPECT_EQ(t.rows[0], (std::vector<std::string>{"1", "2.5", ""}));
  EXPECT_EQ(t.rows[1][2], "0.61");
  EXPECT_EQ(test_util::error_message([] { io::parse_csv("epoch,loss\n1,2\n2\n", "runs/x/metrics.csv"); }),
            "runs/x/metrics.csv:3: 1 cells, the header has 2");
}

TEST(Report, SvgPlotDrawsEachSeriesBreaksAtGapsAndEscapesText) {
  io::Panel panel{"loss <train>", {{"a", {1, 2, 3, 4}, {4, 3, NAN, 1}, {}, {}}, {"b", {1, 2, 3, 4}, {2, 2, 2, 2}, {}, {}}}};
  const auto svg = io::svg_line_plot(panel, "epoch");
  EXPECT_EQ(svg.rfind("<svg", 0), 0u);
  EXPECT_EQ(svg.substr(svg.size() - 6), "</svg>");
  EXPECT_NE(svg.find("loss &lt;train&gt;"), std::string::npos);
  EXPECT_EQ(count_of(svg, "<g class=\"series\">"), 2u);
  EXPECT_NE(svg.find("<title>a</title><path d=\"M"), std::string::npos);
  // Series a: a line to its second point, a gap at the NaN, a new segment for the last point.
  const auto a = svg.substr(svg.find("<title>a</title>"), svg.find("<title>b</title>") - svg.find("<title>a</title>"));
  const auto d = a.substr(a.find("d=\"") + 3, a.find("\" fill") - a.find("d=\"") - 3);
  EXPECT_EQ(count_of(d, "M"), 2u) << d;
  EXPECT_EQ(count_of(d, "L"), 1u) << d;
  // Round tick values: 1, 2, 3, 4 on both axes, nothing like 2.75 between.
  for (const auto* v : {">1</text>", ">2</text>", ">3</text>", ">4</text>"}) EXPECT_EQ(count_of(svg, v), 2u) << v << svg;
  EXPECT_EQ(svg.find(".5</text>"), std::string::npos) << svg;
  EXPECT_NE(io::svg_line_plot({"empty", {}}, "epoch").find("no values"), std::string::npos);
}

TEST(Report, PageHasEvaluationBesideBaselinesCurvesPicturesAndComparison) {
  const auto dir = test_util::tmp_dir("run");
  test_util::write_text_file(dir + "/a/metrics.csv", "epoch,step,loss\n1,10,3\n2,20,2\n");
  test_util::write_text_file(dir + "/a/metrics.json",
                             R"({"method":"moco","eval":{"knn_top1":0.8,"seconds":3},"baselines":{"raw_pixels":{"knn_top1":0.7}}})");
  test_util::write_text_file(dir + "/a/recipe.yaml", "name: a\nmethod: moco\n");
  test_util::write_text_file(dir + "/a/samples/grid.png", "Man");  // bytes, not decoded: base64 "TWFu"
  test_util::write_text_file(dir + "/b/metrics.csv", "epoch,step,loss,acc\n1,10,4,0.1\n");
  const auto a = io::read_run(dir + "/a"), b = io::read_run(dir + "/b");
  EXPECT_EQ(a.name, "a");
  ASSERT_EQ(a.pictures.size(), 1u);

  const auto one = io::render_report({a});
  EXPECT_EQ(one.find("<h2>Comparison</h2>"), std::string::npos);
  EXPECT_NE(one.find("<th>baseline: raw_pixels</th>"), std::string::npos);
  EXPECT_NE(one.find("<tr><td>knn_top1</td><td>0.8</td><td>0.7</td></tr>"), std::string::npos) << one;
  EXPECT_EQ(one.find("<td>seconds</td>"), std::string::npos);
  EXPECT_NE(one.find("src=\"data:image/png;base64,TWFu\""), std::string::npos);
  EXPECT_NE(one.find("samples/grid.png"), std::string::npos);
  EXPECT_NE(one.find("method: moco"), std::string::npos);
  EXPECT_EQ(count_of(one, "<svg"), 1u);  // loss only: epoch and step are the axis

  const auto both = io::render_report({a, b});
  EXPECT_NE(both.find("<h2>Comparison</h2>"), std::string::npos);
  // Comparison: loss (both runs overlaid) and acc; then a's loss, b's loss and acc.
  EXPECT_EQ(count_of(both, "<svg"), 5u);
  EXPECT_EQ(both.find("http://"), both.find("http://www.w3.org/2000/svg"));  // nothing fetched from the network

  test_util::write_text_file(dir + "/c/notes.txt", "x");
  EXPECT_EQ(test_util::error_message([&] { io::read_run(dir + "/c"); }),
            dir + "/c: not a run folder (no recipe.yaml, metrics.json or metrics.csv)");
  test_util::write_text_file(dir + "/d/metrics.json", "{oops");
  EXPECT_EQ(test_util::error_message([&] { io::read_run(dir + "/d"); }).rfind(dir + "/d/metrics.json: not valid JSON", 0), 0u);
}

TEST(ReportEndToEnd, ARealRunRendersInHeadlessChromium) {
  const auto root = test_util::tmp_dir("report");
  auto r = run_cli("train " + test_util::kTinyRecipe + " run_dir=" + root + " name=tiny eval.baselines=true");
  ASSERT_EQ(r.code, 0) << r.output;
  r = run_cli("report " + root + "/tiny --out " + root + "/report.html");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("wrote " + root + "/report.html"), std::string::npos) << r.output;

  const std::string err = root + "/chromium.err";
  const std::string chromium = "timeout 120 chromium-headless-shell --no-sandbox --disable-gpu --enable-logging=stderr --v=0 ";
  const auto dom = run_command(chromium + "--dump-dom file://" + root + "/report.html 2>" + err);
  ASSERT_EQ(dom.code, 0) << dom.output << test_util::read_text_file(err);
  EXPECT_NE(dom.output.find("<h2>tiny</h2>"), std::string::npos);
  EXPECT_GE(count_of(dom.output, "<svg"), 4u) << "loss, lr, spread, images/s, ... curves";
  EXPECT_NE(dom.output.find("<th>baseline: raw_pixels</th>"), std::string::npos);
  EXPECT_NE(dom.output.find("<td>knn_top1</td>"), std::string::npos);
  EXPECT_EQ(test_util::read_text_file(err).find(":CONSOLE"), std::string::npos) << test_util::read_text_file(err);

  // A screenshot: the plots are drawn (the first series' blue is on the page), not a blank page.
  const auto shot = run_command(chromium + "--window-size=1200,1400 --screenshot=" + root + "/report.png file://" + root +
                                "/report.html 2>>" + err);
  ASSERT_EQ(shot.code, 0) << shot.output;
  int w = 0, h = 0, c = 0;
  unsigned char* pixels = stbi_load((root + "/report.png").c_str(), &w, &h, &c, 3);
  ASSERT_NE(pixels, nullptr);
  int64_t blue = 0, dark = 0;
  for (int64_t i = 0; i < static_cast<int64_t>(w) * h; ++i) {
    const unsigned char* p = pixels + 3 * i;
    blue += std::abs(p[0] - 0x1f) < 30 && std::abs(p[1] - 0x77) < 30 && std::abs(p[2] - 0xb4) < 30;
    dark += p[0] < 100 && p[1] < 100 && p[2] < 100;
  }
  stbi_image_free(pixels);
  EXPECT_GT(blue, 500) << "no plotted line on the screenshot";
  EXPECT_GT(dark, 2000) << "no text on the screenshot";

  // Bad input: one line, exit 2, nothing written.
  r = run_cli("report " + root + "/tiny --out " + root + "/missing/report.html");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("error: --out " + root + "/missing/report.html: the folder " + root + "/missing does not exist"),
            std::string::npos) << r.output;
  r = run_cli("report " + root + "/nothing_here --out " + root + "/r2.html");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find(root + "/nothing_here: no such run folder"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(root + "/r2.html"));
}
