#include "core/table.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstring>
#include <thread>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/file_io.hpp"

namespace pepr {

namespace {

std::string column_label(const std::vector<std::string>& names, std::size_t col) {
  if (col < names.size() && !names[col].empty()) return names[col];
  return fmt::format("column {}", col + 1);
}

// Character classes for the scanner: 0 plain, 1 delimiter, 2 quote, 3 CR/LF, 4 not text.
std::array<std::uint8_t, 256> make_classes(char delimiter) {
  std::array<std::uint8_t, 256> c{};
  for (int i = 0; i < 32; ++i) c[static_cast<std::size_t>(i)] = 4;
  c[static_cast<unsigned char>('\t')] = 0;
  c[0x7f] = 4;
  c[static_cast<unsigned char>('\n')] = 3;
  c[static_cast<unsigned char>('\r')] = 3;
  c[static_cast<unsigned char>('"')] = 2;
  c[static_cast<unsigned char>(delimiter)] = 1;
  return c;
}

}  // namespace

Table::Table(std::vector<std::string> columns, std::string source)
    : source_(std::move(source)), names_(std::move(columns)), cols_(names_.size()) {}

std::string_view Table::store(std::string_view text) {
  if (text.empty()) return {};
  if (block_used_ + text.size() > block_size_) {
    std::size_t size = std::max<std::size_t>(1 << 20, text.size());
    std::shared_ptr<char[]> block(new char[size]);
    block_ = block.get();
    keep_alive_.push_back(std::shared_ptr<const void>(block, block.get()));
    block_used_ = 0;
    block_size_ = size;
  }
  char* dst = block_ + block_used_;
  std::memcpy(dst, text.data(), text.size());
  block_used_ += text.size();
  return {dst, text.size()};
}

Table Table::read_csv(const std::string& path, const CsvOptions& options) {
  auto bytes = std::make_shared<FileBytes>(FileBytes::open(path));
  Table t = parse_csv(bytes->view(), path == "-" ? "<stdin>" : path, options);
  t.keep_alive_.push_back(bytes);
  return t;
}

// Reads CSV records one at a time: fields as views into the text (or, for a quoted field with
// "" escapes, into the table's storage), with the line each record starts on.
class CsvScanner {
 public:
  CsvScanner(std::string_view text, const std::string& source, const CsvOptions& options,
             Table& table, const std::vector<std::string>& names)
      : classes_(make_classes(options.delimiter)),
        p_(text.data()),
        end_(text.data() + text.size()),
        source_(source),
        options_(options),
        table_(table),
        names_(names) {
    if (end_ - p_ >= 3 && std::memcmp(p_, "\xEF\xBB\xBF", 3) == 0) p_ += 3;  // UTF-8 BOM
  }

  std::vector<std::string_view> fields;
  std::vector<bool> quoted;  // per field of the record: was it quoted (header names keep spaces)
  std::size_t record_line = 0;
  const char* position() const { return p_; }

  // Reads one record into `fields`; returns false at end of input. Blank lines are skipped.
  bool next() {
    fields.clear();
    quoted.clear();
    while (p_ < end_ && (*p_ == '\n' || *p_ == '\r')) {  // blank lines
      if (*p_ == '\r' && p_ + 1 < end_ && p_[1] == '\n') ++p_;
      ++p_;
      ++line_;
    }
    if (p_ >= end_) return false;
    record_line = line_;
    record_start_ = p_;
    for (;;) {
      check_record_length();
      if (p_ < end_ && *p_ == '"')
        quoted_field();
      else
        plain_field();
      if (p_ >= end_) return true;
      std::uint8_t c = classes_[static_cast<unsigned char>(*p_)];
      if (c == 1) {
        ++p_;
        if (p_ < end_ && *p_ != '\n' && *p_ != '\r') continue;
        fields.emplace_back();  // trailing delimiter: an empty last field
        quoted.push_back(false);
        if (p_ >= end_) return true;
      }
      if (c == 4) not_text();
      // End of record.
      if (*p_ == '\r' && p_ + 1 < end_ && p_[1] == '\n') ++p_;
      ++p_;
      ++line_;
      return true;
    }
  }

 private:
  std::array<std::uint8_t, 256> classes_;
  const char* p_;
  const char* end_;
  const char* record_start_ = nullptr;
  std::size_t line_ = 1;
  const std::string& source_;
  const CsvOptions& options_;
  Table& table_;
  const std::vector<std::string>& names_;
  std::string unescaped_;

  void check_record_length() const {
    if (static_cast<std::size_t>(p_ - record_start_) > options_.max_record_bytes)
      throw ParseError(source_, record_line,
                       fmt::format("record longer than {} bytes; is this really a CSV file?",
                                   options_.max_record_bytes));
  }

  [[noreturn]] void not_text() const {
    throw ParseError(source_, line_,
                     fmt::format("byte 0x{:02x} is not text: this is not a CSV file",
                                 static_cast<unsigned char>(*p_)));
  }

  // A quoted field: runs to the closing quote; "" is a literal quote.
  void quoted_field() {
    const std::size_t quote_line = line_;
    const char* start = ++p_;
    bool escaped = false;
    for (;;) {
      if (p_ >= end_)
        throw ParseError(source_, quote_line, "quoted field is not closed before end of file");
      check_record_length();
      char ch = *p_;
      if (ch == '"') {
        if (p_ + 1 < end_ && p_[1] == '"') {
          escaped = true;
          p_ += 2;
          continue;
        }
        break;
      }
      if (ch == '\n') ++line_;
      ++p_;  // any byte may be quoted: to_csv quotes every control byte it writes
    }
    std::string_view raw(start, static_cast<std::size_t>(p_ - start));
    ++p_;  // closing quote
    if (escaped) {
      unescaped_.clear();
      for (std::size_t i = 0; i < raw.size(); ++i) {
        unescaped_.push_back(raw[i]);
        if (raw[i] == '"') ++i;
      }
      fields.push_back(table_.store(unescaped_));
    } else {
      fields.push_back(raw);
    }
    quoted.push_back(true);
    if (p_ < end_ && classes_[static_cast<unsigned char>(*p_)] == 0) {
      // Text after a closing quote, e.g. "a"b: tolerated only for trailing spaces.
      const char* q = p_;
      while (q < end_ && (*q == ' ' || *q == '\t')) ++q;
      if (q < end_ && classes_[static_cast<unsigned char>(*q)] == 0)
        throw ParseError(source_, line_, column_label(names_, fields.size() - 1),
                         "unexpected text after a closing quote");
      p_ = q;
    }
  }

  // An unquoted field: up to the next delimiter or end of line.
  void plain_field() {
    const char* start = p_;
    while (p_ < end_) {
      std::uint8_t c = classes_[static_cast<unsigned char>(*p_)];
      if (c == 0 || c == 2) {
        ++p_;
        continue;
      }
      if (c == 4) not_text();
      break;
    }
    fields.emplace_back(start, static_cast<std::size_t>(p_ - start));
    quoted.push_back(false);
    check_record_length();
  }
};

Table Table::parse_csv(std::string_view text, const std::string& source,
                       const CsvOptions& options) {
  Table t;
  t.source_ = source;
  CsvScanner scan(text, source, options, t, t.names_);
  if (!scan.next()) throw Error(fmt::format("{}: empty file: expected a CSV header line", source));
  for (std::size_t i = 0; i < scan.fields.size(); ++i) {
    // Spaces around an unquoted name are dropped; a quoted name is kept as written.
    std::string name(scan.fields[i]);
    if (!scan.quoted[i]) {
      while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.pop_back();
      while (!name.empty() && (name.front() == ' ' || name.front() == '\t')) name.erase(0, 1);
    }
    t.names_.push_back(std::move(name));
  }
  for (std::size_t i = 0; i < t.names_.size(); ++i)
    for (std::size_t j = 0; j < i; ++j)
      if (!t.names_[i].empty() && t.names_[i] == t.names_[j])
        throw ParseError(source, 1, fmt::format("column name '{}' appears twice", t.names_[i]));
  const std::size_t ncols = t.names_.size();
  t.cols_.assign(ncols, {});
  // Reserve from an estimate of the row count (bytes / header length) to avoid regrowth.
  std::size_t estimate = std::min<std::size_t>(
      text.size() /
              std::max<std::size_t>(16, static_cast<std::size_t>(scan.position() - text.data())) +
          16,
      1 << 26);
  for (auto& c : t.cols_) c.reserve(estimate);
  t.line_.reserve(estimate);

  while (scan.next()) {
    if (scan.fields.size() != ncols)
      throw ParseError(
          source, scan.record_line,
          fmt::format("expected {} fields as in the header, found {}", ncols, scan.fields.size()));
    for (std::size_t c = 0; c < ncols; ++c) t.cols_[c].push_back(scan.fields[c]);
    t.line_.push_back(static_cast<std::uint32_t>(scan.record_line));
  }
  return t;
}

std::optional<std::size_t> Table::find_column(std::string_view name) const {
  for (std::size_t i = 0; i < names_.size(); ++i)
    if (names_[i] == name) return i;
  return std::nullopt;
}

std::size_t Table::require_column(std::string_view name) const {
  if (auto c = find_column(name)) return *c;
  std::string list;
  for (const auto& n : names_) {
    if (!list.empty()) list += ", ";
    list += n;
  }
  throw Error(fmt::format("{}: no column '{}' (columns: {})", source_, name, list));
}

bool Table::is_missing(std::size_t row, std::size_t col) const {
  std::string_view v = cols_[col][row];
  for (char ch : v)
    if (ch != ' ' && ch != '\t') return false;
  return true;
}

std::optional<double> parse_number(std::string_view text, bool* not_finite) {
  if (not_finite) *not_finite = false;
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  if (text.empty()) return std::nullopt;
  double v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ptr != text.data() + text.size()) return std::nullopt;
  if (ec == std::errc::result_out_of_range) {
    if (not_finite) *not_finite = true;
    return std::nullopt;
  }
  if (ec != std::errc()) return std::nullopt;
  if (!std::isfinite(v)) {
    if (not_finite) *not_finite = true;
    return std::nullopt;
  }
  return v;
}

std::optional<double> Table::number_or_missing(std::size_t row, std::size_t col) const {
  if (is_missing(row, col)) return std::nullopt;
  return number(row, col);
}

double Table::number(std::size_t row, std::size_t col) const {
  std::string_view v = cols_[col][row];
  bool not_finite = false;
  if (auto d = parse_number(v, &not_finite)) return *d;
  std::string shown = v.size() > 40 ? std::string(v.substr(0, 40)) + "..." : std::string(v);
  std::string what;
  if (is_missing(row, col))
    what = "missing value where a number is needed";
  else if (not_finite)
    what = fmt::format("'{}' is not a finite number", shown);
  else
    what = fmt::format("'{}' is not a number", shown);
  throw ParseError(source_of(row), line_of(row), column_label(names_, col), what);
}

std::vector<double> Table::numbers(std::size_t col) const {
  std::vector<double> out(num_rows());
  for (std::size_t r = 0; r < out.size(); ++r) out[r] = number(r, col);
  return out;
}

void Table::add_row(const std::vector<std::string>& cells) {
  if (cells.size() != names_.size())
    throw Error(fmt::format("{}: row has {} cells, table has {} columns", source_, cells.size(),
                            names_.size()));
  for (std::size_t c = 0; c < cells.size(); ++c) cols_[c].push_back(store(cells[c]));
  if (row_source_.empty())
    line_.push_back(static_cast<std::uint32_t>(line_.size() + 2));
  else  // the table's own row among rows of other files
    add_row_source(source_, line_.size() + 2);
}

void Table::add_row_source(const std::string& source, std::size_t line) {
  line_.push_back(static_cast<std::uint32_t>(line));
  auto it = std::find(sources_.begin(), sources_.end(), source);
  if (it == sources_.end()) it = sources_.insert(sources_.end(), source);
  row_source_.push_back(static_cast<std::uint32_t>(it - sources_.begin()));
}

void Table::add_row(const std::vector<std::string>& cells, const std::string& source,
                    std::size_t line) {
  if (cells.size() != names_.size())
    throw Error(fmt::format("{}: row has {} cells, table has {} columns", source, cells.size(),
                            names_.size()));
  if (row_source_.empty() && !line_.empty()) {
    // Earlier rows were the table's own.
    sources_.push_back(source_);
    row_source_.assign(line_.size(), 0);
  }
  for (std::size_t c = 0; c < cells.size(); ++c) cols_[c].push_back(store(cells[c]));
  add_row_source(source, line);
}

std::size_t Table::add_column(const std::string& name, const std::vector<std::string>& cells) {
  if (cells.size() != num_rows())
    throw Error(
        fmt::format("column '{}' has {} cells, table has {} rows", name, cells.size(), num_rows()));
  if (find_column(name)) throw Error(fmt::format("{}: column '{}' already exists", source_, name));
  std::vector<std::string_view> col;
  col.reserve(cells.size());
  for (const auto& c : cells) col.push_back(store(c));
  names_.push_back(name);
  cols_.push_back(std::move(col));
  return names_.size() - 1;
}

std::string format_number(double value) {
  if (std::isnan(value)) return {};
  char buf[64];
  auto [ptr, ec] = std::to_chars(buf, buf + sizeof buf, value);
  (void)ec;
  return std::string(buf, ptr);
}

std::size_t Table::add_column(const std::string& name, const std::vector<double>& values) {
  if (values.size() != num_rows())
    throw Error(fmt::format("column '{}' has {} values, table has {} rows", name, values.size(),
                            num_rows()));
  if (find_column(name)) throw Error(fmt::format("{}: column '{}' already exists", source_, name));
  std::vector<std::string_view> col;
  col.reserve(values.size());
  char buf[64];
  for (double v : values) {
    if (std::isnan(v)) {
      col.emplace_back();
      continue;
    }
    auto [ptr, ec] = std::to_chars(buf, buf + sizeof buf, v);
    (void)ec;
    col.push_back(store(std::string_view(buf, static_cast<std::size_t>(ptr - buf))));
  }
  names_.push_back(name);
  cols_.push_back(std::move(col));
  return names_.size() - 1;
}

Table Table::select_rows(const std::vector<std::size_t>& rows) const {
  Table t;
  t.source_ = source_;
  t.names_ = names_;
  t.keep_alive_ = keep_alive_;
  t.cols_.resize(cols_.size());
  for (std::size_t c = 0; c < cols_.size(); ++c) {
    t.cols_[c].reserve(rows.size());
    for (std::size_t r : rows) t.cols_[c].push_back(cols_[c][r]);
  }
  t.line_.reserve(rows.size());
  for (std::size_t r : rows) t.line_.push_back(line_[r]);
  if (!row_source_.empty()) {
    t.sources_ = sources_;
    for (std::size_t r : rows) t.row_source_.push_back(row_source_[r]);
  }
  return t;
}

Table Table::select_columns(const std::vector<std::size_t>& cols) const {
  Table t;
  t.source_ = source_;
  t.keep_alive_ = keep_alive_;
  t.line_ = line_;
  t.sources_ = sources_;
  t.row_source_ = row_source_;
  for (std::size_t c : cols) {
    t.names_.push_back(names_[c]);
    t.cols_.push_back(cols_[c]);
  }
  return t;
}

namespace {
// Characters that force quoting of a CSV field (besides the delimiter): the quote, line ends and
// every other control byte but the tab (the reader refuses them unquoted).
constexpr std::array<bool, 256> make_quote_table() {
  std::array<bool, 256> t{};
  for (int i = 0; i < 32; ++i) t[static_cast<std::size_t>(i)] = i != '\t';
  t[0x7f] = true;
  t[static_cast<unsigned char>('"')] = true;
  return t;
}
constexpr auto kQuoteTable = make_quote_table();

bool is_blank(char ch) {
  return ch == ' ' || ch == '\t';
}

// Quoting the content alone does not decide: spaces or tabs at either end (kept only when quoted,
// for header names), an empty field that is a whole line (a blank line is skipped by readers),
// and a UTF-8 byte-order mark at the very start of the file.
bool must_quote(std::string_view field, bool whole_line, bool file_start) {
  if (field.empty()) return whole_line;
  if (is_blank(field.front()) || is_blank(field.back())) return true;
  return file_start && field.size() >= 3 && field.substr(0, 3) == "\xEF\xBB\xBF";
}
}  // namespace

void append_csv_field(std::string& out, std::string_view field, char delimiter, bool whole_line,
                      bool file_start) {
  bool quote = must_quote(field, whole_line, file_start);
  if (!quote)
    for (char ch : field)
      if (kQuoteTable[static_cast<unsigned char>(ch)] || ch == delimiter) {
        quote = true;
        break;
      }
  if (!quote) {
    out.append(field);
    return;
  }
  out.push_back('"');
  for (char ch : field) {
    if (ch == '"') out.push_back('"');
    out.push_back(ch);
  }
  out.push_back('"');
}

namespace {

// Bytes a field takes in CSV, quotes included.
std::size_t csv_field_size(std::string_view field, char delimiter, bool whole_line, bool* quote) {
  bool q = must_quote(field, whole_line, false);
  std::size_t quotes = 0;
  for (char ch : field) {
    if (kQuoteTable[static_cast<unsigned char>(ch)] || ch == delimiter) {
      q = true;
      quotes += ch == '"';
    }
  }
  *quote = q;
  return q ? field.size() + 2 + quotes : field.size();
}

char* write_csv_field(char* out, std::string_view field, bool quote) {
  if (!quote) {
    if (!field.empty()) std::memcpy(out, field.data(), field.size());  // data() may be null
    return out + field.size();
  }
  *out++ = '"';
  for (char ch : field) {
    if (ch == '"') *out++ = '"';
    *out++ = ch;
  }
  *out++ = '"';
  return out;
}

}  // namespace

std::string Table::to_csv(char delimiter) const {
  std::string header;
  for (std::size_t c = 0; c < names_.size(); ++c) {
    if (c) header.push_back(delimiter);
    append_csv_field(header, names_[c], delimiter, names_.size() == 1, c == 0);
  }
  header.push_back('\n');
  // Two passes over row chunks in parallel: exact sizes, then formatting straight into one
  // buffer, so a large table is never held twice.
  const std::size_t n = num_rows(), ncols = names_.size();
  const std::size_t threads =
      n >= 100000 ? std::min<std::size_t>(4, std::max(1u, std::thread::hardware_concurrency())) : 1;
  std::vector<std::size_t> begin(threads + 1), bytes(threads, 0);
  for (std::size_t t = 0; t <= threads; ++t) begin[t] = n * t / threads;
  auto parallel = [&](auto&& work) {
    std::vector<std::thread> pool;
    for (std::size_t t = 1; t < threads; ++t) pool.emplace_back([&, t] { work(t); });
    work(0);
    for (auto& th : pool) th.join();
  };
  parallel([&](std::size_t t) {
    std::size_t b = 0;
    bool q = false;
    for (std::size_t r = begin[t]; r < begin[t + 1]; ++r) {
      for (std::size_t c = 0; c < ncols; ++c)
        b += csv_field_size(cols_[c][r], delimiter, ncols == 1, &q);
      b += ncols;  // delimiters and the line end
    }
    bytes[t] = b;
  });
  std::vector<std::size_t> offset(threads + 1, header.size());
  for (std::size_t t = 0; t < threads; ++t) offset[t + 1] = offset[t] + bytes[t];
  std::string out;
  out.resize(offset[threads]);
  std::memcpy(out.data(), header.data(), header.size());
  parallel([&](std::size_t t) {
    char* p = out.data() + offset[t];
    bool q = false;
    for (std::size_t r = begin[t]; r < begin[t + 1]; ++r) {
      for (std::size_t c = 0; c < ncols; ++c) {
        if (c) *p++ = delimiter;
        csv_field_size(cols_[c][r], delimiter, ncols == 1, &q);
        p = write_csv_field(p, cols_[c][r], q);
      }
      *p++ = '\n';
    }
  });
  return out;
}

}  // namespace pepr
