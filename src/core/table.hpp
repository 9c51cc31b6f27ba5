// A column-oriented table of text cells, read from and written to CSV.
//
// Cells are kept as text exactly as read (quotes removed); numbers are parsed on demand with
// their source position, so an error can say FILE:LINE:COLUMN. Empty cells are missing values.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pepr {

struct CsvOptions {
  char delimiter = ',';
  // A record (one CSV row, possibly several lines when quoted) longer than this is an error,
  // so that a file with one absurdly long line cannot make pepr use unbounded memory.
  std::size_t max_record_bytes = 1 << 20;
};

class Table {
 public:
  Table() = default;
  explicit Table(std::vector<std::string> columns, std::string source = "<table>");

  // Reads a CSV file ("-" for stdin). Throws pepr::ParseError with FILE:LINE for bad input.
  static Table read_csv(const std::string& path, const CsvOptions& options = {});
  // Parses CSV text; `source` names it in error messages. Cells are views into `text`, which must
  // outlive the table and its copies.
  static Table parse_csv(std::string_view text, const std::string& source,
                         const CsvOptions& options = {});

  const std::string& source() const { return source_; }
  // The file a row came from: source(), except in a table made of several
  // (combine_tables, core/combine.hpp), whose rows keep their own file and line.
  const std::string& source_of(std::size_t row) const {
    return row_source_.empty() ? source_ : sources_[row_source_[row]];
  }
  std::size_t num_rows() const { return line_.size(); }
  std::size_t num_columns() const { return names_.size(); }
  const std::vector<std::string>& column_names() const { return names_; }
  const std::string& column_name(std::size_t col) const { return names_[col]; }

  std::optional<std::size_t> find_column(std::string_view name) const;
  // The column's index; throws pepr::Error listing the available columns when absent.
  std::size_t require_column(std::string_view name) const;

  std::string_view cell(std::size_t row, std::size_t col) const { return cols_[col][row]; }
  bool is_missing(std::size_t row, std::size_t col) const;
  // The source line of a row (1 = header); for tables built in memory, row + 2.
  std::size_t line_of(std::size_t row) const { return line_[row]; }

  // The cell as a finite number; throws ParseError FILE:LINE:COLUMN when missing or not one.
  double number(std::size_t row, std::size_t col) const;
  // Like number(), but a missing cell gives nullopt.
  std::optional<double> number_or_missing(std::size_t row, std::size_t col) const;
  // A whole column as numbers; every cell must be a finite number.
  std::vector<double> numbers(std::size_t col) const;

  // Building tables.
  void add_row(const std::vector<std::string>& cells);
  // A row read from another file: errors about its cells name `source` and `line`.
  void add_row(const std::vector<std::string>& cells, const std::string& source, std::size_t line);
  std::size_t add_column(const std::string& name, const std::vector<std::string>& cells);
  // Adds a numeric column, formatted as the shortest text that reads back as the same double;
  // NaN is written as a missing (empty) cell.
  std::size_t add_column(const std::string& name, const std::vector<double>& values);
  // A table with the given rows of this one, in that order.
  Table select_rows(const std::vector<std::size_t>& rows) const;
  // A table with the given columns of this one, in that order.
  Table select_columns(const std::vector<std::size_t>& cols) const;

  // CSV text: a header line and one line per row, "\n" line ends, quotes only where needed.
  std::string to_csv(char delimiter = ',') const;

 private:
  friend class CsvScanner;  // table.cpp's reader: stores unescaped quoted fields
  std::string_view store(std::string_view text);
  void add_row_source(const std::string& source, std::size_t line);

  std::string source_;
  std::vector<std::string> names_;
  std::vector<std::vector<std::string_view>> cols_;  // cols_[col][row]
  std::vector<std::uint32_t> line_;                  // source line of each row
  // Rows from several files: the file of each row (an index into sources_); empty when every
  // row is from source_.
  std::vector<std::string> sources_;
  std::vector<std::uint32_t> row_source_;
  // Memory that cell views point into: the mapped input file and owned text blocks.
  std::vector<std::shared_ptr<const void>> keep_alive_;
  char* block_ = nullptr;  // the current owned block (also held in keep_alive_)
  std::size_t block_used_ = 0, block_size_ = 0;
};

// Parses a whole cell as a finite double (surrounding spaces allowed, a leading '+' allowed).
// Returns nullopt for text that is not a number; sets *not_finite for NaN or infinities.
std::optional<double> parse_number(std::string_view text, bool* not_finite = nullptr);

// The shortest decimal text that reads back as exactly `value`.
std::string format_number(double value);

// Appends `field` to `out`, quoted when it holds the delimiter, a quote, a line break or another
// control byte (tab excepted), or begins or ends with a space or tab; also when it is empty and
// `whole_line` (the only column: an empty line would be skipped), or begins with a UTF-8
// byte-order mark at `file_start`. Table::parse_csv reads back exactly what this writes.
void append_csv_field(std::string& out, std::string_view field, char delimiter = ',',
                      bool whole_line = false, bool file_start = false);

}  // namespace pepr
