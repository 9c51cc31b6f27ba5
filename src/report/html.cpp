#include "report/html.hpp"

#include <cmath>
#include <vector>

#include <fmt/format.h>

#include "core/format.hpp"
#include "report/svg.hpp"

namespace pepr::report {

std::string html_escape(std::string_view text) {
  return xml_escape(text);
}

std::string display_number(double x, int digits) {
  if (!std::isfinite(x)) return "";
  if (x == std::floor(x) && std::fabs(x) < 1e15) return fmt::format("{:.0f}", x);
  double ax = std::fabs(x);
  if (ax < 1e-4 || ax >= 1e9) return fmt::format("{:.{}e}", x, digits - 1);
  int decimals = digits;
  if (ax >= 1)
    decimals = std::max(0, digits - 1 - static_cast<int>(std::floor(std::log10(ax))));
  else
    decimals = digits - 1 - static_cast<int>(std::floor(std::log10(ax)));
  return fmt::format("{:.{}f}", x, decimals);
}

std::string html_table(const Table& t, const std::string& id, int digits) {
  const std::vector<bool> numeric = numeric_columns(t);
  std::string out =
      fmt::format("<div class=\"table-wrap{}\"><table class=\"sortable\" id=\"{}\">\n<thead><tr>",
                  t.num_rows() > 30 ? " tall" : "", html_escape(id));
  for (std::size_t c = 0; c < t.num_columns(); ++c)
    out += fmt::format("<th{} title=\"sort by {}\">{}</th>", numeric[c] ? " class=\"num\"" : "",
                       html_escape(t.column_name(c)), html_escape(t.column_name(c)));
  out += "</tr></thead>\n<tbody>\n";
  for (std::size_t r = 0; r < t.num_rows(); ++r) {
    out += "<tr>";
    for (std::size_t c = 0; c < t.num_columns(); ++c) {
      std::string_view cell = t.cell(r, c);
      if (numeric[c] && !t.is_missing(r, c))
        out += fmt::format("<td class=\"num\" data-v=\"{}\">{}</td>", html_escape(cell),
                           display_number(*parse_number(cell), digits));
      else
        out += fmt::format("<td>{}</td>", html_escape(cell));
    }
    out += "</tr>\n";
  }
  out += "</tbody></table></div>\n";
  return out;
}

namespace {

constexpr const char* kStyle = R"CSS(
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; font-family: "DejaVu Sans", Helvetica, Arial, sans-serif; color: #222;
       background: #fafafa; line-height: 1.45; }
header, main, footer { max-width: 1240px; margin: 0 auto; padding: 0 24px; }
header { padding-top: 24px; }
h1 { font-size: 28px; margin: 0 0 4px; }
h2 { font-size: 22px; margin: 36px 0 8px; border-bottom: 2px solid #ddd; padding-bottom: 4px; }
h3 { font-size: 17px; margin: 26px 0 6px; }
.sub { color: #555; margin: 0 0 12px; }
nav { max-width: 1240px; margin: 0 auto; padding: 4px 24px 0; font-size: 14px; }
nav a { margin-right: 14px; }
a { color: #0b5fa5; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; font-size: 14px; }
dl.meta dt { font-weight: bold; color: #444; }
dl.meta dd { margin: 0; }
code { font-family: "DejaVu Sans Mono", Menlo, monospace; font-size: 0.92em; background: #eee;
       padding: 0 3px; border-radius: 3px; }
.caption, figcaption { font-size: 14px; color: #333; max-width: 980px; }
.files { font-size: 13px; color: #555; }
.note { background: #fff6dc; border-left: 4px solid #e0b000; padding: 6px 10px; font-size: 14px; }
.table-wrap { overflow-x: auto; max-width: 100%; }
table.sortable { border-collapse: collapse; font-size: 13px; background: #fff; margin: 6px 0 4px; }
table.sortable th, table.sortable td { border: 1px solid #ddd; padding: 3px 8px;
                                       white-space: nowrap; }
table.sortable th { background: #f0f0f0; cursor: pointer; user-select: none; white-space: nowrap;
                    position: sticky; top: 0; }
table.sortable th:hover { background: #e4ecf5; }
table.sortable th[aria-sort=ascending]::after { content: " \25B2"; font-size: 10px; }
table.sortable th[aria-sort=descending]::after { content: " \25BC"; font-size: 10px; }
table.sortable td.num, table.sortable th.num { text-align: right; font-variant-numeric: tabular-nums; }
table.sortable tbody tr:nth-child(even) { background: #f8f8f8; }
details { margin: 10px 0; }
details > summary { cursor: pointer; font-weight: bold; }
details .table-wrap, .table-wrap.tall { max-height: 560px; overflow: auto; }
figure { margin: 18px 0 30px; background: #fff; border: 1px solid #e2e2e2; padding: 12px;
         border-radius: 4px; }
figure svg { display: block; max-width: 100%; height: auto; }
figcaption { margin-top: 8px; }
ul.left-out li { margin-bottom: 4px; }
footer { color: #666; font-size: 13px; padding-top: 24px; padding-bottom: 32px; }
@media print {
  body { background: #fff; }
  nav { display: none; }
  figure { break-inside: avoid; border: none; }
  details .table-wrap { max-height: none; overflow: visible; }
}
)CSS";

constexpr const char* kScript = R"JS(
(function () {
  "use strict";
  function key(td) {
    var v = td.getAttribute("data-v");
    return v === null ? td.textContent : v;
  }
  function sortBy(table, col, th) {
    var asc = th.getAttribute("aria-sort") !== "ascending";
    var heads = table.tHead.rows[0].cells;
    for (var i = 0; i < heads.length; i++) heads[i].removeAttribute("aria-sort");
    th.setAttribute("aria-sort", asc ? "ascending" : "descending");
    var numeric = th.classList.contains("num");
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = key(a.cells[col]), y = key(b.cells[col]);
      if (numeric) {
        x = x === "" ? NaN : parseFloat(x);
        y = y === "" ? NaN : parseFloat(y);
        if (isNaN(x) || isNaN(y)) return isNaN(x) - isNaN(y);
        return asc ? x - y : y - x;
      }
      return asc ? x.localeCompare(y) : y.localeCompare(x);
    });
    for (var r = 0; r < rows.length; r++) body.appendChild(rows[r]);
  }
  var tables = document.querySelectorAll("table.sortable");
  Array.prototype.forEach.call(tables, function (table) {
    var heads = table.tHead.rows[0].cells;
    Array.prototype.forEach.call(heads, function (th, col) {
      th.tabIndex = 0;
      th.addEventListener("click", function () { sortBy(table, col, th); });
      th.addEventListener("keydown", function (e) {
        if (e.key === "Enter" || e.key === " ") { e.preventDefault(); sortBy(table, col, th); }
      });
    });
  });
  document.documentElement.setAttribute("data-ready", "1");
})();
)JS";

}  // namespace

std::string html_page(const std::string& title, const std::string& body) {
  return fmt::format(
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
      "<link rel=\"icon\" "
      "href=\"data:,\">\n<title>{}</title>\n<style>{}</style>\n</head>\n<body>\n{}\n<script>{}</"
      "script>\n"
      "</body>\n</html>\n",
      html_escape(title), kStyle, body, kScript);
}

}  // namespace pepr::report
