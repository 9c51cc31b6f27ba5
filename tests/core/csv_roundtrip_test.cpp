// The CSV writer (Table::to_csv, append_csv_field) and the reader (Table::parse_csv) agree: every
// table pepr writes reads back with the same names and cells, whatever bytes they hold. And JSON
// output refuses text that is not UTF-8 with a located error.
#include <gtest/gtest.h>

#include <random>
#include <set>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/format.hpp"
#include "core/json_check.hpp"
#include "core/table.hpp"

using pepr::Table;

namespace {

void expect_round_trip(const Table& t, char delimiter, const std::string& what) {
  const std::string csv = t.to_csv(delimiter);
  pepr::CsvOptions o;
  o.delimiter = delimiter;
  Table back;
  try {
    back = Table::parse_csv(csv, "written.csv", o);
  } catch (const pepr::Error& e) {
    ADD_FAILURE() << what << ": the reader refused what the writer wrote: " << e.what();
    return;
  }
  ASSERT_EQ(back.column_names(), t.column_names()) << what;
  ASSERT_EQ(back.num_rows(), t.num_rows()) << what;
  for (std::size_t r = 0; r < t.num_rows(); ++r)
    for (std::size_t c = 0; c < t.num_columns(); ++c)
      ASSERT_EQ(back.cell(r, c), t.cell(r, c)) << what << " row " << r << " column " << c;
}

}  // namespace

// The cases the fuzzer found: each was written in a form the reader refused or misread.
TEST(CsvRoundTrip, FuzzerFindings) {
  {
    Table t({"label", "x"});
    t.add_row({std::string("a\vb"), "1"});  // 0x0B was written unquoted, then refused
    expect_round_trip(t, ',', "vertical tab in a value");
  }
  {
    Table t({""});  // a blank single-column header was an empty line, skipped by the reader
    t.add_row({"1"});
    t.add_row({"2"});
    expect_round_trip(t, ',', "blank single-column header");
  }
  {
    Table t({"\t"});  // a tab-only header was trimmed to nothing
    t.add_row({"v"});
    expect_round_trip(t, ',', "tab-only header");
  }
  {
    Table t({"only"});  // an empty value in a one-column table was an empty line
    t.add_row({""});
    t.add_row({"x"});
    expect_round_trip(t, ',', "empty value in a single column");
  }
  {
    Table t({"a", "b"});  // a trailing empty field (memcpy from a null pointer)
    t.add_row({"1", ""});
    expect_round_trip(t, ',', "trailing empty field");
  }
  {
    Table t({"\xEF\xBB\xBFname", " padded "});  // a leading byte-order mark is not the file's
    t.add_row({std::string("nul\0inside", 10), "\x7f"});
    expect_round_trip(t, ',', "byte-order mark, NUL and DEL");
  }
}

// Property: random tables over every byte value, with both delimiters.
TEST(CsvRoundTrip, RandomTablesOfAnyBytesReadBackUnchanged) {
  std::mt19937 rng(20261201);
  const std::string specials = std::string("\"\n\r\t ,;\v\x01\x7f", 11) + std::string(1, '\0');
  auto random_text = [&](std::size_t max_len) {
    std::string s;
    const std::size_t len = rng() % (max_len + 1);
    for (std::size_t i = 0; i < len; ++i) {
      switch (rng() % 4) {
        case 0:
          s += specials[rng() % specials.size()];
          break;
        case 1:
          s += static_cast<char>(rng() % 256);
          break;
        default:
          s += static_cast<char>('a' + rng() % 26);
          break;
      }
    }
    return s;
  };
  for (int trial = 0; trial < 3000; ++trial) {
    const std::size_t ncols = 1 + rng() % 3;
    std::vector<std::string> names;
    std::set<std::string> seen;
    while (names.size() < ncols) {
      std::string n = random_text(6);
      if (!n.empty() && !seen.insert(n).second) continue;  // the reader refuses duplicate names
      names.push_back(n);
    }
    Table t(names);
    const std::size_t nrows = rng() % 4;
    for (std::size_t r = 0; r < nrows; ++r) {
      std::vector<std::string> row;
      for (std::size_t c = 0; c < ncols; ++c) row.push_back(random_text(8));
      t.add_row(row);
    }
    expect_round_trip(t, trial % 2 ? ';' : ',', "trial " + std::to_string(trial));
    if (HasFatalFailure() || HasNonfatalFailure()) return;
  }
}

TEST(JsonOutput, TextThatIsNotUtf8IsALocatedInputError) {
  Table t = Table::parse_csv("model,city\nresnet18,Z\xFCrich\n", "latin1.csv");
  try {
    pepr::render(t, pepr::Format::Json);
    FAIL() << "rendered JSON from Latin-1 text";
  } catch (const pepr::Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("latin1.csv:2:city: not valid UTF-8 (byte 0xfc at byte 2)"), std::string::npos)
        << m;
  }
  Table ok = Table::parse_csv("model,city\nresnet18,Z\xC3\xBCrich\n", "utf8.csv");
  EXPECT_NE(pepr::render(ok, pepr::Format::Json).find("Z\xC3\xBCrich"), std::string::npos);
}

TEST(Utf8, ErrorOffsets) {
  EXPECT_EQ(pepr::utf8_error_offset("plain"), std::string_view::npos);
  EXPECT_EQ(pepr::utf8_error_offset("\xE2\x82\xAC \xF0\x9F\x98\x80"), std::string_view::npos);
  EXPECT_EQ(pepr::utf8_error_offset("ab\xC0\x80"), 2u);         // overlong NUL
  EXPECT_EQ(pepr::utf8_error_offset("\xED\xA0\x80"), 0u);       // a surrogate
  EXPECT_EQ(pepr::utf8_error_offset("x\xF4\x90\x80\x80"), 1u);  // above U+10FFFF
  EXPECT_EQ(pepr::utf8_error_offset("\xE2\x82"), 0u);           // cut short
  EXPECT_EQ(pepr::utf8_error_offset("ok\x80"), 2u);             // a lone continuation byte
}

TEST(JsonCheck, NamesThePathAndTheTypes) {
  const auto j = nlohmann::json::parse(R"({"a": {"b": "x"}, "n": null})");
  EXPECT_EQ(pepr::check_member(j, "", "missing", pepr::kJsonNumber, false), nullptr);
  EXPECT_TRUE(pepr::check_member(j, "", "n", pepr::kJsonNumber | pepr::kJsonNull)->is_null());
  try {
    pepr::check_member(j["a"], "a", "b", pepr::kJsonNumber | pepr::kJsonNull);
    FAIL();
  } catch (const pepr::Error& e) {
    EXPECT_STREQ(e.what(), "a.b: expected a number or null, found a string");
  }
  try {
    pepr::check_member(j, "", "c", pepr::kJsonObject);
    FAIL();
  } catch (const pepr::Error& e) {
    EXPECT_STREQ(e.what(), "c: missing (expected an object)");
  }
}
