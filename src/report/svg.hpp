// A small SVG writer for pepr's figures: escaping, scales (linear and log10), round-number
// ticks, axes with grid lines, markers with <title> tooltips, legends and a colour map.
//
// Every figure is plain SVG 1.1 text with no external references (no fonts, images or
// scripts), so it is a well-formed XML file on its own and can be inlined into HTML.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pepr::report {

// Text for XML character data and attribute values: & < > " ' escaped; control characters
// other than tab and newline (not allowed in XML 1.0) become spaces.
std::string xml_escape(std::string_view text);

// A coordinate or length as short text: at most two decimals, no trailing zeros.
std::string num(double v);

// Maps a data interval onto a pixel interval, linearly or in log10.
struct Scale {
  double d0 = 0, d1 = 1;  // domain (data)
  double r0 = 0, r1 = 1;  // range (pixels)
  bool log = false;       // domain values must then be > 0
  double operator()(double v) const;
};

// About `target` round-number ticks (steps of 1, 2 or 5 x 10^k) inside [lo, hi].
std::vector<double> nice_ticks(double lo, double hi, int target = 5);
// The step nice_ticks uses for [lo, hi].
double nice_step(double lo, double hi, int target = 5);
// Ticks for a log10 axis inside [lo, hi] (both > 0): the powers of ten, with 2x and 5x
// multiples when the range spans fewer than two decades, else linear ticks when even those are
// too few.
std::vector<double> log_ticks(double lo, double hi);
// A data range [lo, hi] widened by `pad` of its width on each side (in log10 for log axes); a
// range of width 0 is widened around its value.
std::pair<double, double> padded_range(double lo, double hi, bool log, double pad = 0.05);

// Tick label with as many decimals as the step needs (0.05 -> 2 decimals).
std::string tick_label(double v, double step);
// Short label for a log axis tick: 0.001, 20, 1e-05 style only when needed.
std::string short_number(double v);
// A count with an SI suffix: 500k, 1M, 25M, 1G.
std::string si_label(double v);

// One axis of a panel.
struct Axis {
  std::string label;
  double lo = 0, hi = 1;  // domain
  bool log = false;
  std::vector<double> ticks;                  // empty: computed
  std::function<std::string(double)> format;  // empty: tick_label / short_number
  bool hide_ticks = false;                    // no ticks, labels or grid lines
};

// An axis with a label and a domain; ticks computed.
Axis make_axis(std::string label, double lo, double hi, bool log = false);

// The ticks of `a` drawn along `length` pixels whose labels do not run into each other
// (horizontal: the labels' estimated widths plus a gap between neighbours; vertical: a line of
// tick text between them): the axis's own ticks (a.ticks, else about 5 round ones) when they
// fit, else fewer round ones (about 4, 3, 2), else every second, third, ... of them. Ticks
// outside [a.lo, a.hi] are dropped.
std::vector<double> fitted_ticks(const Axis& a, double length, bool horizontal);
// The label of tick `v` among `ticks` of axis `a`: a.format, else short_number on a log axis,
// else tick_label with the ticks' step.
std::string axis_tick_label(const Axis& a, const std::vector<double>& ticks, double v);

// The drawing area of a panel and its scales.
struct Panel {
  double x = 0, y = 0, w = 0, h = 0;  // plot area in pixels
  Scale sx, sy;
};

enum class Shape { Circle, Diamond, Triangle, Square, Star };

struct LegendItem {
  std::string label;
  std::string color;
  enum class Kind { Marker, Line, DashedLine, Box } kind = Kind::Marker;
  Shape shape = Shape::Circle;
  bool hollow = false;
  double opacity = 0.6;  // Box: the fill's opacity
};

// Figure colours: Okabe-Ito, safe for colour-blind readers.
namespace colors {
inline constexpr const char* kBlue = "#0072B2";
inline constexpr const char* kOrange = "#E69F00";
inline constexpr const char* kVermillion = "#D55E00";
inline constexpr const char* kGreen = "#009E73";
inline constexpr const char* kPurple = "#CC79A7";
inline constexpr const char* kSky = "#56B4E9";
inline constexpr const char* kYellow = "#F0E442";
inline constexpr const char* kGrey = "#6E6E6E";
inline constexpr const char* kInk = "#222222";
}  // namespace colors

// The viridis colour map at t in [0, 1], as #rrggbb.
std::string viridis(double t);

class Svg {
 public:
  // `id` names the root element (used by the HTML report and the tests); `title` and `desc`
  // become the root's <title> and <desc>.
  Svg(double width, double height, std::string id, std::string title, std::string desc = "");

  double width() const { return width_; }
  double height() const { return height_; }

  // Elements; `attrs` is appended verbatim inside the tag (already escaped by the caller).
  void open_group(std::string_view attrs);
  void close_group();
  void rect(double x, double y, double w, double h, std::string_view attrs,
            std::string_view title = "");
  void line(double x1, double y1, double x2, double y2, std::string_view attrs);
  void polyline(const std::vector<std::pair<double, double>>& pts, std::string_view attrs);
  void polygon(const std::vector<std::pair<double, double>>& pts, std::string_view attrs);
  void path(std::string_view d, std::string_view attrs, std::string_view title = "");
  // Text; `anchor` is start, middle or end; `attrs` may add font-size, fill, transform.
  void text(double x, double y, std::string_view content, std::string_view anchor = "start",
            std::string_view attrs = "");
  // A data point: a marker of class `cls` with a <title> tooltip.
  void marker(Shape shape, double x, double y, double r, std::string_view fill,
              std::string_view stroke, std::string_view title, std::string_view cls = "pt",
              std::string_view extra = "");
  void raw(std::string_view text) { body_ += text; }

  // Axes: white plot area, grid lines at the ticks, frame, tick marks and labels, axis labels
  // and a title above the plot area. Returns the panel's scales.
  Panel axes(double x, double y, double w, double h, const Axis& xa, const Axis& ya,
             std::string_view title = "");
  // A legend box with its top-left corner at (x, y), items in a row (`columns` = 0) or in a
  // grid of `columns` columns. Returns its size.
  std::pair<double, double> legend(double x, double y, const std::vector<LegendItem>& items,
                                   int columns = 0);
  // Width in pixels that `text` takes at `font_size` (for layout): the advance widths of DejaVu
  // Sans, the first font the figures ask for (Helvetica and Arial are narrower); `bold` for
  // font-weight bold. UTF-8; wide (CJK) characters count one em.
  static double text_width(std::string_view text, double font_size, bool bold = false);
  // `text` broken at spaces into lines no wider than `width` at `font_size` (a word wider than
  // `width` gets a line of its own).
  static std::vector<std::string> wrap(std::string_view text, double font_size, double width,
                                       bool bold = false);
  // Text wrapped to `width` (as wrap), one <text> per line, the first baseline at y, lines
  // `line_h` apart. Returns the number of lines.
  std::size_t text_block(double x, double y, std::string_view content, double width,
                         double font_size, double line_h, std::string_view anchor = "start",
                         std::string_view attrs = "", bool bold = false);
  // A line of small text under everything drawn so far, wrapped to the width; the figure grows
  // to hold it (e.g. the normalisation behind the figure's numbers).
  void footnote(std::string_view text);

  // The document: with the XML declaration for a file, without it for inlining in HTML.
  std::string str(bool xml_declaration = true) const;

 private:
  double width_, height_;
  std::string id_, title_, desc_;
  std::string body_;
};

// Cells of a grid of panels of equal size.
struct GridLayout {
  std::size_t count = 1, columns = 1;
  double cell_w = 380, cell_h = 320;
  double top = 0;   // space above the grid (title, legend)
  double left = 0;  // space left of the grid
  std::size_t rows() const { return (count + columns - 1) / columns; }
  double width() const { return left + static_cast<double>(columns) * cell_w; }
  double height() const { return top + static_cast<double>(rows()) * cell_h; }
  std::pair<double, double> cell(std::size_t i) const {
    return {left + static_cast<double>(i % columns) * cell_w,
            top + static_cast<double>(i / columns) * cell_h};
  }
};

// Font sizes (px) used by every figure: a 1100 px wide figure printed 17 cm wide shows its
// smallest text at about 6 pt, a 540 px one printed 8.5 cm wide at about 6.5 pt.
namespace font {
inline constexpr double kTick = 14;
inline constexpr double kLabel = 15;
inline constexpr double kPanelTitle = 16;
inline constexpr double kTitle = 19;
inline constexpr double kNote = 13;
// The box of a line of DejaVu Sans text, in ems: from kAscent above the baseline to kDescent
// below it.
inline constexpr double kAscent = 0.93;
inline constexpr double kDescent = 0.24;
}  // namespace font

}  // namespace pepr::report
