#include "core/format.hpp"

#include <locale.h>
#include <wchar.h>

#include <algorithm>
#include <cmath>
#include <optional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/json_check.hpp"

namespace pepr {

std::string plural(long long n, const std::string& word, const std::string& plural_word) {
  return fmt::format("{} {}", n, n == 1 ? word : (plural_word.empty() ? word + "s" : plural_word));
}

Format parse_format(const std::string& text) {
  if (text == "table") return Format::Table;
  if (text == "csv") return Format::Csv;
  if (text == "json") return Format::Json;
  if (text == "markdown" || text == "md") return Format::Markdown;
  if (text == "latex" || text == "tex") return Format::Latex;
  throw Error(
      fmt::format("unknown format '{}' (expected table, csv, json, markdown or latex)", text));
}

std::vector<std::string> format_names() {
  return {"table", "csv", "json", "markdown", "latex"};
}

Format format_for_path(const std::string& path, Format fallback) {
  auto ends = [&](const char* ext) {
    std::string e(ext);
    return path.size() > e.size() && path.compare(path.size() - e.size(), e.size(), e) == 0;
  };
  if (ends(".csv")) return Format::Csv;
  if (ends(".json")) return Format::Json;
  if (ends(".md")) return Format::Markdown;
  if (ends(".tex")) return Format::Latex;
  return fallback;
}

std::vector<bool> numeric_columns(const Table& t) {
  std::vector<bool> numeric(t.num_columns(), true);
  for (std::size_t c = 0; c < t.num_columns(); ++c) {
    bool any = false;
    for (std::size_t r = 0; r < t.num_rows() && numeric[c]; ++r) {
      if (t.is_missing(r, c)) continue;
      any = true;
      if (!parse_number(t.cell(r, c))) numeric[c] = false;
    }
    if (!any) numeric[c] = false;
  }
  return numeric;
}

namespace {

std::string human_number(std::string_view cell, int digits) {
  auto v = parse_number(cell);
  if (!v) return std::string(cell);
  double x = *v;
  // Integers stay integers; other values get `digits` significant digits.
  if (x == std::floor(x) && std::fabs(x) < 1e15) return fmt::format("{:.0f}", x);
  double ax = std::fabs(x);
  if (ax != 0 && (ax < 1e-4 || ax >= 1e9)) return fmt::format("{:.{}e}", x, digits - 1);
  int decimals = digits;
  if (ax >= 1) decimals = std::max(0, digits - 1 - static_cast<int>(std::floor(std::log10(ax))));
  return fmt::format("{:.{}f}", x, decimals);
}

std::string latex_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
      case '%':
      case '$':
      case '#':
      case '_':
      case '{':
      case '}':
        out += '\\';
        out += c;
        break;
      case '~':
        out += "\\textasciitilde{}";
        break;
      case '^':
        out += "\\textasciicircum{}";
        break;
      case '\\':
        out += "\\textbackslash{}";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string markdown_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '|') out += '\\';
    if (c == '\n' || c == '\r') {
      out += ' ';
      continue;
    }
    out += c;
  }
  return out;
}

// The C library's UTF-8 character classes, whatever the process's locale (a user's LANG=C
// too); null when this libc has no C.UTF-8. Made once, never freed.
locale_t utf8_locale() {
  static const locale_t loc = newlocale(LC_CTYPE_MASK, "C.UTF-8", locale_t{});
  return loc;
}

// The code point of the UTF-8 sequence at s[i] (advancing i), or nullopt for a byte that does
// not start a valid sequence (i advances past it).
std::optional<char32_t> next_code_point(std::string_view s, std::size_t& i) {
  const auto b = static_cast<unsigned char>(s[i++]);
  if (b < 0x80) return b;
  const int extra = b >= 0xF0 && b < 0xF5 ? 3 : b >= 0xE0 ? 2 : b >= 0xC2 && b < 0xE0 ? 1 : -1;
  if (extra < 0) return std::nullopt;
  char32_t cp = b & (0x3F >> extra);
  for (int k = 0; k < extra; ++k) {
    if (i >= s.size() || (static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) return std::nullopt;
    cp = (cp << 6) | (static_cast<unsigned char>(s[i++]) & 0x3F);
  }
  return cp;
}

}  // namespace

std::size_t display_width(std::string_view s) {
  const locale_t utf8 = utf8_locale();
  const locale_t before = utf8 ? uselocale(utf8) : locale_t{};
  std::size_t w = 0;
  for (std::size_t i = 0; i < s.size();) {
    const auto cp = next_code_point(s, i);
    // Without the locale, or for what wcwidth does not know (a control character, a byte that
    // is not UTF-8): one column each.
    const int cw = cp && utf8 ? wcwidth(static_cast<wchar_t>(*cp)) : -1;
    w += cw >= 0 ? static_cast<std::size_t>(cw) : 1;
  }
  if (utf8) uselocale(before);
  return w;
}

namespace {

std::vector<std::vector<std::string>> human_cells(const Table& t, const std::vector<bool>& numeric,
                                                  int digits) {
  std::vector<std::vector<std::string>> cells(t.num_rows(),
                                              std::vector<std::string>(t.num_columns()));
  for (std::size_t r = 0; r < t.num_rows(); ++r)
    for (std::size_t c = 0; c < t.num_columns(); ++c)
      cells[r][c] = numeric[c] && !t.is_missing(r, c) ? human_number(t.cell(r, c), digits)
                                                      : std::string(t.cell(r, c));
  return cells;
}

std::string render_text(const Table& t, const RenderOptions& o) {
  auto numeric = numeric_columns(t);
  auto cells = human_cells(t, numeric, o.digits);
  std::vector<std::size_t> w(t.num_columns());
  for (std::size_t c = 0; c < t.num_columns(); ++c) {
    w[c] = display_width(t.column_name(c));
    for (const auto& row : cells) w[c] = std::max(w[c], display_width(row[c]));
  }
  std::string out;
  if (!o.title.empty()) out += o.title + "\n";
  auto line = [&](auto get) {
    std::string l;
    for (std::size_t c = 0; c < t.num_columns(); ++c) {
      std::string s = get(c);
      std::size_t pad = w[c] - display_width(s);
      if (c) l += "  ";
      if (numeric[c])
        l += std::string(pad, ' ') + s;
      else
        l += s + std::string(c + 1 < t.num_columns() ? pad : 0, ' ');
    }
    while (!l.empty() && l.back() == ' ') l.pop_back();
    out += l + "\n";
  };
  line([&](std::size_t c) { return t.column_name(c); });
  line([&](std::size_t c) { return std::string(w[c], '-'); });
  for (const auto& row : cells) line([&](std::size_t c) { return row[c]; });
  for (const auto& n : o.notes) out += "note: " + n + "\n";
  return out;
}

std::string render_markdown(const Table& t, const RenderOptions& o) {
  auto numeric = numeric_columns(t);
  auto cells = human_cells(t, numeric, o.digits);
  std::string out;
  if (!o.title.empty()) out += "**" + markdown_escape(o.title) + "**\n\n";
  out += "|";
  for (const auto& n : t.column_names()) out += " " + markdown_escape(n) + " |";
  out += "\n|";
  for (std::size_t c = 0; c < t.num_columns(); ++c) out += numeric[c] ? " ---: |" : " --- |";
  out += "\n";
  for (const auto& row : cells) {
    out += "|";
    for (const auto& s : row) out += " " + markdown_escape(s) + " |";
    out += "\n";
  }
  if (!o.notes.empty()) {
    out += "\n";
    for (const auto& n : o.notes) out += "- " + markdown_escape(n) + "\n";
  }
  return out;
}

std::string render_latex(const Table& t, const RenderOptions& o) {
  auto numeric = numeric_columns(t);
  auto cells = human_cells(t, numeric, o.digits);
  std::string out;
  for (const auto& n : o.notes) out += "% " + n + "\n";
  out += "\\begin{table}[t]\n\\centering\n";
  if (!o.title.empty()) out += "\\caption{" + latex_escape(o.title) + "}\n";
  out += "\\begin{tabular}{";
  for (std::size_t c = 0; c < t.num_columns(); ++c) out += numeric[c] ? 'r' : 'l';
  out += "}\n\\hline\n";
  for (std::size_t c = 0; c < t.num_columns(); ++c)
    out += (c ? " & " : "") + latex_escape(t.column_name(c));
  out += " \\\\\n\\hline\n";
  for (const auto& row : cells) {
    for (std::size_t c = 0; c < row.size(); ++c) out += (c ? " & " : "") + latex_escape(row[c]);
    out += " \\\\\n";
  }
  out += "\\hline\n\\end{tabular}\n\\end{table}\n";
  return out;
}

// JSON text is UTF-8: a name or cell that is not (e.g. a Latin-1 file) is the input's error,
// located, not the JSON library's.
void check_utf8(const Table& t) {
  auto fail = [&](const std::string& source, std::size_t line, const std::string& column,
                  std::string_view text, std::size_t at) {
    throw ParseError(source, line, column,
                     fmt::format("not valid UTF-8 (byte 0x{:02x} at byte {}); JSON output needs "
                                 "UTF-8: convert the file first, e.g. iconv -f latin1 -t utf-8",
                                 static_cast<unsigned char>(text[at]), at + 1));
  };
  for (std::size_t c = 0; c < t.num_columns(); ++c) {
    const std::string& name = t.column_name(c);
    if (auto at = utf8_error_offset(name); at != std::string_view::npos)
      fail(t.source(), 1, fmt::format("column {}", c + 1), name, at);
    for (std::size_t r = 0; r < t.num_rows(); ++r) {
      std::string_view cell = t.cell(r, c);
      if (auto at = utf8_error_offset(cell); at != std::string_view::npos)
        fail(t.source_of(r), t.line_of(r), name, cell, at);
    }
  }
}

std::string render_json(const Table& t, const RenderOptions& o) {
  check_utf8(t);
  auto numeric = numeric_columns(t);
  nlohmann::ordered_json rows = nlohmann::ordered_json::array();
  for (std::size_t r = 0; r < t.num_rows(); ++r) {
    nlohmann::ordered_json row = nlohmann::ordered_json::object();
    for (std::size_t c = 0; c < t.num_columns(); ++c) {
      if (t.is_missing(r, c))
        row[t.column_name(c)] = nullptr;
      else if (numeric[c])
        row[t.column_name(c)] = *parse_number(t.cell(r, c));
      else
        row[t.column_name(c)] = std::string(t.cell(r, c));
    }
    rows.push_back(std::move(row));
  }
  nlohmann::ordered_json doc;
  nlohmann::ordered_json meta = nlohmann::ordered_json::object();
  if (!o.title.empty()) meta["title"] = o.title;
  if (!o.notes.empty()) meta["notes"] = o.notes;
  for (const auto& [k, v] : o.json_meta) meta[k] = nlohmann::ordered_json::parse(v);
  doc["meta"] = meta;
  doc["rows"] = std::move(rows);
  // Titles and notes come from the command line: bytes that are not UTF-8 are replaced (U+FFFD).
  return doc.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

}  // namespace

std::string render(const Table& table, Format format, const RenderOptions& options) {
  switch (format) {
    case Format::Csv:
      return table.to_csv();
    case Format::Json:
      return render_json(table, options);
    case Format::Markdown:
      return render_markdown(table, options);
    case Format::Latex:
      return render_latex(table, options);
    case Format::Table:
      return render_text(table, options);
  }
  return {};
}

}  // namespace pepr
