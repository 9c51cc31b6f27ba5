// Rendering a Table for people (aligned text, Markdown, LaTeX) and for programs (CSV, JSON).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/table.hpp"

namespace pepr {

// "1 epoch", "3 epochs": a count and the word, plural unless the count is 1 (`plural_word`
// when the plural is not word + "s").
std::string plural(long long n, const std::string& word, const std::string& plural_word = "");

enum class Format { Table, Csv, Json, Markdown, Latex };

// "table", "csv", "json", "markdown" (or "md"), "latex" (or "tex").
Format parse_format(const std::string& text);
// The format implied by an output file's extension, or `fallback`.
Format format_for_path(const std::string& path, Format fallback);
// The names accepted by parse_format, for --help.
std::vector<std::string> format_names();

struct RenderOptions {
  // Significant digits for numbers in human formats (table, Markdown, LaTeX); CSV and JSON keep
  // every digit.
  int digits = 4;
  // Lines of context (normalisation, assumptions): printed under a text table, as a paragraph in
  // Markdown, a comment in LaTeX, a "meta" object in JSON; CSV has none.
  std::vector<std::string> notes;
  std::string title;
  // JSON: extra members of the top-level "meta" object, as key and JSON text.
  std::vector<std::pair<std::string, std::string>> json_meta;
};

std::string render(const Table& table, Format format, const RenderOptions& options = {});

// The columns a UTF-8 string takes in a terminal: wcwidth under the C library's C.UTF-8 locale
// (2 for CJK ideographs and most emoji, 0 for combining marks and joiners), whatever the
// process's own locale; one per code point where that locale is missing. Bytes that are not
// UTF-8 and control characters count one each. The text table pads by it.
std::size_t display_width(std::string_view text);

// For each column, whether every non-missing cell is a number (and at least one is present):
// such columns are right-aligned and formatted as numbers.
std::vector<bool> numeric_columns(const Table& t);

}  // namespace pepr
