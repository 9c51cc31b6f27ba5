#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "core/error.hpp"
#include "core/file_io.hpp"
#include "core/format.hpp"
#include "core/table.hpp"
#include "support/test_support.hpp"

using pepr::Table;

namespace {

std::string error_of(const std::string& text, const pepr::CsvOptions& o = {}) {
  try {
    Table t = Table::parse_csv(text, "in.csv", o);
    for (std::size_t c = 0; c < t.num_columns(); ++c) t.numbers(c);
  } catch (const pepr::Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(Table, QuotedFieldsCrlfAndMissingCells) {
  Table t = Table::parse_csv(
      "model,\"note, quoted\",energy\r\n\"res\"\"net\",\"a\r\nb\",1.5\r\nvgg,,\r\n", "x.csv");
  ASSERT_EQ(t.num_columns(), 3u);
  ASSERT_EQ(t.num_rows(), 2u);
  EXPECT_EQ(t.column_name(1), "note, quoted");
  EXPECT_EQ(t.cell(0, 0), "res\"net");
  EXPECT_EQ(t.cell(0, 1), "a\r\nb");
  EXPECT_DOUBLE_EQ(t.number(0, 2), 1.5);
  EXPECT_TRUE(t.is_missing(1, 1));
  EXPECT_TRUE(t.is_missing(1, 2));
  EXPECT_FALSE(t.number_or_missing(1, 2).has_value());
  // The second record starts on line 4 because the first spans two lines.
  EXPECT_EQ(t.line_of(1), 4u);
}

TEST(Table, ColumnsByNameAndMissingColumn) {
  Table t = Table::parse_csv("a,b\n1,2\n", "x.csv");
  EXPECT_EQ(t.require_column("b"), 1u);
  EXPECT_FALSE(t.find_column("c"));
  try {
    t.require_column("c");
    FAIL();
  } catch (const pepr::Error& e) {
    EXPECT_NE(std::string(e.what()).find("no column 'c' (columns: a, b)"), std::string::npos);
  }
}

TEST(Table, BadNumberSaysFileLineColumn) {
  EXPECT_EQ(error_of("a,energy\n1,2\n3,abc\n"), "in.csv:3:energy: 'abc' is not a number");
  EXPECT_EQ(error_of("a,energy\n1,nan\n"), "in.csv:2:energy: 'nan' is not a finite number");
  EXPECT_EQ(error_of("a,energy\n1,inf\n"), "in.csv:2:energy: 'inf' is not a finite number");
  EXPECT_EQ(error_of("a,energy\n1,1e999\n"), "in.csv:2:energy: '1e999' is not a finite number");
  EXPECT_EQ(error_of("a,energy\n1,\n"), "in.csv:2:energy: missing value where a number is needed");
}

TEST(Table, NumbersParseStrictly) {
  EXPECT_EQ(pepr::parse_number(" +2.5e-3 "), 2.5e-3);
  EXPECT_FALSE(pepr::parse_number("1.5x"));
  EXPECT_FALSE(pepr::parse_number("0x10"));
  EXPECT_FALSE(pepr::parse_number(""));
  EXPECT_EQ(pepr::parse_number("-0.25"), -0.25);
}

TEST(Table, StructuralErrors) {
  EXPECT_EQ(error_of(""), "in.csv: empty file: expected a CSV header line");
  EXPECT_EQ(error_of("\n\r\n"), "in.csv: empty file: expected a CSV header line");
  EXPECT_EQ(error_of("a,b\n1,2\n3\n"), "in.csv:3: expected 2 fields as in the header, found 1");
  EXPECT_EQ(error_of("a,b\n1,\"2\n"), "in.csv:2: quoted field is not closed before end of file");
  EXPECT_EQ(error_of("a,a\n1,2\n"), "in.csv:1: column name 'a' appears twice");
}

TEST(Table, BinaryGarbageIsRejected) {
  std::string garbage = "PK\x03\x04";
  garbage.push_back('\0');
  garbage += "\x14\x00\x08\x08binary";
  std::string msg = error_of(garbage);
  EXPECT_NE(msg.find("is not text: this is not a CSV file"), std::string::npos) << msg;
  std::string lcg;
  unsigned x = 12345;
  for (int i = 0; i < 4096; ++i) {
    x = x * 1103515245u + 12345u;
    lcg.push_back(static_cast<char>(x >> 16));
  }
  EXPECT_NE(error_of(lcg), "");
}

TEST(Table, AbsurdlyLongLineIsRejectedWithoutReadingItAll) {
  pepr::CsvOptions o;
  o.max_record_bytes = 1000;
  std::string text = "a,b\n" + std::string(5000, '7') + ",1\n";
  EXPECT_EQ(error_of(text, o),
            "in.csv:2: record longer than 1000 bytes; is this really a CSV file?");
  std::string quoted = "a,b\n\"" + std::string(5000, 'x') + "\",1\n";
  EXPECT_EQ(error_of(quoted, o),
            "in.csv:2: record longer than 1000 bytes; is this really a CSV file?");
}

TEST(Table, RoundTripKeepsEveryCell) {
  Table t({"name", "value"});
  t.add_row({"a,b", "1"});
  t.add_row({"say \"hi\"", ""});
  t.add_row({" padded ", "2.5"});
  t.add_column("x", std::vector<double>{0.1, std::nan(""), 1e-300});
  std::string csv = t.to_csv();
  Table back = Table::parse_csv(csv, "rt.csv");
  ASSERT_EQ(back.num_rows(), 3u);
  for (std::size_t r = 0; r < 3; ++r)
    for (std::size_t c = 0; c < 3; ++c) EXPECT_EQ(back.cell(r, c), t.cell(r, c)) << r << "," << c;
  EXPECT_EQ(back.number(0, 2), 0.1);
  EXPECT_EQ(back.number(2, 2), 1e-300);
  EXPECT_TRUE(back.is_missing(1, 2));
}

TEST(Table, ShortestRoundTripFormatting) {
  for (double v : {0.1, 1.0 / 3.0, 6.950780662622789e-30, 123456789.0, -2.5})
    EXPECT_EQ(*pepr::parse_number(pepr::format_number(v)), v);
  EXPECT_EQ(pepr::format_number(0.5), "0.5");
}

TEST(Table, ReadsFilesAndWritesAtomically) {
  pepr::test::TempDir dir;
  auto path = (dir / "t.csv").string();
  pepr::write_file_atomic(path, "\xEF\xBB\xBFm,v\nx,1\n");
  Table t = Table::read_csv(path);
  EXPECT_EQ(t.column_name(0), "m");  // byte-order mark removed
  EXPECT_EQ(t.number(0, 1), 1.0);
  pepr::write_file_atomic(path, "m,v\ny,2\n");
  EXPECT_EQ(pepr::test::read_file(path), "m,v\ny,2\n");
  int files = 0;
  for (auto& e : std::filesystem::directory_iterator(dir.path())) (void)e, ++files;
  EXPECT_EQ(files, 1);  // no temporary left behind
  EXPECT_THROW(Table::read_csv((dir / "absent.csv").string()), pepr::Error);
  EXPECT_THROW(pepr::write_file_atomic((dir / "no/such/dir/x.csv").string(), "x"), pepr::Error);
}

// CJK and emoji labels take two terminal columns per character: the text table pads by display
// width, so their rows line up with ASCII ones (and under LANG=C too: the width comes from the C
// library's C.UTF-8 tables, not the process's locale).
TEST(Table, TextTableAlignsWideCharactersByDisplayWidth) {
  EXPECT_EQ(pepr::display_width("resnet18"), 8u);
  EXPECT_EQ(pepr::display_width("\u80ba\u708e"), 4u);           // 肺炎
  EXPECT_EQ(pepr::display_width("\U0001FAC1lung"), 6u);         // 🫁lung
  EXPECT_EQ(pepr::display_width("e\u0301"), 1u);                // e + combining acute
  EXPECT_EQ(pepr::display_width("Z\u00fcrich"), 6u);            // Zürich
  EXPECT_EQ(pepr::display_width(std::string("a\xff", 2)), 2u);  // not UTF-8: a byte each
  Table t({"model", "dataset", "acc"});
  t.add_row({"\u80ba\u708e", "lung", "0.5"});
  t.add_row({"\U0001FAC1lung", "\u80ba", "0.25"});
  t.add_row({"resnet18", "x", "1"});
  EXPECT_EQ(pepr::render(t, pepr::Format::Table),
            "model     dataset     acc\n"
            "--------  -------  ------\n"
            "\u80ba\u708e      lung     0.5000\n"
            "\U0001FAC1lung    \u80ba       0.2500\n"
            "resnet18  x             1\n");
}
