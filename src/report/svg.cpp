#include "report/svg.hpp"

#include <algorithm>
#include <array>
#include <cmath>

#include <fmt/format.h>

namespace pepr::report {

std::string xml_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n')
          out += ' ';
        else
          out += c;
    }
  }
  return out;
}

std::string num(double v) {
  if (!std::isfinite(v)) return "0";
  std::string s = fmt::format("{:.2f}", v);
  while (!s.empty() && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  if (s == "-0") s = "0";
  return s;
}

double Scale::operator()(double v) const {
  double a = d0, b = d1, x = v;
  if (log) {
    a = std::log10(d0);
    b = std::log10(d1);
    x = std::log10(v);
  }
  if (b == a) return 0.5 * (r0 + r1);
  return r0 + (x - a) / (b - a) * (r1 - r0);
}

double nice_step(double lo, double hi, int target) {
  double range = hi - lo;
  if (!(range > 0) || !std::isfinite(range)) return 1;
  double rough = range / std::max(1, target);
  double mag = std::pow(10.0, std::floor(std::log10(rough)));
  double norm = rough / mag;
  double step = norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10;
  return step * mag;
}

std::vector<double> nice_ticks(double lo, double hi, int target) {
  std::vector<double> out;
  if (!(hi > lo)) {
    out.push_back(lo);
    return out;
  }
  double step = nice_step(lo, hi, target);
  double eps = step * 1e-9;
  for (double k = std::ceil((lo - eps) / step); k * step <= hi + eps; k += 1) {
    double v = k * step;
    if (std::fabs(v) < eps) v = 0;
    out.push_back(v);
  }
  return out;
}

std::vector<double> log_ticks(double lo, double hi) {
  std::vector<double> out;
  if (!(lo > 0) || !(hi > lo)) return nice_ticks(lo, hi);
  const double eps = 1e-9;
  int k0 = static_cast<int>(std::ceil(std::log10(lo) - eps));
  int k1 = static_cast<int>(std::floor(std::log10(hi) + eps));
  for (int k = k0; k <= k1; ++k) out.push_back(std::pow(10.0, k));
  if (out.size() >= 3) return out;
  // Fewer than two decades: add 2x and 5x.
  out.clear();
  for (int k = k0 - 1; k <= k1; ++k)
    for (double m : {1.0, 2.0, 5.0}) {
      double v = m * std::pow(10.0, k);
      if (v >= lo * (1 - eps) && v <= hi * (1 + eps)) out.push_back(v);
    }
  if (out.size() >= 3) return out;
  return nice_ticks(lo, hi, 4);
}

std::pair<double, double> padded_range(double lo, double hi, bool log, double pad) {
  if (log) {
    double a = std::log10(lo), b = std::log10(hi);
    if (b - a < 1e-12) a -= 0.5, b += 0.5;
    double d = (b - a) * pad;
    return {std::pow(10.0, a - d), std::pow(10.0, b + d)};
  }
  if (hi - lo < 1e-12 * std::max(1.0, std::fabs(lo))) {
    double d = std::fabs(lo) > 0 ? std::fabs(lo) * 0.1 : 0.5;
    return {lo - d, hi + d};
  }
  double d = (hi - lo) * pad;
  return {lo - d, hi + d};
}

std::string tick_label(double v, double step) {
  int decimals = 0;
  if (step > 0 && step < 1) decimals = static_cast<int>(std::ceil(-std::log10(step) - 1e-9));
  decimals = std::clamp(decimals, 0, 8);
  std::string s = fmt::format("{:.{}f}", v, decimals);
  if (s == "-0" || (s.rfind("-0.", 0) == 0 && std::stod(s) == 0)) s = s.substr(1);
  return s;
}

std::string short_number(double v) {
  double a = std::fabs(v);
  if (a == 0) return "0";
  if (a >= 1e-3 && a < 1e6) {
    std::string s = fmt::format("{:.6f}", v);
    while (s.back() == '0') s.pop_back();
    if (s.back() == '.') s.pop_back();
    return s;
  }
  int e = static_cast<int>(std::floor(std::log10(a)));
  double m = v / std::pow(10.0, e);
  if (std::fabs(m - std::round(m)) < 1e-9) return fmt::format("{}e{}", std::lround(m), e);
  return fmt::format("{:.2g}e{}", m, e);
}

std::string si_label(double v) {
  struct Unit {
    double size;
    const char* suffix;
  };
  static constexpr std::array<Unit, 4> units{{{1e9, "G"}, {1e6, "M"}, {1e3, "k"}, {1, ""}}};
  for (const auto& u : units)
    if (std::fabs(v) >= u.size) return fmt::format("{:.3g}", v / u.size) + u.suffix;
  return short_number(v);
}

std::string viridis(double t) {
  static constexpr std::array<std::array<int, 3>, 9> kStops{{{0x44, 0x01, 0x54},
                                                             {0x47, 0x2d, 0x7b},
                                                             {0x3b, 0x52, 0x8b},
                                                             {0x2c, 0x72, 0x8e},
                                                             {0x21, 0x91, 0x8c},
                                                             {0x28, 0xae, 0x80},
                                                             {0x5e, 0xc9, 0x62},
                                                             {0xad, 0xdc, 0x30},
                                                             {0xfd, 0xe7, 0x25}}};
  if (!std::isfinite(t)) t = 0;
  t = std::clamp(t, 0.0, 1.0) * static_cast<double>(kStops.size() - 1);
  std::size_t i = std::min(static_cast<std::size_t>(t), kStops.size() - 2);
  double f = t - static_cast<double>(i);
  int rgb[3];
  for (int c = 0; c < 3; ++c)
    rgb[c] = static_cast<int>(std::lround(kStops[i][c] + f * (kStops[i + 1][c] - kStops[i][c])));
  return fmt::format("#{:02x}{:02x}{:02x}", rgb[0], rgb[1], rgb[2]);
}

Axis make_axis(std::string label, double lo, double hi, bool log) {
  Axis a;
  a.label = std::move(label);
  a.lo = lo, a.hi = hi, a.log = log;
  return a;
}

Svg::Svg(double width, double height, std::string id, std::string title, std::string desc)
    : width_(width),
      height_(height),
      id_(std::move(id)),
      title_(std::move(title)),
      desc_(std::move(desc)) {}

void Svg::open_group(std::string_view attrs) {
  body_ += "<g";
  if (!attrs.empty()) body_ += fmt::format(" {}", attrs);
  body_ += ">\n";
}

void Svg::close_group() {
  body_ += "</g>\n";
}

void Svg::rect(double x, double y, double w, double h, std::string_view attrs,
               std::string_view title) {
  body_ += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" {}", num(x), num(y),
                       num(std::max(0.0, w)), num(std::max(0.0, h)), attrs);
  if (title.empty())
    body_ += "/>\n";
  else
    body_ += fmt::format("><title>{}</title></rect>\n", xml_escape(title));
}

void Svg::line(double x1, double y1, double x2, double y2, std::string_view attrs) {
  body_ += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" {}/>\n", num(x1), num(y1),
                       num(x2), num(y2), attrs);
}

namespace {
std::string points_attr(const std::vector<std::pair<double, double>>& pts) {
  std::string s;
  for (const auto& [x, y] : pts) {
    if (!s.empty()) s += ' ';
    s += num(x) + "," + num(y);
  }
  return s;
}
}  // namespace

void Svg::polyline(const std::vector<std::pair<double, double>>& pts, std::string_view attrs) {
  body_ += fmt::format("<polyline points=\"{}\" fill=\"none\" {}/>\n", points_attr(pts), attrs);
}

void Svg::polygon(const std::vector<std::pair<double, double>>& pts, std::string_view attrs) {
  if (pts.size() < 3) return;
  body_ += fmt::format("<polygon points=\"{}\" {}/>\n", points_attr(pts), attrs);
}

void Svg::path(std::string_view d, std::string_view attrs, std::string_view title) {
  if (title.empty()) {
    body_ += fmt::format("<path d=\"{}\" {}/>\n", d, attrs);
  } else {
    body_ +=
        fmt::format("<path d=\"{}\" {}><title>{}</title></path>\n", d, attrs, xml_escape(title));
  }
}

void Svg::text(double x, double y, std::string_view content, std::string_view anchor,
               std::string_view attrs) {
  body_ += fmt::format("<text x=\"{}\" y=\"{}\"", num(x), num(y));
  if (anchor != "start") body_ += fmt::format(" text-anchor=\"{}\"", anchor);
  if (!attrs.empty()) body_ += fmt::format(" {}", attrs);
  body_ += fmt::format(">{}</text>\n", xml_escape(content));
}

void Svg::marker(Shape shape, double x, double y, double r, std::string_view fill,
                 std::string_view stroke, std::string_view title, std::string_view cls,
                 std::string_view extra) {
  const bool own_width = extra.find("stroke-width") != std::string_view::npos;
  std::string common =
      fmt::format("class=\"{}\" fill=\"{}\" stroke=\"{}\"{}{}{}", cls, fill, stroke,
                  own_width ? "" : " stroke-width=\"1\"", extra.empty() ? "" : " ", extra);
  std::string tip = fmt::format("<title>{}</title>", xml_escape(title));
  switch (shape) {
    case Shape::Circle:
      body_ += fmt::format("<circle cx=\"{}\" cy=\"{}\" r=\"{}\" {}>{}</circle>\n", num(x), num(y),
                           num(r), common, tip);
      return;
    case Shape::Square:
      body_ +=
          fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" {}>{}</rect>\n",
                      num(x - r * 0.9), num(y - r * 0.9), num(1.8 * r), num(1.8 * r), common, tip);
      return;
    case Shape::Diamond: {
      double d = r * 1.3;
      body_ +=
          fmt::format("<path d=\"M{} {}L{} {}L{} {}L{} {}Z\" {}>{}</path>\n", num(x), num(y - d),
                      num(x + d), num(y), num(x), num(y + d), num(x - d), num(y), common, tip);
      return;
    }
    case Shape::Triangle: {
      double d = r * 1.35;
      body_ += fmt::format("<path d=\"M{} {}L{} {}L{} {}Z\" {}>{}</path>\n", num(x), num(y - d),
                           num(x + d * 0.95), num(y + d * 0.7), num(x - d * 0.95), num(y + d * 0.7),
                           common, tip);
      return;
    }
    case Shape::Star: {
      std::string d;
      for (int k = 0; k < 10; ++k) {
        double a = -M_PI / 2 + k * M_PI / 5;
        double rr = (k % 2 ? 0.45 : 1.0) * r * 1.8;
        d += fmt::format("{}{} {}", k ? "L" : "M", num(x + rr * std::cos(a)),
                         num(y + rr * std::sin(a)));
      }
      body_ += fmt::format("<path d=\"{}Z\" {}>{}</path>\n", d, common, tip);
      return;
    }
  }
}

namespace {

// Advance widths of DejaVu Sans and DejaVu Sans Bold for ' ' .. '~', in thousandths of an em (as
// Chromium lays them out, without kerning).
constexpr std::array<unsigned short, 95> kDejaVu{
    318, 401, 460, 838, 636, 950, 780, 275, 390, 390, 500, 838, 318, 361,  318, 337, 636, 636, 636,
    636, 636, 636, 636, 636, 636, 636, 337, 337, 838, 838, 838, 531, 1000, 684, 686, 698, 770, 632,
    575, 775, 752, 295, 295, 656, 557, 863, 748, 787, 603, 787, 695, 635,  611, 732, 684, 989, 685,
    611, 685, 390, 337, 390, 838, 500, 500, 613, 635, 550, 635, 615, 352,  635, 634, 278, 278, 579,
    278, 974, 634, 612, 635, 635, 411, 521, 392, 634, 592, 818, 592, 592,  525, 636, 337, 636, 838};
constexpr std::array<unsigned short, 95> kDejaVuBold{
    348,  456, 521, 838, 696, 1002, 872, 306,  457, 457, 523, 838, 380, 415,  380, 365,
    696,  696, 696, 696, 696, 696,  696, 696,  696, 696, 400, 400, 838, 838,  838, 580,
    1000, 774, 762, 734, 830, 683,  683, 821,  837, 372, 372, 775, 637, 995,  837, 850,
    733,  850, 770, 720, 682, 812,  774, 1103, 771, 724, 725, 457, 365, 457,  838, 500,
    500,  675, 716, 593, 716, 678,  435, 716,  712, 343, 343, 665, 343, 1042, 712, 687,
    716,  716, 493, 595, 478, 712,  652, 924,  645, 652, 582, 712, 365, 712,  838};

// The next code point of UTF-8 text at `i` (advancing it); a stray byte counts as itself.
char32_t next_code_point(std::string_view s, std::size_t& i) {
  unsigned char c = static_cast<unsigned char>(s[i++]);
  int extra = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : c >= 0xC0 ? 1 : 0;
  char32_t cp = extra == 3 ? c & 0x07u : extra == 2 ? c & 0x0Fu : extra == 1 ? c & 0x1Fu : c;
  for (; extra > 0 && i < s.size() && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80; --extra)
    cp = (cp << 6) | (static_cast<unsigned char>(s[i++]) & 0x3Fu);
  return cp;
}

bool wide(char32_t cp) {
  return (cp >= 0x1100 && cp <= 0x115F) || (cp >= 0x2E80 && cp <= 0xA4CF) ||
         (cp >= 0xAC00 && cp <= 0xD7A3) || (cp >= 0xF900 && cp <= 0xFAFF) ||
         (cp >= 0xFF00 && cp <= 0xFF60) || (cp >= 0x1F300 && cp <= 0x1FAFF);
}

}  // namespace

double Svg::text_width(std::string_view text, double font_size, bool bold) {
  const auto& table = bold ? kDejaVuBold : kDejaVu;
  double w = 0;  // thousandths of an em
  for (std::size_t i = 0; i < text.size();) {
    char32_t cp = next_code_point(text, i);
    if (cp >= 0x20 && cp <= 0x7E)
      w += table[cp - 0x20];
    else if (cp == 0xA0 || cp == 0xB7 || cp == 0x2009)  // no-break space, middle dot, thin space
      w += table[0];
    else if (wide(cp))
      w += 1000;
    else if (cp >= 0x20)
      w += bold ? 760 : 700;  // other letters and symbols (en dash 500, em dash 1000, <= 838)
  }
  return w / 1000 * font_size;
}

std::vector<std::string> Svg::wrap(std::string_view text, double font_size, double width,
                                   bool bold) {
  std::vector<std::string> lines(1);
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t end = text.find(' ', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string word(text.substr(pos, end - pos));
    std::string trial = lines.back().empty() ? word : lines.back() + " " + word;
    if (!lines.back().empty() && text_width(trial, font_size, bold) > width)
      lines.push_back(word);
    else
      lines.back() = trial;
    pos = end + 1;
  }
  return lines;
}

std::size_t Svg::text_block(double x, double y, std::string_view content, double width,
                            double font_size, double line_h, std::string_view anchor,
                            std::string_view attrs, bool bold) {
  auto lines = wrap(content, font_size, width, bold);
  std::string style =
      fmt::format("font-size=\"{}\"{}{}{}", num(font_size), bold ? " font-weight=\"bold\"" : "",
                  attrs.empty() ? "" : " ", attrs);
  for (std::size_t k = 0; k < lines.size(); ++k)
    text(x, y + static_cast<double>(k) * line_h, lines[k], anchor, style);
  return lines.size();
}

std::string axis_tick_label(const Axis& a, const std::vector<double>& ticks, double v) {
  if (a.format) return a.format(v);
  if (a.log) return short_number(v);
  return tick_label(v, ticks.size() >= 2 ? ticks[1] - ticks[0] : 1);
}

namespace {

// Pixels between the labels of neighbouring ticks on a horizontal axis, and the height a tick
// label takes on a vertical one (its line box and a gap).
constexpr double kTickGap = 8;
constexpr double kTickLineH = (font::kAscent + font::kDescent) * font::kTick + 4;

bool ticks_fit(const Axis& a, const std::vector<double>& ticks, double length, bool horizontal) {
  if (ticks.size() < 2) return true;
  Scale s{a.lo, a.hi, 0, length, a.log};
  for (std::size_t i = 0; i + 1 < ticks.size(); ++i) {
    double room = std::fabs(s(ticks[i + 1]) - s(ticks[i]));
    double need = horizontal
                      ? (Svg::text_width(axis_tick_label(a, ticks, ticks[i]), font::kTick) +
                         Svg::text_width(axis_tick_label(a, ticks, ticks[i + 1]), font::kTick)) /
                                2 +
                            kTickGap
                      : kTickLineH;
    if (room < need) return false;
  }
  return true;
}

std::vector<double> inside(const Axis& a, const std::vector<double>& t) {
  std::vector<double> in;
  double eps = (a.log ? 1e-9 * a.hi : 1e-9 * (a.hi - a.lo));
  for (double v : t)
    if (v >= a.lo - eps && v <= a.hi + eps) in.push_back(v);
  return in;
}

}  // namespace

std::vector<double> fitted_ticks(const Axis& a, double length, bool horizontal) {
  if (a.hide_ticks) return {};
  std::vector<double> base = inside(a, !a.ticks.empty() ? a.ticks
                                       : a.log          ? log_ticks(a.lo, a.hi)
                                                        : nice_ticks(a.lo, a.hi));
  if (ticks_fit(a, base, length, horizontal)) return base;
  if (a.ticks.empty() && !a.log)
    for (int target : {4, 3, 2}) {
      auto t = inside(a, nice_ticks(a.lo, a.hi, target));
      if (t.size() >= 2 && ticks_fit(a, t, length, horizontal)) return t;
      if (t.size() >= 2) base = t;
    }
  for (std::size_t stride = 2; stride < base.size(); ++stride) {
    std::vector<double> t;
    for (std::size_t i = 0; i < base.size(); i += stride) t.push_back(base[i]);
    if (ticks_fit(a, t, length, horizontal)) return t;
  }
  return {base.front()};
}

Panel Svg::axes(double x, double y, double w, double h, const Axis& xa, const Axis& ya,
                std::string_view title) {
  Panel p;
  p.x = x, p.y = y, p.w = w, p.h = h;
  p.sx = Scale{xa.lo, xa.hi, x, x + w, xa.log};
  p.sy = Scale{ya.lo, ya.hi, y + h, y, ya.log};
  const std::vector<double> xt = fitted_ticks(xa, w, true), yt = fitted_ticks(ya, h, false);
  auto xl = [&](double v) { return axis_tick_label(xa, xt, v); };
  auto yl = [&](double v) { return axis_tick_label(ya, yt, v); };

  rect(x, y, w, h, "fill=\"#ffffff\" stroke=\"none\"");
  open_group("class=\"grid\" stroke=\"#e3e3e3\" stroke-width=\"1\"");
  for (double v : xt) line(p.sx(v), y, p.sx(v), y + h, "");
  for (double v : yt) line(x, p.sy(v), x + w, p.sy(v), "");
  close_group();
  rect(x, y, w, h, fmt::format("fill=\"none\" stroke=\"{}\" stroke-width=\"1\"", colors::kGrey));
  // Tick labels: an x label's box starts 8 px under the frame, a y label's ends 9 px left of it,
  // so that the first labels of the two axes clear each other at the corner.
  const std::string axis_style =
      fmt::format("fill=\"{}\" font-size=\"{}\"", colors::kInk, num(font::kTick));
  open_group("class=\"axis x-axis\" " + axis_style);
  for (double v : xt) {
    double px = p.sx(v);
    line(px, y + h, px, y + h + 5, fmt::format("stroke=\"{}\"", colors::kGrey));
    text(px, y + h + 21, xl(v), "middle");
  }
  close_group();
  open_group("class=\"axis y-axis\" " + axis_style);
  for (double v : yt) {
    double py = p.sy(v);
    line(x - 5, py, x, py, fmt::format("stroke=\"{}\"", colors::kGrey));
    text(x - 9, py + 4.5, yl(v), "end");
  }
  close_group();
  if (!xa.label.empty())
    text(x + w / 2, y + h + 42, xa.label, "middle",
         fmt::format("font-size=\"{}\" fill=\"{}\"", num(font::kLabel), colors::kInk));
  if (!ya.label.empty()) {
    double maxw = 0;
    for (double v : yt) maxw = std::max(maxw, text_width(yl(v), font::kTick));
    double lx = x - 17 - maxw;
    text(lx, y + h / 2, ya.label, "middle",
         fmt::format("font-size=\"{}\" fill=\"{}\" transform=\"rotate(-90 {} {})\"",
                     num(font::kLabel), colors::kInk, num(lx), num(y + h / 2)));
  }
  if (!title.empty())
    text(x + w / 2, y - 10, title, "middle",
         fmt::format("font-size=\"{}\" font-weight=\"bold\" fill=\"{}\"", num(font::kPanelTitle),
                     colors::kInk));
  return p;
}

std::pair<double, double> Svg::legend(double x, double y, const std::vector<LegendItem>& items,
                                      int columns) {
  const double fs = font::kLabel, row_h = 22, sym = 22, gap = 6, sep = 20, pad = 8;
  std::vector<double> widths;
  for (const auto& it : items) widths.push_back(sym + gap + text_width(it.label, fs));
  std::size_t cols = columns > 0 ? static_cast<std::size_t>(columns) : items.size();
  cols = std::max<std::size_t>(1, std::min(cols, items.size()));
  std::vector<double> colw(cols, 0);
  for (std::size_t i = 0; i < items.size(); ++i)
    colw[i % cols] = std::max(colw[i % cols], widths[i]);
  double total_w = 2 * pad;
  for (std::size_t c = 0; c < cols; ++c) total_w += colw[c] + (c + 1 < cols ? sep : 0);
  std::size_t rows = (items.size() + cols - 1) / cols;
  double total_h = 2 * pad + static_cast<double>(rows) * row_h - 4;
  open_group("class=\"legend\"");
  rect(x, y, total_w, total_h,
       "fill=\"#ffffff\" fill-opacity=\"0.92\" stroke=\"#c8c8c8\" stroke-width=\"1\" rx=\"3\"");
  for (std::size_t i = 0; i < items.size(); ++i) {
    const auto& it = items[i];
    double cx = x + pad;
    for (std::size_t c = 0; c < i % cols; ++c) cx += colw[c] + sep;
    double cy = y + pad + static_cast<double>(i / cols) * row_h + row_h / 2 - 2;
    switch (it.kind) {
      case LegendItem::Kind::Marker: {
        // Legend markers are not data points: class "key".
        std::string fill = it.hollow ? "#ffffff" : it.color;
        std::string stroke = it.hollow ? it.color : "#ffffff";
        marker(it.shape, cx + sym / 2, cy, 5, fill, stroke, it.label, "key");
        break;
      }
      case LegendItem::Kind::Line:
      case LegendItem::Kind::DashedLine:
        line(cx, cy, cx + sym, cy,
             fmt::format(
                 "stroke=\"{}\" stroke-width=\"2.5\"{}", it.color,
                 it.kind == LegendItem::Kind::DashedLine ? " stroke-dasharray=\"5 3\"" : ""));
        break;
      case LegendItem::Kind::Box:
        rect(cx + 2, cy - 7, sym - 4, 14,
             fmt::format("fill=\"{}\" fill-opacity=\"{}\" stroke=\"{}\"", it.color, num(it.opacity),
                         it.color));
        break;
    }
    text(cx + sym + gap, cy + 5, it.label, "start",
         fmt::format("font-size=\"{}\" fill=\"{}\"", num(fs), colors::kInk));
  }
  close_group();
  return {total_w, total_h};
}

void Svg::footnote(std::string_view text) {
  const double size = 12, line_h = 16, margin = 16;
  height_ += 6;
  for (const auto& l : wrap(text, size, width_ - 2 * margin)) {
    height_ += line_h;
    body_ += fmt::format(
        "<text class=\"footnote\" x=\"{}\" y=\"{}\" font-size=\"{}\" "
        "fill=\"#555555\">{}</text>\n",
        num(margin), num(height_ - 4), num(size), xml_escape(l));
  }
  height_ += 4;
}

std::string Svg::str(bool xml_declaration) const {
  std::string out;
  if (xml_declaration) out += "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  out += fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" id=\"{}\" width=\"{}\" "
      "height=\"{}\" viewBox=\"0 0 {} {}\" role=\"img\" "
      "font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">\n",
      xml_escape(id_), num(width_), num(height_), num(width_), num(height_));
  out += fmt::format("<title>{}</title>\n", xml_escape(title_));
  if (!desc_.empty()) out += fmt::format("<desc>{}</desc>\n", xml_escape(desc_));
  out += fmt::format("<rect width=\"{}\" height=\"{}\" fill=\"#ffffff\"/>\n", num(width_),
                     num(height_));
  out += body_;
  out += "</svg>\n";
  return out;
}

}  // namespace pepr::report
