// The report's building blocks: SVG text, scales and ticks, the kernel density of the violins,
// the PePR bands of the isocline plots, and the rule that pairs experiments.
#include <gtest/gtest.h>

#include <cmath>

#include "report/experiments.hpp"
#include "report/figures.hpp"
#include "report/html.hpp"
#include "report/svg.hpp"

using namespace pepr::report;

TEST(Svg, EscapesTextAndAttributes) {
  EXPECT_EQ(xml_escape("<a & 'b' \"c\">"), "&lt;a &amp; &#39;b&#39; &quot;c&quot;&gt;");
  EXPECT_EQ(xml_escape(std::string("x\x01y", 3)), "x y") << "control characters are not XML";
  EXPECT_EQ(html_escape("<td>&"), "&lt;td&gt;&amp;");
  EXPECT_EQ(num(1.0), "1");
  EXPECT_EQ(num(2.345), "2.35");
  EXPECT_EQ(num(-0.001), "0");
}

TEST(Svg, NiceTicksAndLogTicks) {
  EXPECT_EQ(nice_ticks(0, 1), (std::vector<double>{0, 0.2, 0.4, 0.6000000000000001, 0.8, 1}));
  auto t = nice_ticks(0.43, 0.91);
  ASSERT_FALSE(t.empty());
  EXPECT_NEAR(t.front(), 0.5, 1e-12);
  EXPECT_NEAR(t.back(), 0.9, 1e-12);
  EXPECT_EQ(log_ticks(1e6, 1.5e8), (std::vector<double>{1e6, 1e7, 1e8}));
  auto few = log_ticks(0.002, 0.03);  // less than two decades: 2x and 5x added
  EXPECT_EQ(few, (std::vector<double>{0.002, 0.005, 0.01, 0.02}));
  EXPECT_EQ(tick_label(0.30000000000000004, 0.1), "0.3");
  EXPECT_EQ(tick_label(-0.0, 0.05), "0.00");
  EXPECT_EQ(si_label(24671464), "24.7M");
  EXPECT_EQ(si_label(1e6), "1M");
  EXPECT_EQ(si_label(500e3), "500k");
  EXPECT_EQ(short_number(0.001), "0.001");
  EXPECT_EQ(short_number(1e-5), "1e-5");
  Scale s{1, 100, 0, 200, true};
  EXPECT_DOUBLE_EQ(s(10), 100);
  Scale lin{0, 1, 300, 100, false};
  EXPECT_DOUBLE_EQ(lin(0.25), 250);
}

// Text widths are DejaVu Sans's (what Chromium measures: "0.0005" at 14 px is 49 px wide).
TEST(Svg, TextWidthIsDejaVuSans) {
  EXPECT_NEAR(Svg::text_width("0.0005", 14), 48.97, 0.01);
  EXPECT_NEAR(Svg::text_width("Wi", 10), 12.67, 1e-9);
  EXPECT_NEAR(Svg::text_width("Wi", 10, true), 14.46, 1e-9);               // bold is wider
  EXPECT_NEAR(Svg::text_width("\xe8\x82\xba\xe7\x82\x8e", 10), 20, 1e-9);  // 肺炎: an em each
  EXPECT_EQ(Svg::wrap("aa bb cc", 10, 30), (std::vector<std::string>{"aa bb", "cc"}));
  EXPECT_EQ(Svg::wrap("a_very_long_word x", 10, 20),
            (std::vector<std::string>{"a_very_long_word", "x"}));
}

// Tick labels that would run into each other get fewer ticks: fewer round ones on a linear
// axis, every second one on a log axis.
TEST(Svg, FittedTicksKeepTheirLabelsApart) {
  Axis x = make_axis("R", 0, 0.0027);
  EXPECT_EQ(fitted_ticks(x, 600, true).size(), 6u);  // 0 .. 0.0025, 100 px apart
  auto few = fitted_ticks(x, 240, true);             // 48 px apart for 49 px labels: too close
  EXPECT_EQ(few, (std::vector<double>{0, 0.001, 0.002}));
  EXPECT_EQ(axis_tick_label(x, few, 0.001), "0.001");
  Axis y = make_axis("P", 0, 1);
  EXPECT_EQ(fitted_ticks(y, 200, false).size(), 6u);
  EXPECT_EQ(fitted_ticks(y, 60, false), (std::vector<double>{0, 0.5, 1}));
  Axis lg = make_axis("params", 1e6, 1e9, true);
  EXPECT_EQ(fitted_ticks(lg, 300, true), (std::vector<double>{1e6, 1e7, 1e8, 1e9}));
  EXPECT_EQ(fitted_ticks(lg, 60, true), (std::vector<double>{1e6, 1e8}));
  lg.hide_ticks = true;
  EXPECT_TRUE(fitted_ticks(lg, 300, true).empty());
}

TEST(Svg, DocumentIsSelfContained) {
  Svg svg(100, 50, "fig-x", "A & B");
  svg.marker(Shape::Circle, 10, 10, 3, "#000", "#fff", "model <1>");
  std::string doc = svg.str();
  EXPECT_EQ(doc.rfind("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg ", 0), 0u);
  EXPECT_NE(doc.find("<title>A &amp; B</title>"), std::string::npos);
  EXPECT_NE(doc.find("<title>model &lt;1&gt;</title></circle>"), std::string::npos);
  EXPECT_EQ(svg.str(false).find("<?xml"), std::string::npos);
}

namespace {
double area(const std::vector<std::pair<double, double>>& poly) {
  double a = 0;
  for (std::size_t i = 0; i < poly.size(); ++i) {
    const auto& [x1, y1] = poly[i];
    const auto& [x2, y2] = poly[(i + 1) % poly.size()];
    a += x1 * y2 - x2 * y1;
  }
  return std::fabs(a) / 2;
}
}  // namespace

TEST(PeprBands, LevelSetsAreLines) {
  // P / (1 + R) <= 0.5 over the unit square: under P = 0.5 (1 + R), area 0.75.
  EXPECT_NEAR(area(pepr_band(0, 1, 0, 1, 0, 0.5, 1)), 0.75, 1e-12);
  EXPECT_NEAR(area(pepr_band(0, 1, 0, 1, 0.5, 1, 1)), 0.25, 1e-12);
  // The bands of 0.1 steps tile the square.
  double total = 0;
  for (int k = 0; k < 10; ++k) total += area(pepr_band(0, 1, 0, 1, k / 10.0, (k + 1) / 10.0, 1));
  EXPECT_NEAR(total, 1.0, 1e-12);
  // Above PePR 0.9 only a corner near R = 0, P = 1: P >= 0.9 (1 + R), a triangle of
  // R in [0, 1/9] and P in [0.9, 1].
  EXPECT_NEAR(area(pepr_band(0, 1, 0, 1, 0.9, 1, 1)), 0.5 * (1.0 / 9) * 0.1, 1e-12);
  // Scaled PePR, alpha = 2: P >= 0.5 (2 + R) / 2 is the region above P = 0.5 + R / 4.
  EXPECT_NEAR(area(pepr_band(0, 1, 0, 1, 0.5, 1, 2)), 1 - (0.5 + 0.125), 1e-12);
  EXPECT_TRUE(pepr_band(0, 1, 0.9, 1, 0, 0.1, 1).empty()) << "the band misses the rectangle";
}

TEST(ExperimentPairs, ThePapersNames) {
  std::vector<std::string> names{"derma", "derma_pt",   "derma_small", "derma_smallest",
                                 "lidc",  "lidc_small", "pneumonia",   "pneumonia_small"};
  auto pre = pretrained_scratch_pairs(names);
  ASSERT_EQ(pre.size(), 1u);
  EXPECT_EQ(pre[0].a, "derma_pt");
  EXPECT_EQ(pre[0].b, "derma");
  auto frac = data_fraction_pairs(names);
  ASSERT_EQ(frac.size(), 3u);
  EXPECT_EQ(frac[0].a, "derma_small");
  EXPECT_EQ(frac[0].b, "derma_pt") << "the pretrained 100 % experiment, not the scratch one";
  EXPECT_EQ(frac[1].a, "lidc_small");
  EXPECT_EQ(frac[1].b, "lidc");
  EXPECT_EQ(frac[2].a, "pneumonia_small");
  EXPECT_EQ(frac[2].b, "pneumonia");
}

TEST(ExperimentPairs, PeprCollectNames) {
  std::vector<std::string> names{
      "derma_scratch_small", "derma", "derma_small", "derma_scratch", "derma_f0.25",
      "derma_scratch_f0.25", "synth"};
  auto pre = pretrained_scratch_pairs(names);
  ASSERT_EQ(pre.size(), 3u);
  EXPECT_EQ(pre[0].a, "derma");
  EXPECT_EQ(pre[0].b, "derma_scratch");
  EXPECT_EQ(pre[1].a, "derma_small");
  EXPECT_EQ(pre[1].b, "derma_scratch_small");
  EXPECT_EQ(pre[2].a, "derma_f0.25");
  EXPECT_EQ(pre[2].b, "derma_scratch_f0.25");
  auto frac = data_fraction_pairs(names);
  ASSERT_EQ(frac.size(), 2u);
  EXPECT_EQ(frac[0].a, "derma_scratch_small");
  EXPECT_EQ(frac[0].b, "derma_scratch");
  EXPECT_EQ(frac[1].a, "derma_small");
  EXPECT_EQ(frac[1].b, "derma");
}

TEST(ExperimentPairs, NoPairs) {
  EXPECT_TRUE(pretrained_scratch_pairs({"a", "b", "c_pt", "scratch", "_scratch"}).empty());
  EXPECT_TRUE(data_fraction_pairs({"a_small", "b", "_small", "smallest"}).empty());
  EXPECT_TRUE(pretrained_scratch_pairs({"x_scratchy", "x"}).empty()) << "a whole token only";
}
