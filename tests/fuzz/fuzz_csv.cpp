// CSV: Table::parse_csv on the input, every renderer (CSV, aligned text, JSON, Markdown, LaTeX),
// number parsing of every cell, and the round trip: the CSV a table renders must parse back to
// the same table (header and cells), with ',' and with ';' as the delimiter.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/error.hpp"
#include "core/format.hpp"
#include "core/table.hpp"
#include "fuzz_check.hpp"

namespace {

void check_same(const pepr::Table& a, const pepr::Table& b, char delimiter) {
  PEPR_FUZZ_CHECK(a.column_names() == b.column_names(),
                  "round trip (delimiter '%c') changed the header", delimiter);
  PEPR_FUZZ_CHECK(a.num_rows() == b.num_rows(), "round trip (delimiter '%c'): %zu rows became %zu",
                  delimiter, a.num_rows(), b.num_rows());
  for (std::size_t c = 0; c < a.num_columns(); ++c)
    for (std::size_t r = 0; r < a.num_rows(); ++r)
      PEPR_FUZZ_CHECK(a.cell(r, c) == b.cell(r, c),
                      "round trip (delimiter '%c') changed cell row %zu column %zu", delimiter, r,
                      c);
}

void round_trip(const pepr::Table& t, char delimiter) {
  const std::string csv = t.to_csv(delimiter);
  pepr::CsvOptions opt;
  opt.delimiter = delimiter;
  opt.max_record_bytes = std::size_t{1} << 30;  // a rendered record may be longer than the input's
  try {
    check_same(t, pepr::Table::parse_csv(csv, "rendered.csv", opt), delimiter);
  } catch (const pepr::Error& e) {
    PEPR_FUZZ_CHECK(false, "the reader refuses what to_csv('%c') wrote: %s", delimiter, e.what());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  pepr::Table t;
  try {
    t = pepr::Table::parse_csv(text, "fuzz.csv");
  } catch (const pepr::Error&) {
    return 0;
  }
  for (std::size_t c = 0; c < t.num_columns(); ++c)
    for (std::size_t r = 0; r < t.num_rows(); ++r) {
      bool not_finite = false;
      auto v = pepr::parse_number(t.cell(r, c), &not_finite);
      if (v) {
        PEPR_FUZZ_CHECK(std::isfinite(*v), "parse_number gave a non-finite value");
        auto back = pepr::parse_number(pepr::format_number(*v));
        PEPR_FUZZ_CHECK(back && *back == *v, "format_number does not read back as the same value");
      }
      try {
        (void)t.number_or_missing(r, c);
      } catch (const pepr::Error&) {
      }
    }
  (void)pepr::numeric_columns(t);
  round_trip(t, ',');
  round_trip(t, ';');
  pepr::RenderOptions ro;
  ro.notes = {"fuzz"};
  for (auto f : {pepr::Format::Csv, pepr::Format::Table, pepr::Format::Json, pepr::Format::Markdown,
                 pepr::Format::Latex}) {
    try {
      (void)pepr::render(t, f, ro);
    } catch (const pepr::Error&) {
    }
  }
  return 0;
}
