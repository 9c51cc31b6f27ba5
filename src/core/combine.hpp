// Several results tables as one: pepr collect's table of a sweep beside pepr track's rows of a
// script, ranked together by pepr score and pepr report.
#pragma once

#include <string>
#include <vector>

#include "core/table.hpp"

namespace pepr {

// A column of one table that is another's under a different name: "label=model".
struct ColumnRename {
  std::string from, to;
  // "FROM=TO"; throws pepr::Error for anything else.
  static ColumnRename parse(const std::string& text);
};

// The column that says which file a row of a combined table came from.
inline constexpr const char* kSourceColumn = "source";

// The tables combined, and what each input held.
struct CombinedTable {
  Table table;
  struct Input {
    std::string source;
    std::vector<std::string> columns;  // after the renames
  };
  std::vector<Input> inputs;

  // The columns every input has (in the first's order), as an empty table named like the
  // combined one: what a performance or resource column is chosen from so that every row has it.
  Table common_columns() const;
  // The first input without column `name`, or nullptr.
  const Input* lacking(const std::string& name) const;
};

// The rows of every table, in order, as one table. Columns are matched by name and appear in
// the order they are first met; a column a table lacks is empty in its rows. Each rename FROM=TO
// applies to every table that has a column FROM and none named TO (a table with both keeps
// both); a rename whose FROM no table has is an error (a typo would otherwise pass unseen).
// With more than one table, a `source` column names each row's file (a row that already has a
// non-empty `source`, from an earlier combination, keeps it), and every row keeps its file and
// line for error messages (Table::source_of, Table::line_of). One table and no rename: the
// table as it is.
CombinedTable combine_tables(std::vector<Table> tables,
                             const std::vector<ColumnRename>& renames = {});

}  // namespace pepr
