#include "report/figures.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include <fmt/format.h>

#include "core/curve.hpp"
#include "core/format.hpp"
#include "core/pareto.hpp"
#include "core/robustness.hpp"
#include "core/stats.hpp"
#include "report/svg.hpp"

namespace pepr::report {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// A grid cell holding one panel: the plot area is the cell less these margins.
constexpr double kCellW = 360, kCellH = 310;
constexpr double kPadL = 76, kPadR = 20, kPadT = 42, kPadB = 62;
constexpr double kLeft = 8;  // left of the grid

using Poly = std::vector<std::pair<double, double>>;

std::string fmt4(double v) {
  return fmt::format("{:.4g}", v);
}

std::string p_text(double p) {
  if (std::isnan(p)) return "p = n/a";
  return fmt::format("p = {:.2g}", p);
}

std::string stars(double p) {
  if (std::isnan(p)) return "";
  return p < 0.001 ? "***" : p < 0.01 ? "**" : p < 0.05 ? "*" : "n.s.";
}

struct Style {
  const char* color;
  Shape shape;
};

Style style_of(const ReportData& d, std::size_t r) {
  if (d.efficient.empty() || d.efficient[r]) return {colors::kBlue, Shape::Circle};
  return {colors::kVermillion, Shape::Triangle};
}

std::vector<LegendItem> efficient_legend(const ReportData& d) {
  if (d.efficient.empty()) return {{"model", colors::kBlue}};
  // "not efficient", not "other": the paper's model types are CNN and Other.
  return {{"efficient architecture", colors::kBlue, LegendItem::Kind::Marker, Shape::Circle},
          {"not efficient", colors::kVermillion, LegendItem::Kind::Marker, Shape::Triangle}};
}

const std::string& experiment_of(const ReportData& d, std::size_t r) {
  return d.experiments[d.scored.groups.group_of[r]].name;
}

// The tooltip of a model's point: name, experiment, size, P, the primary score and resource.
std::string row_tip(const ReportData& d, std::size_t r, const std::string& extra = "") {
  const ScoreSeries& s = d.primary_score();
  std::string t = fmt::format("{} ({})", d.ids[r], experiment_of(d, r));
  if (d.has_params() && !std::isnan(d.params[r]))
    t += fmt::format(": {} params", si_label(d.params[r]));
  t += fmt::format(", P {}, {} {}, {} {}{}", fmt4(d.performance[r]), s.name, fmt4(s.score[r]),
                   s.resource, fmt4(s.raw[r]), s.unit.empty() ? "" : " " + s.unit);
  if (!d.efficient.empty()) t += d.efficient[r] ? ", efficient" : ", not efficient";
  if (!extra.empty()) t += ", " + extra;
  return t;
}

std::string panel_attrs(const std::string& experiment, const std::string& label,
                        std::size_t points) {
  return fmt::format("class=\"panel\" data-experiment=\"{}\" data-label=\"{}\" data-points=\"{}\"",
                     xml_escape(experiment), xml_escape(label), points);
}

// Height of the header: title and a one-row legend (kHeader), and a subtitle line (kSubtitle).
constexpr double kHeader = 44 + 34 + 18, kSubtitle = 22;

// The figure's title, a subtitle line when given, and the legend; returns where the panels
// start.
double header(Svg& svg, const std::string& title, const std::vector<LegendItem>& legend,
              const std::string& subtitle = "") {
  svg.text(16, 30, title, "start",
           fmt::format("font-size=\"{}\" font-weight=\"bold\" fill=\"{}\"", num(font::kTitle),
                       colors::kInk));
  double y = 44;
  if (!subtitle.empty()) {
    svg.text(16, 52, subtitle, "start",
             fmt::format("class=\"subtitle\" font-size=\"{}\" fill=\"{}\"", num(font::kLabel),
                         colors::kInk));
    y += kSubtitle;
  }
  if (legend.empty()) return y + 6;
  auto [w, h] = svg.legend(16, y, legend);
  (void)w;
  return y + h + 18;
}

double legend_width(const std::vector<LegendItem>& items) {
  double w = 16;
  for (const auto& it : items) w += 22 + 6 + Svg::text_width(it.label, font::kLabel) + 20;
  return w + 16;
}

// A figure wide enough for its grid, legend, title and subtitle.
double figure_width(const GridLayout& g, const std::vector<LegendItem>& legend,
                    const std::string& title, const std::string& subtitle = "") {
  return std::max({g.width() + 8, legend_width(legend),
                   16 + Svg::text_width(title, font::kTitle, true) + 16,
                   16 + Svg::text_width(subtitle, font::kLabel) + 16});
}

GridLayout grid_for(std::size_t count, std::size_t max_columns, double cell_w, double cell_h,
                    double top) {
  GridLayout g;
  g.count = std::max<std::size_t>(1, count);
  g.columns = std::min(max_columns, g.count);
  g.cell_w = cell_w;
  g.cell_h = cell_h;
  g.top = top;
  g.left = kLeft;
  return g;
}

std::string experiment_title(const ReportData& d, const Experiment& e) {
  if (d.group_by.empty()) return "all rows";
  return e.name;
}

// Min and max of the finite (and, for log axes, positive) values.
std::pair<double, double> extent(const std::vector<double>& v, bool positive_only) {
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (double x : v) {
    if (!std::isfinite(x) || (positive_only && x <= 0)) continue;
    lo = std::min(lo, x);
    hi = std::max(hi, x);
  }
  return {lo, hi};
}

Axis params_axis(const ReportData& d) {
  auto [lo, hi] = extent(d.params, true);
  auto [a, b] = padded_range(lo, hi, true, 0.06);
  Axis ax;
  ax.label = "parameters (log scale)";
  ax.lo = a, ax.hi = b, ax.log = true;
  ax.format = [](double v) { return si_label(v); };
  return ax;
}

Axis value_axis(const std::string& label, const std::vector<double>& values, bool log = false,
                double pad = 0.06) {
  auto [lo, hi] = extent(values, log);
  auto [a, b] = padded_range(lo, hi, log, pad);
  Axis ax;
  ax.label = label;
  ax.lo = a, ax.hi = b, ax.log = log;
  return ax;
}

// Shades the small-scale region (parameters below the size split's cut).
void shade_small(Svg& svg, const Panel& p, const ReportData& d, double cut) {
  if (std::isnan(cut)) return;
  double x1 = std::clamp(p.sx(cut), p.x, p.x + p.w);
  svg.rect(p.x, p.y, x1 - p.x, p.h,
           "class=\"small-region\" fill=\"#d9efe0\" fill-opacity=\"0.65\" stroke=\"none\"",
           fmt::format("small-scale models: {} ({})", d.small_text(), si_label(cut)));
  svg.line(x1, p.y, x1, p.y + p.h,
           "stroke=\"#3b8a55\" stroke-width=\"1.2\" stroke-dasharray=\"4 3\"");
}

Poly clip(const Poly& in, double a, double b, double c) {
  // Keeps a * R + b * P + c >= 0 (Sutherland-Hodgman against one half-plane).
  Poly out;
  const std::size_t n = in.size();
  for (std::size_t i = 0; i < n; ++i) {
    const auto& cur = in[i];
    const auto& prev = in[(i + n - 1) % n];
    double fc = a * cur.first + b * cur.second + c;
    double fp = a * prev.first + b * prev.second + c;
    auto cross = [&] {
      double t = fp / (fp - fc);
      return std::make_pair(prev.first + t * (cur.first - prev.first),
                            prev.second + t * (cur.second - prev.second));
    };
    if (fc >= 0) {
      if (fp < 0) out.push_back(cross());
      out.push_back(cur);
    } else if (fp >= 0) {
      out.push_back(cross());
    }
  }
  return out;
}

std::vector<double> pepr_levels() {
  std::vector<double> l;
  for (int k = 0; k <= 10; ++k) l.push_back(k / 10.0);
  return l;
}

// Filled PePR bands over the panel's domain.
void draw_bands(Svg& svg, const Panel& p, double alpha, double opacity) {
  auto levels = pepr_levels();
  svg.open_group(fmt::format("class=\"bands\" fill-opacity=\"{}\" stroke=\"none\"", num(opacity)));
  for (std::size_t k = 0; k + 1 < levels.size(); ++k) {
    double lo = k == 0 ? -1e9 : levels[k];
    double hi = k + 2 == levels.size() ? 1e9 : levels[k + 1];
    Poly band = pepr_band(p.sx.d0, p.sx.d1, p.sy.d0, p.sy.d1, lo, hi, alpha);
    if (band.size() < 3) continue;
    Poly px;
    for (const auto& [r, q] : band) px.emplace_back(p.sx(r), p.sy(q));
    svg.polygon(px, fmt::format("fill=\"{}\"", viridis((levels[k] + levels[k + 1]) / 2)));
  }
  svg.close_group();
}

// PePR isolines with their level written at the upper end.
void draw_isolines(Svg& svg, const Panel& p, double alpha, const char* stroke, double width) {
  const double r0 = p.sx.d0, r1 = p.sx.d1, p0 = p.sy.d0, p1 = p.sy.d1;
  svg.open_group("class=\"isolines\"");
  std::vector<std::pair<double, double>> placed;  // label positions, to avoid overlaps
  for (double c : pepr_levels()) {
    if (c <= 0 || c >= 1) continue;
    // P = c * (alpha + R) / alpha, increasing in R.
    auto pr = [&](double r) { return c * (alpha + r) / alpha; };
    double ra = std::max(r0, p0 * alpha / c - alpha);
    double rb = std::min(r1, p1 * alpha / c - alpha);
    if (!(rb > ra)) continue;
    double x1 = p.sx(ra), y1 = p.sy(pr(ra)), x2 = p.sx(rb), y2 = p.sy(pr(rb));
    svg.line(x1, y1, x2, y2,
             fmt::format("stroke=\"{}\" stroke-width=\"{}\" stroke-opacity=\"0.85\"", stroke,
                         num(width)));
    bool right_edge = rb >= r1 - 1e-12;
    double lx = std::max(p.x + 26, x2 - 4);
    double ly = right_edge && y2 - 4 > p.y + 12 ? y2 - 4 : y2 + 13;
    bool clash = false;
    for (const auto& [qx, qy] : placed)
      clash = clash || (std::fabs(qx - lx) < 26 && std::fabs(qy - ly) < 13);
    if (clash) continue;
    placed.emplace_back(lx, ly);
    svg.text(lx, ly, fmt::format("{:.1f}", c), "end",
             "font-size=\"11.5\" fill=\"#1a1a1a\" stroke=\"#ffffff\" stroke-width=\"3\" "
             "stroke-opacity=\"0.8\" paint-order=\"stroke\"");
  }
  svg.close_group();
}

// The figure with its normalisation stated under it (in the SVG too, so that a figure file read
// on its own says it) and in the record.
Figure finish(Svg& svg, std::string name, std::string title, std::string caption,
              std::vector<PanelCount> panels, std::string normalisation, std::string paper = "") {
  // In the HTML page the normalisation is the glossary's, linked from the caption; the file,
  // which stands alone, states it under the figure.
  const std::string inline_svg = svg.str(false);
  svg.footnote("Normalisation: " + normalisation);
  Figure f;
  f.normalisation = std::move(normalisation);
  f.paper = std::move(paper);
  f.name = std::move(name);
  f.title = std::move(title);
  f.caption = std::move(caption);
  f.svg = svg.str(true);
  f.svg_inline = inline_svg;
  f.panels = std::move(panels);
  return f;
}

// One scatter panel of an experiment's rows: (x[r], y[r]) for rows with usable values.
PanelCount scatter_panel(Svg& svg, const ReportData& d, const Experiment& e, double px, double py,
                         double pw, double ph, const Axis& xa, Axis ya,
                         const std::vector<double>& x, const std::vector<double>& y,
                         const std::string& label, const std::string& title, bool shade,
                         const std::string& extra_tip_name = "") {
  std::vector<std::size_t> rows;
  std::vector<double> yv;
  for (std::size_t r : e.rows) {
    bool ok = std::isfinite(x[r]) && std::isfinite(y[r]) && (!xa.log || x[r] > 0) &&
              (!ya.log || y[r] > 0);
    if (ok) rows.push_back(r), yv.push_back(y[r]);
  }
  if (std::isnan(ya.lo)) {
    Axis computed = value_axis(ya.label, yv, ya.log);
    ya.lo = computed.lo, ya.hi = computed.hi;
  }
  PanelCount count{e.name, label, rows.size()};
  svg.open_group(panel_attrs(e.name, label, rows.size()));
  Panel p = svg.axes(px, py, pw, ph, xa, ya, title);
  if (shade) shade_small(svg, p, d, e.size_cut);
  for (std::size_t r : rows) {
    Style st = style_of(d, r);
    std::string extra =
        extra_tip_name.empty() ? "" : fmt::format("{} {}", extra_tip_name, fmt4(y[r]));
    svg.marker(st.shape, p.sx(x[r]), p.sy(y[r]), 3.6, st.color, "#ffffff", row_tip(d, r, extra),
               "pt", "fill-opacity=\"0.85\" stroke-width=\"0.7\"");
  }
  svg.close_group();
  return count;
}

// Plot area of grid cell i.
struct Area {
  double x, y, w, h;
};
Area plot_area(const GridLayout& g, std::size_t i, double pad_t = kPadT, double pad_b = kPadB) {
  auto [cx, cy] = g.cell(i);
  return {cx + kPadL, cy + pad_t, g.cell_w - kPadL - kPadR, g.cell_h - pad_t - pad_b};
}

// Axes over the PePR bands and isolines, with a Pareto front's staircase (points at (rr, pp),
// the front's indices in order of R).
Panel front_panel(Svg& svg, const Area& a, const Axis& xa, const Axis& ya, const std::string& title,
                  double alpha, double band_opacity, const std::vector<double>& rr,
                  const std::vector<double>& pp, const std::vector<std::size_t>& front) {
  Panel p = svg.axes(a.x, a.y, a.w, a.h, xa, ya, title);
  draw_bands(svg, p, alpha, band_opacity);
  draw_isolines(svg, p, alpha, "#5a5a5a", 0.8);
  svg.rect(a.x, a.y, a.w, a.h, "fill=\"none\" stroke=\"#6e6e6e\"");
  Poly stairs;
  for (std::size_t k = 0; k < front.size(); ++k) {
    double x = p.sx(rr[front[k]]), y = p.sy(pp[front[k]]);
    if (k) stairs.emplace_back(x, stairs.back().second);
    stairs.emplace_back(x, y);
  }
  if (stairs.size() >= 2)
    svg.polyline(stairs,
                 fmt::format("class=\"front\" stroke=\"{}\" stroke-width=\"1.8\"", colors::kInk));
  return p;
}

}  // namespace

std::size_t Figure::points() const {
  std::size_t n = 0;
  for (const auto& p : panels) n += p.points;
  return n;
}

std::vector<std::pair<double, double>> pepr_band(double r0, double r1, double p0, double p1,
                                                 double lo, double hi, double alpha) {
  Poly rect{{r0, p0}, {r1, p0}, {r1, p1}, {r0, p1}};
  // alpha * P - lo * (alpha + R) >= 0 and hi * (alpha + R) - alpha * P >= 0.
  Poly a = clip(rect, -lo, alpha, -lo * alpha);
  if (a.size() < 3) return {};
  Poly b = clip(a, hi, -alpha, hi * alpha);
  if (b.size() < 3) return {};
  return b;
}

Figure isocline_figure(double alpha) {
  const double px = 80, py = 62, pw = 340, ph = 340;
  Svg svg(548, 468, "fig-isoclines", "PePR isoclines");
  header(svg,
         alpha == 1.0 ? "PePR = P / (1 + R) over R and P"
                      : fmt::format("PePR = {0} P / ({0} + R) over R and P", fmt4(alpha)),
         {});
  Axis xa = make_axis("normalised resource cost R", 0, 1);
  Axis ya = make_axis("performance P", 0, 1);
  svg.open_group(panel_attrs("", "isoclines", 0));
  Panel p = svg.axes(px, py, pw, ph, xa, ya);
  draw_bands(svg, p, alpha, 1.0);
  draw_isolines(svg, p, alpha, "#ffffff", 1.2);
  svg.rect(px, py, pw, ph, "fill=\"none\" stroke=\"#6e6e6e\"");
  svg.close_group();
  // Colour bar.
  const double bx = px + pw + 36, bw = 20;
  svg.open_group("class=\"colorbar\"");
  for (int k = 0; k < 10; ++k) {
    double y0 = py + ph - (k + 1) * ph / 10;
    svg.rect(bx, y0, bw, ph / 10 + 0.5,
             fmt::format("fill=\"{}\" stroke=\"none\"", viridis((k + 0.5) / 10)));
  }
  svg.rect(bx, py, bw, ph, "fill=\"none\" stroke=\"#6e6e6e\"");
  for (int k = 0; k <= 10; k += 2) {
    double y = py + ph - k * ph / 10;
    svg.line(bx + bw, y, bx + bw + 5, y, "stroke=\"#6e6e6e\"");
    svg.text(bx + bw + 8, y + 4.5, fmt::format("{:.1f}", k / 10.0), "start",
             fmt::format("font-size=\"{}\" fill=\"{}\"", num(font::kTick), colors::kInk));
  }
  svg.text(bx + bw / 2, py - 12, "PePR", "middle",
           fmt::format("font-size=\"{}\" fill=\"{}\"", num(font::kLabel), colors::kInk));
  svg.close_group();
  std::string caption = fmt::format(
      "Filled contours of the PePR score {} over the normalised resource cost R and the "
      "performance P, both in [0, 1], in steps of 0.1. The isolines are straight lines through "
      "(R, P) = (-{}, 0): a model that costs the most (R = 1) needs {} times the performance of "
      "a model that costs the least (R = 0) to reach the same PePR.",
      alpha == 1.0 ? "P / (1 + R)" : fmt::format("{0} P / ({0} + R)", fmt4(alpha)), fmt4(alpha),
      fmt4((alpha + 1) / alpha));
  return finish(svg, "isoclines", "PePR isoclines", caption, {{"", "isoclines", 0}},
                "none: R is the horizontal axis, any normalisation onto [0, 1]", "Fig. 2");
}

std::optional<Figure> curve_figure(const ReportData& d, std::string* why) {
  if (d.epoch_cols.empty()) {
    *why = "the table has no per-epoch performance columns (PREFIX<N>, e.g. test_00 .. test_09)";
    return std::nullopt;
  }
  const ScoreSeries& s = d.primary_score();
  const Table& t = d.scored.table;
  const double K = static_cast<double>(d.epoch_cols.size());
  struct Curve {
    std::size_t row;
    const char* color;
    std::string role;
    std::vector<double> r, p, e;  // R, P, epoch
    CurveMax max;
  };
  struct PanelData {
    const Experiment* exp;
    std::vector<Curve> curves;
  };
  std::vector<PanelData> panels;
  for (const auto& e : d.experiments) {
    double max_total = 0;
    bool negative = false;
    for (std::size_t r : e.rows) {
      max_total = std::max(max_total, s.raw[r]);
      negative = negative || s.raw[r] < 0;
    }
    if (negative || !(max_total > 0)) continue;
    // R = cumulative cost / the experiment's largest total (as the paper's curves, `pepr curve
    // --norm zero`), whatever the tables' normalisation: with min-max bounds from the runs'
    // totals every epoch cheaper than the cheapest run would sit at R = 0 and P* would be there.
    // Fixed bounds are the user's own: kept.
    double lo = 0, hi = max_total;
    if (d.norm.kind == Normalization::Kind::Fixed) lo = d.norm.lo, hi = d.norm.hi;
    auto r_of = [&](double x) {
      if (!(hi > lo)) return 0.0;
      double r = std::max(0.0, (x - lo) / (hi - lo));
      return d.norm.kind == Normalization::Kind::Fixed && d.norm.clip ? std::min(1.0, r) : r;
    };
    std::size_t best_s = e.rows.front(), best_p = e.rows.front();
    for (std::size_t r : e.rows) {
      if (s.score[r] > s.score[best_s]) best_s = r;
      if (d.performance[r] > d.performance[best_p]) best_p = r;
    }
    PanelData pd{&e, {}};
    std::vector<std::pair<std::size_t, std::pair<const char*, std::string>>> picks{
        {best_s, {colors::kBlue, "best by " + s.name}}};
    if (best_p != best_s) picks.push_back({best_p, {colors::kOrange, "best by P"}});
    for (const auto& [row, style] : picks) {
      Curve c{row, style.first, style.second, {}, {}, {}, {}};
      for (std::size_t k = 0; k < d.epoch_cols.size(); ++k) {
        if (t.is_missing(row, d.epoch_cols[k])) continue;
        auto v = parse_number(t.cell(row, d.epoch_cols[k]));
        if (!v) continue;
        double pk = *v * d.performance_scale;
        if (pk < 0 || pk > 1) continue;
        c.r.push_back(r_of(s.raw[row] * static_cast<double>(k + 1) / K));
        c.p.push_back(pk);
        c.e.push_back(static_cast<double>(k));
      }
      if (c.p.empty()) continue;
      c.max = curve_maximum(c.r, c.p, d.alpha);
      pd.curves.push_back(std::move(c));
    }
    if (!pd.curves.empty()) panels.push_back(std::move(pd));
  }
  if (panels.empty()) {
    *why = fmt::format("no experiment has a positive {} and per-epoch performance", s.resource);
    return std::nullopt;
  }
  std::vector<LegendItem> legend{
      {"best by " + s.name, colors::kBlue, LegendItem::Kind::Box},
      {"best by P", colors::kOrange, LegendItem::Kind::Box},
      {"P (performance curve)", colors::kInk, LegendItem::Kind::Line},
      {"PePR curve", colors::kInk, LegendItem::Kind::DashedLine},
      {"P* (max PePR)", colors::kInk, LegendItem::Kind::Marker, Shape::Star}};
  GridLayout g = grid_for(panels.size(), 3, kCellW, kCellH + 22, 0);
  g.top = kHeader;
  const std::string heading =
      fmt::format("Performance and PePR curves over the cumulative {}", s.resource);
  Svg svg(figure_width(g, legend, heading), g.height() + 8, "fig-pepr_curve", "PePR curves");
  header(svg, heading, legend);
  std::vector<PanelCount> counts;
  for (std::size_t i = 0; i < panels.size(); ++i) {
    const auto& pd = panels[i];
    Area a = plot_area(g, i, kPadT, kPadB + 22);
    std::vector<double> xs{0}, ys;
    std::size_t npts = 0;
    for (const auto& c : pd.curves) {
      xs.insert(xs.end(), c.r.begin(), c.r.end());
      for (std::size_t k = 0; k < c.p.size(); ++k) {
        ys.push_back(c.p[k]);
        ys.push_back(pepr_score(c.p[k], c.r[k], d.alpha));
      }
      npts += 2 * c.p.size();
    }
    Axis xa = value_axis(fmt::format("cumulative {} R (normalised)", s.resource), xs, false, 0.04);
    xa.lo = 0;
    Axis ya = value_axis("P and PePR", ys);
    svg.open_group(panel_attrs(pd.exp->name, "curves", npts));
    Panel p = svg.axes(a.x, a.y, a.w, a.h, xa, ya, experiment_title(d, *pd.exp));
    double name_x = p.x - 40;
    for (const auto& c : pd.curves) {
      Poly pp, pe;
      for (std::size_t k = 0; k < c.p.size(); ++k) {
        pp.emplace_back(p.sx(c.r[k]), p.sy(c.p[k]));
        pe.emplace_back(p.sx(c.r[k]), p.sy(pepr_score(c.p[k], c.r[k], d.alpha)));
      }
      svg.polyline(pp, fmt::format("stroke=\"{}\" stroke-width=\"2\"", c.color));
      svg.polyline(
          pe, fmt::format("stroke=\"{}\" stroke-width=\"2\" stroke-dasharray=\"6 3\"", c.color));
      for (std::size_t k = 0; k < c.p.size(); ++k) {
        double pk = pepr_score(c.p[k], c.r[k], d.alpha);
        std::string base = fmt::format("{} ({}), epoch {}: R {}", d.ids[c.row], pd.exp->name,
                                       fmt4(c.e[k]), fmt4(c.r[k]));
        svg.marker(Shape::Circle, pp[k].first, pp[k].second, 3, c.color, "#ffffff",
                   fmt::format("{}, P {}", base, fmt4(c.p[k])));
        svg.marker(Shape::Diamond, pe[k].first, pe[k].second, 2.6, "#ffffff", c.color,
                   fmt::format("{}, PePR {}", base, fmt4(pk)));
      }
      std::size_t m = c.max.index;
      svg.marker(Shape::Star, pe[m].first, pe[m].second, 5, c.color, colors::kInk,
                 fmt::format("P* = {} at epoch {} (R {}) for {}", fmt4(c.max.p_star), fmt4(c.e[m]),
                             fmt4(c.r[m]), d.ids[c.row]),
                 "pstar");
      // The model's name under the axis label, after a key line in its colour.
      const double name_y = p.y + p.h + 62;
      svg.line(name_x, name_y - 4, name_x + 16, name_y - 4,
               fmt::format("stroke=\"{}\" stroke-width=\"2.5\"", c.color));
      svg.text(name_x + 20, name_y, d.ids[c.row], "start",
               fmt::format("font-size=\"12.5\" fill=\"{}\"", c.color));
      name_x += 20 + Svg::text_width(d.ids[c.row], 12.5) + 16;
    }
    svg.close_group();
    counts.push_back({pd.exp->name, "curves", npts});
  }
  std::string caption = fmt::format(
      "Per experiment, the learning curve of the model with the best {} (blue) and of the model "
      "with the best final performance (orange, when another): test performance P after each "
      "epoch ({}, solid) and its PePR = P / (1 + R) (dashed) over the cumulative {} R. Each "
      "run's total {} is spread evenly over its {}; R = the cumulative {} / the experiment's "
      "largest total (as the paper's curves), so every epoch has R > 0 and a curve ends at its "
      "model's {} / {}_max, not at the tables' R. The star marks P*, the highest PePR along the "
      "curve (the paper's eq. 2).",
      s.name,
      fmt::format("{} to {}", t.column_name(d.epoch_cols.front()),
                  t.column_name(d.epoch_cols.back())),
      s.resource, s.resource, plural(static_cast<long long>(d.epoch_cols.size()), "epoch"),
      s.resource, s.symbol, s.symbol);
  const std::string curve_norm =
      d.norm.kind == Normalization::Kind::Fixed
          ? d.norm_text(s) + "; the curves' cumulative cost uses the same bounds"
          : fmt::format(
                "{0} curves: R = cumulative {1} / {1}_max, the experiment's largest "
                "total (pepr curve --norm zero; the tables: {2})",
                s.name, s.symbol, d.norm_label());
  return finish(svg, "pepr_curve", "PePR curves and P*", caption, std::move(counts), curve_norm,
                "Fig. 3");
}

std::optional<Figure> model_space_figure(const ReportData& d, std::string* why) {
  if (!d.has_params()) {
    *why = "the table has no parameter counts (num_param or params; --params-column)";
    return std::nullopt;
  }
  const ScoreSeries* energy = nullptr;
  for (const auto& s : d.scores)
    if (s.spec.kind == "energy") energy = &s;
  if (!energy) energy = &d.primary_score();
  auto legend = efficient_legend(d);
  GridLayout g = grid_for(d.experiments.size(), 3, kCellW, kCellH, kHeader);
  const std::string heading = fmt::format("The model space: parameters vs {}", energy->resource);
  Svg svg(figure_width(g, legend, heading), g.height() + 8, "fig-model_space", "The model space");
  header(svg, heading, legend);
  Axis xa = params_axis(d);
  std::vector<PanelCount> counts;
  for (std::size_t i = 0; i < d.experiments.size(); ++i) {
    const auto& e = d.experiments[i];
    std::vector<double> yv;
    for (std::size_t r : e.rows) yv.push_back(energy->raw[r]);
    auto [lo, hi] = extent(yv, true);
    bool log = lo > 0 && hi / lo > 20;
    std::string ylabel = energy->unit.empty()
                             ? energy->resource
                             : fmt::format("{} ({})", energy->resource, energy->unit);
    if (log) ylabel += ", log";
    Axis ya = value_axis(ylabel, yv, log);
    Area a = plot_area(g, i);
    counts.push_back(scatter_panel(svg, d, e, a.x, a.y, a.w, a.h, xa, ya, d.params, energy->raw,
                                   energy->resource, experiment_title(d, e), false));
  }
  std::string caption = fmt::format(
      "The models of each experiment by size ('{}', log scale) and measured {} ('{}'){}; "
      "efficient architectures{}. Hover a point for the model.",
      d.params_column, energy->resource, energy->spec.column,
      energy->unit.empty() ? "" : " in " + energy->unit,
      d.efficient.empty() ? " are not marked (no 'efficient' column)"
                          : " (column 'efficient' = 1) in blue circles, the others in vermillion "
                            "triangles");
  return finish(svg, "model_space", "The model space", caption, std::move(counts),
                fmt::format("none: the measured {} as it is, per experiment", energy->resource));
}

namespace {

// One violin with its points: a mirrored Gaussian KDE, the quartile box and the median.
void violin(Svg& svg, const Panel& p, double xc, double half_w, const ReportData& d,
            const std::vector<std::size_t>& rows, const std::vector<double>& values,
            const char* color, const std::string& experiment, const std::string& label,
            const std::string& value_name, const std::vector<std::string>* tips = nullptr) {
  svg.open_group(
      fmt::format("class=\"violin\" data-experiment=\"{}\" data-label=\"{}\" data-points=\"{}\"",
                  xml_escape(experiment), xml_escape(label), values.size()));
  auto [vmin, vmax] = extent(values, false);
  double bw = silverman_bandwidth(values);
  if (!(bw > 0)) bw = std::max(1e-3, 0.02 * (p.sy.d1 - p.sy.d0));
  const double y0 = std::max(p.sy.d0, vmin - bw), y1 = std::min(p.sy.d1, vmax + bw);
  std::vector<double> grid;
  const int steps = 80;
  for (int k = 0; k <= steps; ++k) grid.push_back(y0 + (y1 - y0) * k / steps);
  auto dens = gaussian_kde(values, bw, grid);
  double dmax = *std::max_element(dens.begin(), dens.end());
  if (!(dmax > 0)) dmax = 1;
  std::string path;
  for (int k = 0; k <= steps; ++k)
    path += fmt::format("{}{} {}", k ? "L" : "M", num(xc - half_w * dens[k] / dmax),
                        num(p.sy(grid[k])));
  for (int k = steps; k >= 0; --k)
    path += fmt::format("L{} {}", num(xc + half_w * dens[k] / dmax), num(p.sy(grid[k])));
  path += "Z";
  svg.path(path, fmt::format("class=\"body\" fill=\"{0}\" fill-opacity=\"0.28\" stroke=\"{0}\" "
                             "stroke-width=\"1.5\"",
                             color));
  // Points spread within the violin's width at their value (deterministic jitter).
  auto at = gaussian_kde(values, bw, values);
  for (std::size_t i = 0; i < values.size(); ++i) {
    std::uint32_t h = static_cast<std::uint32_t>(i) * 2654435761u + 12345u;
    h ^= h >> 15;
    h *= 2246822519u;
    h ^= h >> 13;
    double u = (static_cast<double>(h % 10000) / 9999.0) * 2 - 1;
    double x = xc + u * 0.8 * half_w * at[i] / dmax;
    svg.marker(
        Shape::Circle, x, p.sy(values[i]), 2.3, color, "none",
        tips ? (*tips)[i] : row_tip(d, rows[i], fmt::format("{} {}", value_name, fmt4(values[i]))),
        "pt", "fill-opacity=\"0.7\"");
  }
  double q1 = quantile(values, 0.25), q2 = quantile(values, 0.5), q3 = quantile(values, 0.75);
  svg.rect(xc - 4, p.sy(q3), 8, p.sy(q1) - p.sy(q3),
           "class=\"stat\" fill=\"#222222\" fill-opacity=\"0.75\" stroke=\"none\"");
  svg.path(fmt::format("M{} {}h12", num(xc - 6), num(p.sy(q2))),
           "class=\"stat\" stroke=\"#ffffff\" stroke-width=\"2.5\"",
           fmt::format("median {} {}", value_name, fmt4(q2)));
  svg.close_group();
}

const Comparison* find_comparison(const GroupTests& tests, const std::string& name,
                                  const std::string& group, const std::string& value) {
  for (const auto& c : tests.comparisons)
    if (c.name == name && c.group == group && c.value == value) return &c;
  return nullptr;
}

}  // namespace

std::optional<Figure> violin_figure(const ReportData& d, const GroupTests& tests,
                                    const std::string& kind, std::string* why) {
  const bool pre = kind == "pretraining";
  const auto& pairs = pre ? d.pretrain_pairs : d.fraction_pairs;
  if (pairs.empty()) {
    *why = d.group_by.empty() ? "no experiments (give --group-by, e.g. -g dataset)"
           : pre ? "no pretrained / from-scratch pairs among the experiments (X_pt with X, or X "
                   "with X_scratch)"
                 : "no 10 % / 100 % pairs among the experiments (X_small with X_pt or X)";
    return std::nullopt;
  }
  const std::string comp_name = pre ? "pretrained vs scratch" : "10% vs 100% data";
  const std::string role_a = pre ? "pretrained" : "10 % of data";
  const std::string role_b = pre ? "from scratch" : "100 % of data";
  const std::string short_a = pre ? "pretrained" : "10 %";
  const std::string short_b = pre ? "scratch" : "100 %";
  const ScoreSeries& s = d.primary_score();
  struct Metric {
    std::string label, value;
    const std::vector<double>* v;
  };
  std::vector<LegendItem> legend{{role_a, colors::kBlue, LegendItem::Kind::Box},
                                 {role_b, colors::kOrange, LegendItem::Kind::Box}};
  const double cell_w = 500, cell_h = 400, pad_t = 104, pad_b = 58;
  GridLayout g = grid_for(pairs.size(), 2, cell_w, cell_h, kHeader);
  const std::string name = pre ? "violin_pretraining" : "violin_data_fraction";
  const std::string title =
      pre ? "Pretrained vs trained from scratch" : "10 % vs 100 % of the training data";
  const std::string heading = fmt::format("{}: P and {}", title, s.name);
  Svg svg(figure_width(g, legend, heading), g.height() + 8, "fig-" + name, title);
  header(svg, heading, legend);
  std::vector<PanelCount> counts;
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    const auto& pair = pairs[i];
    const auto& ea = d.experiments[d.experiment_index(pair.a)];
    const auto& eb = d.experiments[d.experiment_index(pair.b)];
    // The score with R normalised jointly over the pair: comparable across its two experiments.
    const std::vector<double> joint = d.joint_score(s, pair);
    const std::vector<Metric> metrics{{"P", "P", &d.performance},
                                      {s.name + " (joint R)", joint_value_name(s), &joint}};
    auto [cx, cy] = g.cell(i);
    Area a{cx + 70, cy + pad_t, cell_w - 70 - 20, cell_h - pad_t - pad_b};
    // The y range holds every violin whole: its values and one bandwidth on either side.
    std::vector<double> all;
    for (const auto& m : metrics)
      for (const auto* e : {&ea, &eb}) {
        std::vector<double> v;
        for (std::size_t r : e->rows) v.push_back((*m.v)[r]);
        auto [lo, hi] = extent(v, false);
        double bw = silverman_bandwidth(v);
        all.insert(all.end(), {lo - bw, hi + bw});
      }
    Axis xa = make_axis("", 0, 1);
    xa.hide_ticks = true;
    Axis ya = value_axis("P and " + s.name, all, false, 0.03);
    const std::size_t npts = metrics.size() * (ea.rows.size() + eb.rows.size());
    const std::string group = pair.a + " vs " + pair.b;
    svg.open_group(panel_attrs(group, "violins", npts));
    Panel p = svg.axes(a.x, a.y, a.w, a.h, xa, ya);
    svg.text(a.x + a.w / 2, a.y - 80,
             fmt::format("{} ({}) vs {} ({})", pair.a, short_a, pair.b, short_b), "middle",
             fmt::format("font-size=\"{}\" font-weight=\"bold\" fill=\"{}\"",
                         num(font::kPanelTitle), colors::kInk));
    svg.line(p.sx(0.5), a.y, p.sx(0.5), a.y + a.h,
             "stroke=\"#9a9a9a\" stroke-width=\"1\" stroke-dasharray=\"4 3\"");
    const double slots[2][2] = {{0.14, 0.36}, {0.64, 0.86}};
    const double half_w = 0.1 * a.w;
    for (std::size_t m = 0; m < metrics.size(); ++m) {
      const auto& met = metrics[m];
      std::vector<double> va, vb;
      for (std::size_t r : ea.rows) va.push_back((*met.v)[r]);
      for (std::size_t r : eb.rows) vb.push_back((*met.v)[r]);
      violin(svg, p, p.sx(slots[m][0]), half_w, d, ea.rows, va, colors::kBlue, ea.name, met.label,
             met.label);
      violin(svg, p, p.sx(slots[m][1]), half_w, d, eb.rows, vb, colors::kOrange, eb.name, met.label,
             met.label);
      double gx = p.sx((slots[m][0] + slots[m][1]) / 2);
      svg.text(gx, a.y - 52, met.label, "middle",
               fmt::format("font-size=\"{}\" font-weight=\"bold\" fill=\"{}\"", num(font::kLabel),
                           colors::kInk));
      const Comparison* c = find_comparison(tests, comp_name, group, met.value);
      std::string l1 = "too few models for a test", l2;
      if (c) {
        l1 = fmt::format("t-test: {} {}", p_text(c->student.p), stars(c->student.p));
        l2 = fmt::format("MWU: {} {}", p_text(c->mann_whitney.p), stars(c->mann_whitney.p));
      }
      std::string st = fmt::format("font-size=\"{}\" fill=\"{}\"", num(font::kNote), colors::kInk);
      svg.text(gx, a.y - 33, l1, "middle", st);
      if (!l2.empty()) svg.text(gx, a.y - 15, l2, "middle", st);
      for (int side = 0; side < 2; ++side) {
        const auto& ex = side ? eb : ea;
        double sx = p.sx(slots[m][side]);
        svg.text(sx, a.y + a.h + 19, side ? short_b : short_a, "middle",
                 fmt::format("font-size=\"{}\" fill=\"{}\"", num(font::kTick), colors::kInk));
        svg.text(sx, a.y + a.h + 36, fmt::format("n = {}", ex.rows.size()), "middle",
                 fmt::format("font-size=\"12\" fill=\"{}\"", colors::kGrey));
      }
    }
    svg.close_group();
    counts.push_back({group, "violins", npts});
  }
  std::string caption = fmt::format(
      "For each {} pair of experiments, the distribution of the test performance P ({}) and of "
      "{} over the models (violins: Gaussian kernel density, Silverman bandwidth; box: "
      "quartiles; white bar: median; dots: models), with the two-sided p-values of the "
      "two-sample Student t-test (t-test; equal variances, as the paper) and of the "
      "Mann-Whitney U test (MWU) "
      "(* p < 0.05, ** p < 0.01, *** p < 0.001). {}'s R is normalised jointly over the two "
      "experiments of each pair (one set of bounds), so that their scores can be compared. "
      "Pairs: {}.",
      pre ? "pretrained / from-scratch" : "10 % / 100 % data", d.performance_label, s.name, s.name,
      [&] {
        std::string list;
        for (const auto& p : pairs) list += (list.empty() ? "" : ", ") + p.a + " vs " + p.b;
        return list;
      }());
  return finish(svg, name, title, caption, std::move(counts),
                "P is not normalised; " + d.norm_text(s) +
                    ", with the bounds taken jointly over the two experiments of each pair");
}

std::optional<Figure> performance_params_figure(const ReportData& d, std::string* why) {
  if (!d.has_params()) {
    *why = "the table has no parameter counts (num_param or params; --params-column)";
    return std::nullopt;
  }
  const ScoreSeries& s = d.primary_score();
  auto legend = efficient_legend(d);
  legend.push_back({"small-scale: " + d.small_text(), "#9fd3ae", LegendItem::Kind::Box});
  const double cell_h = 540, sub_h = 178, gap = 78;
  GridLayout g = grid_for(d.experiments.size(), 3, kCellW, cell_h, kHeader);
  const std::string heading = fmt::format("Test performance and {} vs model size", s.name);
  Svg svg(figure_width(g, legend, heading), g.height() + 8, "fig-p_pepr_vs_params",
          "P and PePR vs parameters");
  header(svg, heading, legend);
  Axis xa = params_axis(d);
  std::vector<PanelCount> counts;
  for (std::size_t i = 0; i < d.experiments.size(); ++i) {
    const auto& e = d.experiments[i];
    auto [cx, cy] = g.cell(i);
    double px = cx + kPadL, pw = kCellW - kPadL - kPadR;
    Axis top_x = xa;
    top_x.label = "";
    Axis ya = make_axis(fmt::format("P ({})", d.performance_label), kNaN, kNaN);
    counts.push_back(scatter_panel(svg, d, e, px, cy + kPadT, pw, sub_h, top_x, ya, d.params,
                                   d.performance, "P", experiment_title(d, e), true));
    Axis yb = make_axis(s.name, kNaN, kNaN);
    counts.push_back(scatter_panel(svg, d, e, px, cy + kPadT + sub_h + gap - 22, pw, sub_h, xa, yb,
                                   d.params, s.score, s.name, "", true));
  }
  std::string caption = fmt::format(
      "Per experiment, test performance P ({}, top) and {} (bottom) of every model against its "
      "number of parameters ('{}', log scale). The shaded region holds the small-scale models "
      "({}); {}.",
      d.performance_label, s.name, d.params_column, d.small_text(),
      d.efficient.empty() ? "there is no 'efficient' column"
                          : "efficient architectures are blue circles, the others vermillion "
                            "triangles");
  return finish(svg, "p_pepr_vs_params", "P and PePR vs parameters", caption, std::move(counts),
                "P is not normalised; " + d.norm_text(s));
}

Figure pareto_figure(const ReportData& d) {
  const ScoreSeries& s = d.primary_score();
  auto legend = efficient_legend(d);
  legend.push_back({"Pareto front", colors::kInk, LegendItem::Kind::Line});
  legend.push_back({"knee", colors::kYellow, LegendItem::Kind::Marker, Shape::Star});
  GridLayout g = grid_for(d.experiments.size(), 3, kCellW, kCellH, kHeader);
  const std::string heading =
      fmt::format("Performance vs normalised {} with the Pareto front", s.resource);
  Svg svg(figure_width(g, legend, heading), g.height() + 8, "fig-pareto", "Pareto fronts");
  header(svg, heading, legend);
  std::vector<PanelCount> counts;
  // Each point's R when its energy (CO2eq) moves within its measurement error, the experiment's
  // bounds with it (core/robustness.hpp): from the PePR interval, R = alpha (P / PePR - 1).
  std::optional<ScoreBounds> sb;
  std::string basis;
  if (s.merged.empty() && (s.spec.kind == "energy" || s.spec.kind == "co2"))
    if (const auto b = resource_bounds(d.scored.table, s.spec, d.norm, std::nullopt)) {
      sb = pepr_bounds(d.performance, *b, d.scored.groups, d.norm, d.alpha);
      basis = b->basis;
    }
  auto r_of = [&](std::size_t r, double score) {
    return score > 0 ? d.alpha * (d.performance[r] / score - 1) : kNaN;
  };
  for (std::size_t i = 0; i < d.experiments.size(); ++i) {
    const auto& e = d.experiments[i];
    std::vector<double> rr, pp;
    for (std::size_t r : e.rows) rr.push_back(s.norm[r]), pp.push_back(d.performance[r]);
    auto front = pareto_front(rr, pp);
    auto knee = knee_point(front, rr, pp);
    auto [plo, phi] = extent(pp, false);
    auto [ylo, yhi] = padded_range(plo, phi, false, 0.06);
    ylo = std::max(0.0, ylo);
    yhi = std::min(1.0, yhi);
    if (!(yhi > ylo)) ylo = std::max(0.0, yhi - 0.1);
    auto [rlo, rhi] = extent(rr, false);
    Axis xa = make_axis(fmt::format("normalised {} R", s.resource), std::min(0.0, rlo),
                        std::max(1.0, rhi));
    Axis ya = make_axis(fmt::format("P ({})", d.performance_label), ylo, yhi);
    Area a = plot_area(g, i);
    svg.open_group(panel_attrs(e.name, "P vs R", e.rows.size()));
    Panel p = front_panel(svg, a, xa, ya, experiment_title(d, e), d.alpha, 0.3, rr, pp, front);
    std::vector<bool> on_front(e.rows.size(), false);
    for (std::size_t k : front) on_front[k] = true;
    if (sb)
      for (std::size_t k = 0; k < e.rows.size(); ++k) {
        const std::size_t r = e.rows[k];
        const double lo = r_of(r, sb->hi[r]), hi = r_of(r, sb->lo[r]);
        if (std::isfinite(lo) && std::isfinite(hi) && hi > lo)
          svg.line(p.sx(std::clamp(lo, xa.lo, xa.hi)), p.sy(pp[k]),
                   p.sx(std::clamp(hi, xa.lo, xa.hi)), p.sy(pp[k]),
                   "class=\"err\" stroke=\"#8a8a8a\" stroke-width=\"1\"");
      }
    for (std::size_t k = 0; k < e.rows.size(); ++k) {
      std::size_t r = e.rows[k];
      Style st = style_of(d, r);
      svg.marker(
          st.shape, p.sx(rr[k]), p.sy(pp[k]), on_front[k] ? 4.4 : 3.4, st.color,
          on_front[k] ? colors::kInk : "#ffffff",
          row_tip(d, r,
                  fmt::format("R {}{}", fmt4(rr[k]),
                              on_front[k] ? ", on the Pareto "
                                            "front"
                                          : "")),
          "pt", on_front[k] ? "stroke-width=\"1.4\"" : "fill-opacity=\"0.8\" stroke-width=\"0.7\"");
    }
    if (knee) {
      std::size_t k = *knee;
      svg.marker(Shape::Star, p.sx(rr[k]), p.sy(pp[k]), 5.5, colors::kYellow, colors::kInk,
                 fmt::format("knee of the Pareto front: {}", d.ids[e.rows[k]]), "knee");
    }
    svg.close_group();
    counts.push_back({e.name, "P vs R", e.rows.size()});
  }
  std::string caption = fmt::format(
      "Per experiment, test performance P ({}) against the normalised {} R ({} within the "
      "experiment) over the PePR = P / (1 + R) contours (labelled). Points with a dark outline "
      "are on the Pareto front (no other model has R \u2264 and P \u2265 with one strict), joined "
      "by the front's staircase; the star marks the knee (the front point farthest from the line "
      "through its ends, as pepr pareto finds it).",
      d.performance_label, s.resource, d.norm.describe());
  if (sb)
    caption += fmt::format(
        " Grey whiskers: the range of each point's R when every run's {} moves within its "
        "measurement error ({}).",
        s.resource, basis);
  return finish(svg, "pareto", "Pareto fronts over PePR", caption, std::move(counts),
                d.norm_text(s));
}

std::optional<Figure> score_params_figure(const ReportData& d, std::size_t score,
                                          std::string* why) {
  if (!d.has_params()) {
    *why = "the table has no parameter counts (num_param or params; --params-column)";
    return std::nullopt;
  }
  const ScoreSeries& s = d.scores.at(score);
  auto legend = efficient_legend(d);
  legend.push_back({"small-scale: " + d.small_text(), "#9fd3ae", LegendItem::Kind::Box});
  GridLayout g = grid_for(d.experiments.size(), 3, kCellW, kCellH, kHeader);
  const std::string name = s.spec.score_name + "_vs_params";
  const std::string heading = fmt::format("{} ({}) vs model size", s.name, s.resource);
  Svg svg(figure_width(g, legend, heading), g.height() + 8, "fig-" + name,
          s.name + " vs parameters");
  header(svg, heading, legend);
  Axis xa = params_axis(d);
  std::vector<PanelCount> counts;
  for (std::size_t i = 0; i < d.experiments.size(); ++i) {
    const auto& e = d.experiments[i];
    Area a = plot_area(g, i);
    Axis ya = make_axis(s.name, kNaN, kNaN);
    counts.push_back(scatter_panel(svg, d, e, a.x, a.y, a.w, a.h, xa, ya, d.params, s.score, s.name,
                                   experiment_title(d, e), true, s.name));
  }
  std::string caption = fmt::format(
      "Per experiment, {} = P / (1 + R) with R the normalised {} ('{}', {} within the "
      "experiment) of every model against its number of parameters (log scale); the shaded "
      "region holds the small-scale models ({}).",
      s.name, s.resource, s.spec.column, d.norm.describe(), d.small_text());
  return finish(svg, name, s.name + " vs parameters", caption, std::move(counts), d.norm_text(s));
}

std::optional<Figure> small_large_figure(const ReportData& d, const GroupTests& tests,
                                         std::string* why) {
  if (!d.has_params()) {
    *why = "the table has no parameter counts (num_param or params; --params-column)";
    return std::nullopt;
  }
  struct Bar {
    const Experiment* exp;
    const Comparison* c;
  };
  std::vector<std::vector<Bar>> per_score(d.scores.size());
  std::size_t any = 0;
  for (std::size_t si = 0; si < d.scores.size(); ++si)
    for (const auto& e : d.experiments) {
      const Comparison* c = find_comparison(tests, "size", e.name, d.scores[si].spec.score_name);
      per_score[si].push_back({&e, c});
      any += c != nullptr;
    }
  if (!any) {
    *why = "no experiment has at least two small and two large models";
    return std::nullopt;
  }
  std::vector<LegendItem> legend{
      {"small-scale: " + d.small_text(), colors::kBlue, LegendItem::Kind::Box, Shape::Square, false,
       1.0},
      {"large-scale", colors::kOrange, LegendItem::Kind::Box, Shape::Square, false, 1.0}};
  const double slot = 58, pad_l = 76, pad_r = 20, pad_t = 42, pad_b = 110;
  const double cell_w =
      std::max(360.0, pad_l + pad_r + slot * static_cast<double>(d.experiments.size()));
  const std::size_t cols = cell_w > 560 ? 1 : 2;
  GridLayout g = grid_for(d.scores.size(), cols, cell_w, 380, kHeader);
  const std::string heading = "Median PePR of small-scale and large-scale models";
  Svg svg(figure_width(g, legend, heading), g.height() + 8, "fig-small_vs_large",
          "Median PePR, small vs large");
  header(svg, heading, legend);
  std::vector<PanelCount> counts;
  for (std::size_t si = 0; si < d.scores.size(); ++si) {
    const ScoreSeries& s = d.scores[si];
    auto [cx, cy] = g.cell(si);
    Area a{cx + pad_l, cy + pad_t, cell_w - pad_l - pad_r, 380 - pad_t - pad_b};
    double top = 0;
    for (const auto& b : per_score[si])
      if (b.c) top = std::max({top, b.c->median_a, b.c->median_b});
    if (!(top > 0)) top = 1;
    Axis xa = make_axis("", 0, static_cast<double>(d.experiments.size()));
    xa.hide_ticks = true;
    Axis ya = make_axis("median " + s.name, 0, top * 1.16);
    svg.open_group(panel_attrs("", s.name, 0));
    Panel p = svg.axes(a.x, a.y, a.w, a.h, xa, ya, s.name + " (" + s.resource + ")");
    for (std::size_t k = 0; k < per_score[si].size(); ++k) {
      const auto& b = per_score[si][k];
      double xc = p.sx(static_cast<double>(k) + 0.5);
      double bw = std::min(22.0, slot * 0.36);
      svg.text(xc + 4, a.y + a.h + 14, experiment_title(d, *b.exp), "end",
               fmt::format("font-size=\"{}\" fill=\"{}\" transform=\"rotate(-40 {} {})\"",
                           num(font::kTick), colors::kInk, num(xc + 4), num(a.y + a.h + 14)));
      if (!b.c) {
        svg.text(xc, a.y + a.h - 6, "n/a", "middle", "font-size=\"11\" fill=\"#6e6e6e\"");
        continue;
      }
      std::string tip = fmt::format("{}: {} median {} vs {}; Student t {}, Mann-Whitney {}",
                                    b.exp->name, s.name, fmt4(b.c->median_a), fmt4(b.c->median_b),
                                    p_text(b.c->student.p), p_text(b.c->mann_whitney.p));
      svg.rect(xc - bw, p.sy(b.c->median_a), bw, p.sy(0) - p.sy(b.c->median_a),
               fmt::format("class=\"bar\" fill=\"{}\"", colors::kBlue),
               fmt::format("small ({} models): {}", b.c->n_a, tip));
      svg.rect(xc, p.sy(b.c->median_b), bw, p.sy(0) - p.sy(b.c->median_b),
               fmt::format("class=\"bar\" fill=\"{}\"", colors::kOrange),
               fmt::format("large ({} models): {}", b.c->n_b, tip));
      double hy = p.sy(std::max(b.c->median_a, b.c->median_b)) - 6;
      svg.text(xc, hy, stars(b.c->student.p), "middle",
               fmt::format("class=\"sig\" font-size=\"{}\" fill=\"{}\"", num(font::kNote),
                           colors::kInk));
    }
    svg.close_group();
    counts.push_back({"", s.name, 0});
  }
  std::string caption =
      "Per score and experiment, the median PePR of the small-scale models (" + d.small_text() +
      ") and of the large-scale ones, with the significance "
      "of the two-sample Student t-test between the two groups (* p < 0.05, ** p < 0.01, "
      "*** p < 0.001, n.s. otherwise; hover for the p-values of Student and Mann-Whitney; all "
      "in tables/tests.csv).";
  return finish(svg, "small_vs_large", "Median PePR, small vs large", caption, std::move(counts),
                d.norm_text());
}

// ---- The paper's figures as the paper drew them -------------------------------------------

std::vector<std::size_t> main_experiments(const ReportData& d) {
  std::vector<std::string> names;
  for (const auto& e : d.experiments) names.push_back(e.name);
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < d.experiments.size(); ++i) {
    const std::string& n = names[i];
    if (full_data_experiment(n, names) != n) continue;  // a fraction of another's data
    bool scratch = false;
    for (const auto& p : d.pretrain_pairs) scratch = scratch || p.b == n;
    if (!scratch) out.push_back(i);
  }
  return out;
}

ModelMeans model_means(const ReportData& d) {
  ModelMeans m;
  m.experiments = main_experiments(d);
  if (m.experiments.empty()) return m;
  // Each model's row in every main experiment (models found once in each).
  std::map<std::string, std::vector<std::size_t>> rows_of;
  std::vector<std::string> order;
  for (std::size_t k = 0; k < m.experiments.size(); ++k) {
    std::map<std::string, std::size_t> seen;
    for (std::size_t r : d.experiments[m.experiments[k]].rows) ++seen[d.ids[r]];
    for (std::size_t r : d.experiments[m.experiments[k]].rows) {
      if (seen[d.ids[r]] != 1) continue;
      auto& v = rows_of[d.ids[r]];
      if (v.empty() && k == 0) order.push_back(d.ids[r]);
      if (v.size() == k) v.push_back(r);
    }
  }
  m.score.resize(d.scores.size());
  for (const auto& id : order) {
    const auto& rows = rows_of[id];
    if (rows.size() != m.experiments.size()) continue;
    auto avg = [&](const std::vector<double>& v) {
      double s = 0;
      for (std::size_t r : rows) s += v[r];
      return s / static_cast<double>(rows.size());
    };
    m.ids.push_back(id);
    m.rows.push_back(rows.front());
    m.params.push_back(d.has_params() ? avg(d.params) : kNaN);
    m.p.push_back(avg(d.performance));
    for (std::size_t i = 0; i < d.scores.size(); ++i) m.score[i].push_back(avg(d.scores[i].score));
    const ScoreSeries* energy = nullptr;
    for (const auto& s : d.scores)
      if (s.spec.kind == "energy") energy = &s;
    m.energy.push_back(energy ? avg(energy->raw) : kNaN);
  }
  return m;
}

namespace {

std::string experiments_text(const ReportData& d, const ModelMeans& m) {
  std::string s;
  for (std::size_t k : m.experiments) s += (s.empty() ? "" : ", ") + d.experiments[k].name;
  return s;
}

// One panel of per-model averages against parameters: the small-scale region shaded, efficient
// architectures told apart.
PanelCount mean_panel(Svg& svg, const ReportData& d, const ModelMeans& m, double px, double py,
                      double pw, double ph, const std::vector<double>& y, const std::string& label,
                      const std::string& title) {
  Axis xa = params_axis(d);
  Axis ya = value_axis(label, y);
  std::vector<std::size_t> shown;
  for (std::size_t k = 0; k < m.ids.size(); ++k)
    if (std::isfinite(y[k]) && m.params[k] > 0) shown.push_back(k);
  svg.open_group(panel_attrs("mean", label, shown.size()));
  Panel p = svg.axes(px, py, pw, ph, xa, ya, title);
  const double cut = d.size_split.cut(m.params);
  shade_small(svg, p, d, cut);
  for (std::size_t k : shown) {
    Style st = style_of(d, m.rows[k]);
    svg.marker(st.shape, p.sx(m.params[k]), p.sy(y[k]), 3.8, st.color, "#ffffff",
               fmt::format("{}: {} params, mean {} {}{}", m.ids[k], si_label(m.params[k]), label,
                           fmt4(y[k]),
                           d.efficient.empty()      ? ""
                           : d.efficient[m.rows[k]] ? ", efficient"
                                                    : ", not efficient"),
               "pt", "fill-opacity=\"0.85\" stroke-width=\"0.7\"");
  }
  svg.close_group();
  return {"mean", label, shown.size()};
}

}  // namespace

std::optional<Figure> mean_params_figure(const ReportData& d, const std::string& which,
                                         std::string* why) {
  if (!d.has_params()) {
    *why = "the table has no parameter counts (num_param or params; --params-column)";
    return std::nullopt;
  }
  ModelMeans m = model_means(d);
  if (m.ids.empty()) {
    *why = "no model is in every main experiment once";
    return std::nullopt;
  }
  struct Series {
    std::string label;
    std::vector<double> y;
    std::string norm;
  };
  std::vector<Series> series;
  std::string name, paper, title;
  const std::string over = experiments_text(d, m);
  if (which == "fig4") {
    double top = 0;
    for (double e : m.energy)
      if (std::isfinite(e)) top = std::max(top, e);
    if (!(top > 0)) {
      *why = "no energy column was scored (-r energy)";
      return std::nullopt;
    }
    std::vector<double> y;
    for (double e : m.energy) y.push_back(e / top);
    series.push_back({"mean energy / largest mean", y,
                      "each model's mean energy divided by the largest mean (E / E_max, as the "
                      "paper's Fig. 4)"});
    name = "paper_fig4_model_space", paper = "Fig. 4", title = "The model space: energy vs size";
  } else if (which == "fig5c") {
    series.push_back({fmt::format("mean P ({})", d.performance_label), m.p, "none: P as it is"});
    name = "paper_fig5c_performance", paper = "Fig. 5c",
    title = "Test performance vs number of parameters";
  } else if (which == "fig5d") {
    const ScoreSeries& s = d.primary_score();
    series.push_back({"mean " + s.name, m.score[d.primary],
                      d.norm_text(s) + ", each model's scores then averaged"});
    name = "paper_fig5d_pepr", paper = "Fig. 5d", title = s.name + " vs number of parameters";
  } else {  // fig7: every other score
    for (std::size_t i = 0; i < d.scores.size(); ++i)
      if (i != d.primary)
        series.push_back({"mean " + d.scores[i].name, m.score[i],
                          d.norm_text(d.scores[i]) + ", each model's scores then averaged"});
    if (series.empty()) {
      *why = "only one resource was scored";
      return std::nullopt;
    }
    name = "paper_fig7_pepr_scores", paper = "Fig. 7", title = "Other PePR scores vs parameters";
  }
  auto legend = efficient_legend(d);
  legend.push_back({"small-scale: " + d.small_text(), "#9fd3ae", LegendItem::Kind::Box});
  // Every point is an average: the subtitle says over what (the paper: "averaged over the three
  // datasets").
  const std::string subtitle =
      fmt::format("Each point: one model, averaged over {} ({})",
                  plural(static_cast<long long>(m.experiments.size()), "dataset"), over);
  GridLayout g = grid_for(series.size(), 3, 470, 380, kHeader + kSubtitle);
  Svg svg(figure_width(g, legend, title, subtitle), g.height() + 8, "fig-" + name, title);
  header(svg, title, legend, subtitle);
  std::vector<PanelCount> counts;
  std::string norm;
  for (std::size_t i = 0; i < series.size(); ++i) {
    auto [cx, cy] = g.cell(i);
    counts.push_back(mean_panel(svg, d, m, cx + kPadL, cy + kPadT, 470 - kPadL - kPadR,
                                380 - kPadT - kPadB, series[i].y, series[i].label,
                                series.size() > 1 ? series[i].label : ""));
    norm += (norm.empty() ? "" : "; ") + series[i].norm;
  }
  std::string caption = fmt::format(
      "One point per model: its mean over the main experiments ({}; {} models found once in "
      "each) against its number of parameters ('{}', log scale), as the paper's {} draws them. "
      "The shaded region holds the small-scale models ({}); {}.",
      over, m.ids.size(), d.params_column, paper, d.small_text(),
      d.efficient.empty() ? "there is no 'efficient' column"
                          : "efficient architectures are blue circles, the others vermillion "
                            "triangles (each model's own flag)");
  return finish(svg, name, title, caption, std::move(counts), norm, paper);
}

std::optional<Figure> fig6_figure(const ReportData& d, std::string* why) {
  if (d.epoch_cols.empty()) {
    *why = "the table has no per-epoch performance columns (PREFIX<N>, e.g. test_00 .. test_09)";
    return std::nullopt;
  }
  const ScoreSeries& s = d.primary_score();
  // The paper draws Derma: the experiment named derma_pt when there is one, else the first main
  // experiment.
  std::size_t ei = d.experiment_index("derma_pt");
  if (ei == static_cast<std::size_t>(-1)) {
    auto main = main_experiments(d);
    ei = main.empty() ? 0 : main.front();
  }
  const Experiment& e = d.experiments[ei];
  const Table& t = d.scored.table;
  const double K = static_cast<double>(d.epoch_cols.size());
  std::vector<double> cost, pp;
  std::vector<std::size_t> row_of;
  std::vector<std::size_t> epoch_of;
  for (std::size_t r : e.rows) {
    if (!(s.raw[r] >= 0)) continue;
    for (std::size_t k = 0; k < d.epoch_cols.size(); ++k) {
      if (t.is_missing(r, d.epoch_cols[k])) continue;
      auto v = parse_number(t.cell(r, d.epoch_cols[k]));
      if (!v) continue;
      double pk = *v * d.performance_scale;
      if (pk < 0 || pk > 1) continue;
      cost.push_back(s.raw[r] * static_cast<double>(k + 1) / K);
      pp.push_back(pk);
      row_of.push_back(r);
      epoch_of.push_back(k);
    }
  }
  if (cost.size() < 2) {
    *why = fmt::format("experiment {} has fewer than two model-epoch points", e.name);
    return std::nullopt;
  }
  std::vector<double> rr = normalize(cost, std::vector<std::size_t>(cost.size(), 0), 1, d.norm);
  auto front = pareto_front(rr, pp);
  auto knee = knee_point(front, rr, pp);
  std::vector<bool> on_front(rr.size(), false);
  for (std::size_t k : front) on_front[k] = true;
  const std::string epochs = fmt::format("{} to {}", t.column_name(d.epoch_cols.front()),
                                         t.column_name(d.epoch_cols.back()));
  const std::string r_label = fmt::format("normalised cumulative {} R", s.resource);
  const std::string p_label = fmt::format("P after each epoch ({})", epochs);

  // The whole view: R over [0, its largest value]; P from the lowest point that is not an
  // outlier (below Q1 - 3 IQR, Tukey's far fence): an outlier is drawn hollow on the lower edge
  // rather than stretching the axis to 0.
  const double q1 = quantile(pp, 0.25), q3 = quantile(pp, 0.75);
  const double fence = q1 - 3 * (q3 - q1);
  std::vector<double> kept;
  for (double v : pp)
    if (v >= fence) kept.push_back(v);
  auto [plo, phi] = extent(kept, false);
  auto [ylo, yhi] = padded_range(plo, phi, false, 0.05);
  const double r_max = *std::max_element(rr.begin(), rr.end());
  Axis xa = make_axis(r_label, 0, std::max(1.0, r_max));
  Axis ya = make_axis(p_label, std::max(0.0, ylo), std::min(1.0, yhi));
  std::size_t below = 0;
  for (double v : pp) below += v < ya.lo;

  // The front enlarged: R up to a round number beyond the front's costliest point, P from a
  // round number below its lowest.
  const double front_r = rr[front.back()], front_p0 = pp[front.front()],
               front_p1 = pp[front.back()];
  const double zoom_r0 = std::max(1.25 * front_r, 0.02 * xa.hi);
  const double r_step = nice_step(0, zoom_r0);
  const double zoom_r = std::ceil(zoom_r0 / r_step - 1e-9) * r_step;
  const double zoom_p0 = front_p0 - std::max(0.25 * (front_p1 - front_p0), 0.01);
  const double zlo = std::floor(zoom_p0 * 100) / 100, zhi = front_p1 + 0.04 * (front_p1 - zlo);
  Axis zx = make_axis(r_label, 0, zoom_r);
  Axis zy = make_axis(p_label, std::max(ya.lo, zlo), std::min(ya.hi, zhi));
  // Only when it shows the front at least twice as large as the whole view does.
  const bool zoom = zoom_r < 0.5 * xa.hi || (zy.hi - zy.lo) < 0.5 * (ya.hi - ya.lo);

  auto legend = efficient_legend(d);
  legend.push_back({"Pareto front", colors::kInk, LegendItem::Kind::Line});
  if (knee)
    legend.push_back({fmt::format("knee: {} after {}", d.ids[row_of[*knee]],
                                  t.column_name(d.epoch_cols[epoch_of[*knee]])),
                      colors::kYellow, LegendItem::Kind::Marker, Shape::Star});
  const std::string title =
      fmt::format("Accuracy vs normalised {} of every model and epoch: {}", s.resource, e.name);
  const double cell_w = zoom ? 560 : 760, cell_h = 560, pad_b = kPadB + 26;
  GridLayout g = grid_for(zoom ? 2 : 1, 2, cell_w, cell_h, kHeader);
  Svg svg(figure_width(g, legend, title), g.height() + 8, "fig-paper_fig6_epochs", title);
  header(svg, title, legend);
  std::vector<PanelCount> counts;
  auto draw = [&](std::size_t cell, const Axis& x, const Axis& y, const std::string& label,
                  const std::string& panel_title, bool all) {
    std::vector<std::size_t> shown;
    for (std::size_t k = 0; k < rr.size(); ++k)
      if (all || (rr[k] <= x.hi && pp[k] >= y.lo && pp[k] <= y.hi)) shown.push_back(k);
    Area a = plot_area(g, cell, kPadT, pad_b);
    svg.open_group(panel_attrs(e.name, label, shown.size()));
    Panel p = front_panel(svg, a, x, y, panel_title, d.alpha, 0.35, rr, pp, front);
    for (std::size_t k : shown) {
      Style st = style_of(d, row_of[k]);
      const bool low = pp[k] < y.lo;  // an outlier, on the lower edge
      svg.marker(
          st.shape, p.sx(rr[k]), low ? p.sy(y.lo) : p.sy(pp[k]),
          on_front[k] ? 4.2
          : low       ? 3.4
                      : 2.6,
          low ? "#ffffff" : st.color,
          on_front[k] ? colors::kInk
          : low       ? st.color
                      : "none",
          fmt::format("{}, epoch {}: P {}, R {}, {} {}{}{}", d.ids[row_of[k]], epoch_of[k],
                      fmt4(pp[k]), fmt4(rr[k]), s.name, fmt4(pepr_score(pp[k], rr[k], d.alpha)),
                      on_front[k] ? ", on the Pareto front" : "",
                      low ? fmt::format(" (drawn at P = {})", fmt4(y.lo)) : ""),
          on_front[k] ? "pt front-pt"
          : low       ? "pt below-axis"
                      : "pt",
          on_front[k] ? "stroke-width=\"1.3\""
          : low       ? "stroke-width=\"1.5\""
                      : "fill-opacity=\"0.6\"");
    }
    if (knee)
      svg.marker(Shape::Star, p.sx(rr[*knee]), p.sy(pp[*knee]), 5.5, colors::kYellow, colors::kInk,
                 fmt::format("knee of the Pareto front: {} after {}: P {}, R {}",
                             d.ids[row_of[*knee]], t.column_name(d.epoch_cols[epoch_of[*knee]]),
                             fmt4(pp[*knee]), fmt4(rr[*knee])),
                 "knee");
    if (all && below > 0)
      svg.text_block(a.x, a.y + a.h + 66,
                     fmt::format("{} below P = {} (Q1 - 3 IQR) drawn hollow on the lower edge",
                                 plural(static_cast<long long>(below), "point"), fmt4(y.lo)),
                     a.w, 12.5, 16, "start", fmt::format("fill=\"{}\"", colors::kGrey));
    svg.close_group();
    counts.push_back({e.name, label, shown.size()});
  };
  draw(0, xa, ya, "model x epoch", fmt::format("{}: all {} points", e.name, rr.size()), true);
  if (zoom)
    draw(1, zx, zy, "Pareto front, enlarged",
         fmt::format("enlarged: R \u2264 {}, P \u2265 {}", fmt4(zx.hi), fmt4(zy.lo)), false);
  const std::string norm = fmt::format(
      "R = cumulative {} normalised over all the model-epoch points of {} ({}; each run's total "
      "spread evenly over its epochs)",
      s.resource, e.name, d.norm.describe());
  std::string caption = fmt::format(
      "Every model after every epoch in {} ({} points): test performance P ({}) against the "
      "normalised cumulative {}, over the {} contours (the background shading); the Pareto "
      "front ({} points) outlined and joined by its staircase, as the paper's Fig. 6 draws "
      "it{}.{}{}",
      e.name, rr.size(), epochs, s.resource, s.name, front.size(),
      knee ? fmt::format(", its knee starred ({} after {}: the front point farthest from the line "
                         "through its ends)",
                         d.ids[row_of[*knee]], t.column_name(d.epoch_cols[epoch_of[*knee]]))
           : "",
      zoom ? fmt::format(" The right panel enlarges the front: R up to {}, P from {}, every point "
                         "in that window.",
                         fmt4(zx.hi), fmt4(zy.lo))
           : "",
      below ? fmt::format(" The P axis starts at {}: {} below it (under Q1 - 3 IQR of all the "
                          "points' P) drawn hollow on its lower edge, its value in the tooltip.",
                          fmt4(ya.lo), plural(static_cast<long long>(below), "point"))
            : "");
  return finish(svg, "paper_fig6_epochs", title, caption, std::move(counts), norm, "Fig. 6");
}

std::optional<Figure> fig5ab_figure(const ReportData& d, const GroupTests& tests,
                                    std::string* why) {
  const bool pre = !d.pretrain_pairs.empty(), frac = d.fraction_pairs.size() >= 2;
  if (!pre && !frac) {
    *why = "no pretrained / from-scratch pair and fewer than two 10 % / 100 % pairs";
    return std::nullopt;
  }
  struct Side {
    std::vector<double> v;
    std::vector<std::string> tips;
    std::vector<std::size_t> rows;
  };
  struct PanelSpec {
    std::string label, group, name_a, name_b;
    Side a, b;
    const Comparison* c;
    std::vector<std::string> detail;  // what each side holds, a line each
  };
  std::vector<PanelSpec> panels;
  if (pre) {
    const auto& pair = d.pretrain_pairs.front();
    PanelSpec ps{"a) pretraining",
                 pair.a + " vs " + pair.b,
                 "with",
                 "without",
                 {},
                 {},
                 nullptr,
                 {"with: " + pair.a, "without: " + pair.b}};
    for (int side = 0; side < 2; ++side)
      for (std::size_t r : d.experiments[d.experiment_index(side ? pair.b : pair.a)].rows) {
        Side& s = side ? ps.b : ps.a;
        s.v.push_back(d.performance[r]);
        s.rows.push_back(r);
        s.tips.push_back(row_tip(d, r));
      }
    ps.c = find_comparison(tests, "pretrained vs scratch", ps.group, "P");
    panels.push_back(std::move(ps));
  }
  if (frac) {
    PanelSpec ps{
        "b) train set size", pooled_fraction_group(d), "10 %", "100 %", {}, {}, nullptr, {}};
    std::string list_a, list_b;
    for (const auto& p : d.fraction_pairs) {
      list_a += (list_a.empty() ? "" : ", ") + p.a;
      list_b += (list_b.empty() ? "" : ", ") + p.b;
    }
    ps.detail = {"10 %: mean of " + list_a, "100 %: mean of " + list_b};
    std::map<std::string, std::vector<double>> small, full;
    std::map<std::string, std::size_t> row;
    for (const auto& p : d.fraction_pairs) {
      for (std::size_t r : d.experiments[d.experiment_index(p.a)].rows)
        small[d.ids[r]].push_back(d.performance[r]), row[d.ids[r]] = r;
      for (std::size_t r : d.experiments[d.experiment_index(p.b)].rows)
        full[d.ids[r]].push_back(d.performance[r]);
    }
    const std::size_t k = d.fraction_pairs.size();
    for (const auto& [id, v] : small)
      if (auto it = full.find(id); it != full.end() && v.size() == k && it->second.size() == k) {
        ps.a.v.push_back(mean(v)), ps.b.v.push_back(mean(it->second));
        ps.a.rows.push_back(row[id]), ps.b.rows.push_back(row[id]);
        ps.a.tips.push_back(
            fmt::format("{}: mean P over the 10 % experiments {}", id, fmt4(mean(v))));
        ps.b.tips.push_back(
            fmt::format("{}: mean P over the 100 % experiments {}", id, fmt4(mean(it->second))));
      }
    ps.c = find_comparison(tests, kPooledFractionTest, ps.group, "P");
    panels.push_back(std::move(ps));
  }
  std::vector<LegendItem> legend;
  const std::string title = "Pretraining and train set size: test performance";
  // A panel: its title and the test above the plot, under it the sides' names and what each
  // side holds (wrapped to the cell).
  const double cell_w = 380, cell_h = 480, pad_t = 70, pad_b = 130, pad_l = 70, pad_r = 20;
  GridLayout g = grid_for(panels.size(), 2, cell_w, cell_h, 60);
  Svg svg(figure_width(g, legend, title), g.height() + 8, "fig-paper_fig5ab_violins", title);
  header(svg, title, legend);
  std::vector<PanelCount> counts;
  for (std::size_t i = 0; i < panels.size(); ++i) {
    const auto& ps = panels[i];
    auto [cx, cy] = g.cell(i);
    Area a{cx + pad_l, cy + pad_t, cell_w - pad_l - pad_r, cell_h - pad_t - pad_b};
    std::vector<double> all;
    for (const auto* s : {&ps.a, &ps.b}) {
      auto [lo, hi] = extent(s->v, false);
      double bw = silverman_bandwidth(s->v);
      all.insert(all.end(), {lo - bw, hi + bw});
    }
    Axis xa = make_axis("", 0, 1);
    xa.hide_ticks = true;
    Axis ya =
        value_axis(fmt::format("test performance P ({})", d.performance_label), all, false, 0.03);
    const std::size_t npts = ps.a.v.size() + ps.b.v.size();
    svg.open_group(panel_attrs(ps.group, ps.label, npts));
    Panel p = svg.axes(a.x, a.y, a.w, a.h, xa, ya);
    violin(svg, p, p.sx(0.3), 0.16 * a.w, d, ps.a.rows, ps.a.v, colors::kBlue, ps.group, ps.name_a,
           "P", &ps.a.tips);
    violin(svg, p, p.sx(0.7), 0.16 * a.w, d, ps.b.rows, ps.b.v, colors::kOrange, ps.group,
           ps.name_b, "P", &ps.b.tips);
    std::string st = fmt::format("font-size=\"{}\" fill=\"{}\"", num(font::kNote), colors::kInk);
    svg.text(a.x + a.w / 2, a.y - 40, ps.label, "middle",
             fmt::format("font-size=\"{}\" font-weight=\"bold\" fill=\"{}\"",
                         num(font::kPanelTitle), colors::kInk));
    svg.text(a.x + a.w / 2, a.y - 14,
             ps.c ? fmt::format("Student t: {} {}", p_text(ps.c->student.p), stars(ps.c->student.p))
                  : "too few models for a test",
             "middle", st);
    svg.text(p.sx(0.3), a.y + a.h + 20, ps.name_a, "middle", st);
    svg.text(p.sx(0.7), a.y + a.h + 20, ps.name_b, "middle", st);
    // What each side holds, centred under the plot and wrapped inside the cell.
    const double mid = a.x + a.w / 2, room = 2 * std::min(mid - cx, cx + cell_w - mid) - 16;
    double ty = a.y + a.h + 48;
    for (const auto& line : ps.detail)
      ty += 17 * static_cast<double>(
                     svg.text_block(mid, ty, line, room, 12.5, 17, "middle",
                                    fmt::format("class=\"detail\" fill=\"{}\"", colors::kInk)));
    svg.close_group();
    counts.push_back({ps.group, ps.label, npts});
  }
  std::string caption =
      "Test performance P of every model: (a) pretrained vs trained from scratch on one dataset, "
      "(b) each model's P averaged over the 10 % experiments vs averaged over the 100 % ones, "
      "with the two-sample Student t-test's p-value (equal variances, scipy's ttest_ind, as the "
      "paper), as the paper's Fig. 5a and 5b draw them.";
  return finish(svg, "paper_fig5ab_violins", title, caption, std::move(counts),
                "none: P is not normalised", "Fig. 5a, 5b");
}

FigureSet make_figures(const ReportData& d, const GroupTests& tests) {
  FigureSet out;
  std::string why;
  auto take = [&](std::optional<Figure> f, const std::string& name) {
    if (f)
      out.figures.push_back(std::move(*f));
    else
      out.left_out.emplace_back(name, why);
    why.clear();
  };
  out.figures.push_back(isocline_figure(d.alpha));
  take(curve_figure(d, &why), "pepr_curve");
  take(model_space_figure(d, &why), "model_space");
  take(violin_figure(d, tests, "pretraining", &why), "violin_pretraining");
  take(violin_figure(d, tests, "data_fraction", &why), "violin_data_fraction");
  take(performance_params_figure(d, &why), "p_pepr_vs_params");
  out.figures.push_back(pareto_figure(d));
  if (d.scores.size() == 1)
    out.left_out.emplace_back("pepr_x_vs_params",
                              "only one resource was scored; give several --resource (e.g. -r "
                              "energy -r co2 -r memory=memR -r time=train_time)");
  for (std::size_t i = 0; i < d.scores.size(); ++i)
    if (i != d.primary)
      take(score_params_figure(d, i, &why), d.scores[i].spec.score_name + "_vs_params");
  take(small_large_figure(d, tests, &why), "small_vs_large");
  // The paper's figures as the paper drew them.
  take(mean_params_figure(d, "fig4", &why), "paper_fig4_model_space");
  take(fig5ab_figure(d, tests, &why), "paper_fig5ab_violins");
  take(mean_params_figure(d, "fig5c", &why), "paper_fig5c_performance");
  take(mean_params_figure(d, "fig5d", &why), "paper_fig5d_pepr");
  take(fig6_figure(d, &why), "paper_fig6_epochs");
  take(mean_params_figure(d, "fig7", &why), "paper_fig7_pepr_scores");
  return out;
}

}  // namespace pepr::report
