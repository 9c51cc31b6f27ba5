#include "core/combine.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "core/error.hpp"

namespace pepr {

ColumnRename ColumnRename::parse(const std::string& text) {
  auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == text.size() ||
      text.find('=', eq + 1) != std::string::npos)
    throw Error(fmt::format("rename '{}': expected FROM=TO, e.g. label=model", text));
  return {text.substr(0, eq), text.substr(eq + 1)};
}

namespace {

// The table's column names after the renames that apply to it.
std::vector<std::string> renamed_columns(const Table& t, const std::vector<ColumnRename>& renames) {
  std::vector<std::string> names = t.column_names();
  for (const auto& r : renames) {
    if (!t.find_column(r.from) || t.find_column(r.to)) continue;
    for (auto& n : names)
      if (n == r.from) n = r.to;
  }
  return names;
}

}  // namespace

CombinedTable combine_tables(std::vector<Table> tables, const std::vector<ColumnRename>& renames) {
  if (tables.empty()) throw Error("no table to combine");
  for (const auto& r : renames) {
    bool used = false;
    for (const auto& t : tables) used = used || t.find_column(r.from).has_value();
    if (!used) {
      std::string files;
      for (const auto& t : tables) files += (files.empty() ? "" : ", ") + t.source();
      throw Error(fmt::format("rename {}={}: no table has a column '{}' ({})", r.from, r.to, r.from,
                              files));
    }
  }
  CombinedTable res;
  std::vector<std::vector<std::string>> names;
  std::vector<std::string> all;
  for (const auto& t : tables) {
    names.push_back(renamed_columns(t, renames));
    res.inputs.push_back({t.source(), names.back()});
    for (const auto& n : names.back())
      if (std::find(all.begin(), all.end(), n) == all.end()) all.push_back(n);
  }
  if (tables.size() == 1 && renames.empty()) {
    res.table = std::move(tables.front());
    return res;
  }
  const bool mark = tables.size() > 1;
  if (mark && std::find(all.begin(), all.end(), kSourceColumn) == all.end())
    all.push_back(kSourceColumn);
  std::string source;
  for (const auto& t : tables) source += (source.empty() ? "" : " + ") + t.source();
  Table out(all, source);
  const std::size_t source_col = mark ? *out.find_column(kSourceColumn) : 0;
  for (std::size_t i = 0; i < tables.size(); ++i) {
    const Table& t = tables[i];
    // Where each of the output's columns is in this table (npos: it has none).
    std::vector<std::size_t> at(all.size(), static_cast<std::size_t>(-1));
    for (std::size_t c = 0; c < names[i].size(); ++c)
      at[static_cast<std::size_t>(std::find(all.begin(), all.end(), names[i][c]) - all.begin())] =
          c;
    std::vector<std::string> cells(all.size());
    for (std::size_t r = 0; r < t.num_rows(); ++r) {
      for (std::size_t c = 0; c < all.size(); ++c)
        cells[c] =
            at[c] == static_cast<std::size_t>(-1) ? std::string() : std::string(t.cell(r, at[c]));
      if (mark && cells[source_col].empty()) cells[source_col] = t.source_of(r);
      out.add_row(cells, t.source_of(r), t.line_of(r));
    }
  }
  res.table = std::move(out);
  return res;
}

Table CombinedTable::common_columns() const {
  std::vector<std::string> common;
  if (!inputs.empty())
    for (const auto& n : inputs.front().columns) {
      bool everywhere = true;
      for (const auto& in : inputs)
        everywhere =
            everywhere && std::find(in.columns.begin(), in.columns.end(), n) != in.columns.end();
      if (everywhere) common.push_back(n);
    }
  return Table(common, table.source());
}

const CombinedTable::Input* CombinedTable::lacking(const std::string& name) const {
  for (const auto& in : inputs)
    if (std::find(in.columns.begin(), in.columns.end(), name) == in.columns.end()) return &in;
  return nullptr;
}

}  // namespace pepr
