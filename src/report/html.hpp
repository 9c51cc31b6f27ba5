// HTML pieces of the self-contained report: escaping, number display, sortable tables and the
// page around them (inline CSS and one small inline script; no network requests).
#pragma once

#include <string>
#include <string_view>

#include "core/table.hpp"

namespace pepr::report {

// Text for HTML content and attribute values (the same escaping as SVG: report/svg.hpp).
std::string html_escape(std::string_view text);

// A number for people: integers as integers, others with `digits` significant digits.
std::string display_number(double v, int digits = 4);

// A <table class="sortable"> of `t`: a column whose cells are all numbers is right-aligned, shown
// with display_number and sorted numerically (each cell keeps its exact value in data-v).
std::string html_table(const Table& t, const std::string& id, int digits = 4);

// The whole page: <head> with the inline stylesheet, `body` and the inline script that makes
// tables sortable (click or Enter on a header) and marks the page ready (html[data-ready=1]).
std::string html_page(const std::string& title, const std::string& body);

}  // namespace pepr::report
