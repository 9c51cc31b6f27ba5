// Several results tables as one (core/combine.hpp) and what a scored row is worth
// (core/caveats.hpp).
#include <gtest/gtest.h>

#include <string>

#include "core/caveats.hpp"
#include "core/combine.hpp"
#include "core/error.hpp"
#include "core/score.hpp"

using pepr::CombinedTable;
using pepr::Table;

namespace {

// Collect-like and track-like tables: model/dataset named alike, energy in different columns.
Table swept() {
  return Table::parse_csv(
      "model,dataset,test_acc,energy,energy_kwh\n"
      "resnet18,pneu,0.9,0.002,0.002\n"
      "mobilenet,pneu,0.8,0.001,0.001\n",
      "results.csv");
}
Table tracked() {
  return Table::parse_csv(
      "label,dataset,time_s,energy_kwh,test_acc\n"
      "my_script,pneu,3,0.0005,0.85\n",
      "tracked.csv");
}

std::string column(const Table& t, const std::string& name) {
  std::string s;
  const std::size_t c = t.require_column(name);
  for (std::size_t r = 0; r < t.num_rows(); ++r) s += std::string(t.cell(r, c)) + "|";
  return s;
}

}  // namespace

TEST(CombineTables, UnionsRowsMatchingColumnsByNameAndNamesEachRowsFile) {
  CombinedTable c = pepr::combine_tables({swept(), tracked()});
  const Table& t = c.table;
  ASSERT_EQ(t.num_rows(), 3u);
  EXPECT_EQ(t.column_names(),
            (std::vector<std::string>{"model", "dataset", "test_acc", "energy", "energy_kwh",
                                      "label", "time_s", "source"}));
  EXPECT_EQ(column(t, "energy_kwh"), "0.002|0.001|0.0005|");
  EXPECT_EQ(column(t, "energy"), "0.002|0.001||");  // tracked.csv has none: empty
  EXPECT_EQ(column(t, "model"), "resnet18|mobilenet||");
  EXPECT_EQ(column(t, "source"), "results.csv|results.csv|tracked.csv|");
  // Each row keeps its file and line for errors.
  EXPECT_EQ(t.source_of(2), "tracked.csv");
  EXPECT_EQ(t.line_of(2), 2u);
  EXPECT_EQ(t.source_of(1), "results.csv");
  EXPECT_EQ(t.line_of(1), 3u);
  try {
    (void)t.number(2, t.require_column("energy"));
    FAIL() << "a missing cell is no number";
  } catch (const pepr::ParseError& e) {
    EXPECT_NE(std::string(e.what()).find("tracked.csv:2"), std::string::npos) << e.what();
  }
  // What each input held, and the columns all of them have.
  EXPECT_EQ(c.common_columns().column_names(),
            (std::vector<std::string>{"dataset", "test_acc", "energy_kwh"}));
  ASSERT_NE(c.lacking("energy"), nullptr);
  EXPECT_EQ(c.lacking("energy")->source, "tracked.csv");
  EXPECT_EQ(c.lacking("energy_kwh"), nullptr);
  // Selections keep the rows' files.
  Table picked = t.select_rows({2, 0}).select_columns({0, 4});
  EXPECT_EQ(picked.source_of(0), "tracked.csv");
  EXPECT_EQ(picked.source_of(1), "results.csv");
}

TEST(CombineTables, ARenameAppliesWhereTheTargetIsAbsentAndATypoIsAnError) {
  CombinedTable c =
      pepr::combine_tables({swept(), tracked()}, {pepr::ColumnRename::parse("label=model")});
  EXPECT_EQ(column(c.table, "model"), "resnet18|mobilenet|my_script|");
  EXPECT_FALSE(c.table.find_column("label"));
  EXPECT_EQ(c.lacking("model"), nullptr);

  // A table with both keeps both.
  Table both = Table::parse_csv("model,label,test_acc\nm,l,0.5\n", "both.csv");
  CombinedTable b = pepr::combine_tables({both, tracked()}, {{"label", "model"}});
  EXPECT_EQ(column(b.table, "model"), "m|my_script|");
  EXPECT_EQ(column(b.table, "label"), "l||");

  EXPECT_THROW(pepr::combine_tables({swept(), tracked()}, {{"lable", "model"}}), pepr::Error);
  EXPECT_THROW(pepr::ColumnRename::parse("label"), pepr::Error);
  EXPECT_THROW(pepr::ColumnRename::parse("=model"), pepr::Error);
  EXPECT_THROW(pepr::ColumnRename::parse("a=b=c"), pepr::Error);
}

TEST(CombineTables, OneTableIsUnchangedAndAnEarlierSourceIsKept) {
  CombinedTable one = pepr::combine_tables({swept()});
  EXPECT_FALSE(one.table.find_column("source"));
  EXPECT_EQ(one.table.num_columns(), 5u);
  Table again = Table::parse_csv("model,test_acc,source\nx,0.5,old.csv\ny,0.6,\n", "scored.csv");
  CombinedTable c = pepr::combine_tables({again, swept()});
  EXPECT_EQ(column(c.table, "source"), "old.csv|scored.csv|results.csv|results.csv|");
}

namespace {

pepr::ScoreResult scored(const std::string& csv, pepr::ScoreOptions& o,
                         const std::string& group_by = "") {
  Table t = Table::parse_csv(csv, "t.csv");
  o.performance = pepr::PerformanceSpec::parse("test_acc");
  o.resources = {pepr::ResourceSpec::parse("energy", t)};
  o.group_by = group_by;
  return pepr::score_table(t, o);
}

}  // namespace

TEST(Caveats, EstimatedEnergyLoadedMachineAndChanceAreFlaggedPerRow) {
  pepr::ScoreOptions o;
  // The text outlives the table: a parsed table's cells are views into it (Table::parse_csv).
  const std::string csv =
      "model,test_acc,energy_kwh,energy_method,others_busy_cores,chance_accuracy\n"
      "a,0.9,1,rapl,0.1,0.6\n"
      "b,0.8,2,estimate,0,0.6\n"
      "c,0.605,3,rapl,1.5,0.6\n"
      "d,0.7,4,rapl,,\n";
  auto res = scored(csv, o);
  pepr::Caveats c = pepr::score_caveats(res, o);
  EXPECT_EQ(c.per_row,
            (std::vector<std::string>{"", "energy estimate", "loaded machine; at chance", ""}));
  ASSERT_EQ(c.notes.size(), 3u);
  EXPECT_NE(c.notes[0].find("1 of 4 rows is an estimate"), std::string::npos) << c.notes[0];
  EXPECT_NE(c.notes[1].find("LOADED MACHINE: 1 of 4 rows"), std::string::npos) << c.notes[1];
  EXPECT_NE(c.notes[2].find("1 of 4 rows perform at chance"), std::string::npos) << c.notes[2];
  EXPECT_TRUE(c.any_row());

  // Above chance + margin is not at chance; an estimate does not matter when energy is not
  // ranked.
  pepr::ScoreOptions m;
  Table t = Table::parse_csv(
      "model,test_acc,mem_peak_gb,energy_method,chance_accuracy\na,0.62,1,estimate,0.6\n", "t.csv");
  m.performance = pepr::PerformanceSpec::parse("test_acc");
  m.resources = {pepr::ResourceSpec::parse("memory", t)};
  pepr::Caveats none = pepr::score_caveats(pepr::score_table(t, m), m);
  EXPECT_FALSE(none.any_row());
  EXPECT_TRUE(none.notes.empty());
}

TEST(Caveats, DifferentPueOrCountryWithinAGroupIsAWarning) {
  pepr::ScoreOptions o;
  const std::string csv =
      "model,dataset,test_acc,energy_kwh,pue,country\n"
      "a,x,0.9,1,1,DE\n"
      "b,x,0.8,2,1.58,DE\n"
      "c,y,0.8,2,1,FR\n"
      "d,y,0.8,3,1,DE\n"
      "e,y,0.8,3,,\n";  // none given (another table's row): not a difference
  auto grouped = scored(csv, o, "dataset");
  pepr::Caveats c = pepr::score_caveats(grouped, o);
  ASSERT_EQ(c.notes.size(), 2u);
  EXPECT_NE(c.notes[0].find("in 'x' have different PUE (pue: 1, 1.58)"), std::string::npos)
      << c.notes[0];
  EXPECT_NE(c.notes[1].find("in 'y' have different grid carbon intensity (country: DE, FR)"),
            std::string::npos)
      << c.notes[1];
  EXPECT_FALSE(c.any_row());
}

TEST(Caveats, UnitsOfColumnsWhoseNamesDoNotSayThem) {
  EXPECT_EQ(pepr::unit_not_in_name("energy"), "kWh");
  EXPECT_EQ(pepr::unit_not_in_name("co2"), "g");
  EXPECT_EQ(pepr::unit_not_in_name("train_time"), "s");
  EXPECT_EQ(pepr::unit_not_in_name("memR"), "GB");
  EXPECT_EQ(pepr::unit_not_in_name("energy_kwh"), "");
  EXPECT_EQ(pepr::unit_not_in_name("accuracy"), "");
}
