#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "core/error.hpp"
#include "core/score.hpp"
#include "core/table.hpp"
#include "support/test_support.hpp"

using namespace pepr;

namespace {
Table small_table() {
  return Table::parse_csv(
      "model,dataset,acc,energy_kwh,memR\n"
      "a,x,0.9,2,5\n"
      "b,x,0.8,1,1\n"
      "c,x,0.6,3,3\n"
      "d,y,0.7,10,1\n",
      "t.csv");
}
ScoreOptions options(const Table& t, std::vector<std::string> res, std::string norm = "minmax") {
  ScoreOptions o;
  o.performance = PerformanceSpec::parse("acc");
  for (auto& r : res) o.resources.push_back(ResourceSpec::parse(r, t));
  o.group_by = "dataset";
  o.norm = Normalization::parse(norm);
  return o;
}
}  // namespace

TEST(Score, PaperPropertiesSingleModelTwoModelsBounded) {
  // A single model: R = 0 and PePR equals P.
  EXPECT_EQ(pepr_score(0.73, 0.0), 0.73);
  Table t = small_table();
  auto res = score_table(t, options(t, {"energy"}));
  EXPECT_EQ(res.normalized[0][3], 0.0);  // group y has one model
  EXPECT_EQ(res.scores[0][3], 0.7);
  // Two models: the cheaper keeps P0, the dearer gets P1 / 2.
  Table two = Table::parse_csv("model,acc,energy\np,0.6,1\nq,0.9,4\n", "two.csv");
  ScoreOptions o;
  o.performance = PerformanceSpec::parse("acc");
  o.resources.push_back(ResourceSpec::parse("energy", two));
  auto r2 = score_table(two, o);
  EXPECT_EQ(r2.scores[0][0], 0.6);
  EXPECT_EQ(r2.scores[0][1], 0.45);
  // PePR <= P always, equality only at R = 0.
  for (std::size_t i = 0; i < res.scores[0].size(); ++i) {
    EXPECT_LE(res.scores[0][i], res.performance[i]);
    if (res.normalized[0][i] > 0) {
      EXPECT_LT(res.scores[0][i], res.performance[i]);
    }
  }
}

TEST(Score, NormalisationsWithinGroups) {
  Table t = small_table();
  auto mm = score_table(t, options(t, {"energy"}));
  EXPECT_EQ(mm.normalized[0][0], 0.5);
  EXPECT_EQ(mm.normalized[0][1], 0.0);
  EXPECT_EQ(mm.normalized[0][2], 1.0);
  auto z = score_table(t, options(t, {"energy"}, "zero"));
  EXPECT_DOUBLE_EQ(z.normalized[0][0], 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(z.normalized[0][1], 1.0 / 3.0);
  EXPECT_EQ(z.normalized[0][3], 1.0);  // y: 10 / 10
  auto f = score_table(t, options(t, {"energy"}, "fixed:0,20"));
  EXPECT_EQ(f.normalized[0][3], 0.5);
  EXPECT_EQ(f.normalized[0][1], 0.05);
  // Outside fixed bounds: an error naming the cell, unless --clip.
  try {
    score_table(t, options(t, {"energy"}, "fixed:0,5"));
    FAIL();
  } catch (const ParseError& e) {
    EXPECT_STREQ(e.what(),
                 "t.csv:5:energy_kwh: 10 lies outside the fixed bounds [0, 5]; clip to clamp it");
  }
  auto o = options(t, {"energy"}, "fixed:0,5");
  o.norm.clip = true;
  EXPECT_EQ(score_table(t, o).normalized[0][3], 1.0);
  EXPECT_THROW(Normalization::parse("fixed:3,1"), Error);
  EXPECT_THROW(Normalization::parse("fixed:a,1"), Error);
  EXPECT_THROW(Normalization::parse("maxmin"), Error);
}

TEST(Score, ScaledFormAndColumnNames) {
  Table t = small_table();
  auto o = options(t, {"energy", "memory=memR", "memR"});
  o.alpha = 4;
  auto res = score_table(t, o);
  EXPECT_EQ(o.resources[0].column, "energy_kwh");  // the unit-suffixed fallback
  EXPECT_EQ(o.resources[0].norm_name, "E_n");
  EXPECT_EQ(o.resources[0].score_name, "pepr_e");
  EXPECT_EQ(o.resources[1].norm_name, "M_n");
  EXPECT_EQ(o.resources[2].score_name, "pepr_memR");
  EXPECT_DOUBLE_EQ(res.scores[0][0], 4 * 0.9 / (4 + 0.5));
  for (const char* c : {"model", "dataset", "acc", "energy_kwh", "memR", "E_n", "pepr_e", "M_n",
                        "pepr_m", "memR_n", "pepr_memR"})
    EXPECT_TRUE(res.table.find_column(c)) << c;
  o.alpha = 0.5;
  EXPECT_THROW(score_table(t, o), Error);
}

TEST(Score, PerformanceFromEpochColumnsAndScale) {
  Table t = Table::parse_csv(
      "model,test_10,test_2,test_1,energy\n"
      "a,0.5,0.9,0.1,1\n"
      "b,0.6,,0.2,2\n",
      "e.csv");
  auto cols = epoch_columns(t, "test_");
  ASSERT_EQ(cols.size(), 3u);
  EXPECT_EQ(t.column_name(cols[0]), "test_1");
  EXPECT_EQ(t.column_name(cols[2]), "test_10");
  auto last = performance_values(t, PerformanceSpec::parse("last:test_"));
  EXPECT_EQ(last[0], 0.5);
  auto best = performance_values(t, PerformanceSpec::parse("best:test_"));
  EXPECT_EQ(best[0], 0.9);
  EXPECT_EQ(best[1], 0.6);
  Table pct = Table::parse_csv("m,acc,energy\na,85,1\nb,101,2\n", "p.csv");
  auto spec = PerformanceSpec::parse("acc");
  try {
    performance_values(pct, spec);
    FAIL();
  } catch (const ParseError& e) {
    EXPECT_NE(std::string(e.what()).find("p.csv:2:acc: performance 85 is outside [0, 1]"),
              std::string::npos)
        << e.what();
  }
  spec.scale = 0.01;
  try {
    performance_values(pct, spec);
    FAIL();
  } catch (const ParseError& e) {
    EXPECT_NE(std::string(e.what()).find("p.csv:3:acc: performance 1.01 is outside"),
              std::string::npos)
        << e.what();
  }
}

TEST(Score, UnknownResourceAndGroup) {
  Table t = small_table();
  EXPECT_THROW(ResourceSpec::parse("co2", t), Error);  // neither co2 nor co2_g
  EXPECT_THROW(ResourceSpec::parse("energy=nope", t), Error);
  EXPECT_THROW(group_rows(t, "nope"), Error);
}

TEST(Score, RankRowsPerGroup) {
  Grouping g;
  g.group_of = {0, 0, 1, 0, 1};
  g.names = {"x", "y"};
  auto order = rank_rows({0.1, 0.9, 0.5, 0.9, 0.7}, g, 2);
  EXPECT_EQ(order, (std::vector<std::size_t>{1, 3, 4, 2}));  // ties keep input order
}

// The authors' own PePR columns, reproduced from the raw measurements to 1e-12.
TEST(Score, ReproducesThePapersPeprColumns) {
  PEPR_REQUIRE_SHARED(raw_path, "pepr-paper/all_results.csv");
  PEPR_REQUIRE_SHARED(ref_path, "pepr-paper/full_data_pepr_dataset_level.csv");
  Table raw = Table::read_csv(raw_path.string());
  Table ref = Table::read_csv(ref_path.string());
  ScoreOptions o;
  o.performance = PerformanceSpec::parse("test_09");
  o.group_by = "dataset";
  for (auto r : {"energy", "co2", "time=train_time", "memory=memR"})
    o.resources.push_back(ResourceSpec::parse(r, raw));
  auto res = score_table(raw, o);
  ASSERT_EQ(raw.num_rows(), 1048u);
  ASSERT_EQ(ref.num_rows(), 1048u);
  // Rows are matched by (model, dataset): the two files list them in different orders.
  std::map<std::pair<std::string, std::string>, std::size_t> at;
  const auto m = raw.require_column("model"), d = raw.require_column("dataset");
  for (std::size_t r = 0; r < raw.num_rows(); ++r)
    at[{std::string(raw.cell(r, m)), std::string(raw.cell(r, d))}] = r;
  ASSERT_EQ(at.size(), 1048u);
  const auto rm = ref.require_column("model"), rd = ref.require_column("dataset");
  std::size_t compared = 0;
  double worst = 0;
  for (std::size_t r = 0; r < ref.num_rows(); ++r) {
    auto it = at.find({std::string(ref.cell(r, rm)), std::string(ref.cell(r, rd))});
    ASSERT_NE(it, at.end());
    for (std::size_t k = 0; k < 4; ++k) {
      const auto& spec = o.resources[k];
      double want_n = ref.number(r, ref.require_column(spec.norm_name));
      double want_s = ref.number(r, ref.require_column(spec.score_name));
      double got_n = res.normalized[k][it->second], got_s = res.scores[k][it->second];
      worst = std::max({worst, std::fabs(got_n - want_n), std::fabs(got_s - want_s)});
      EXPECT_NEAR(got_s, want_s, 1e-12) << spec.score_name << " row " << r;
      EXPECT_NEAR(got_n, want_n, 1e-12) << spec.norm_name << " row " << r;
      ++compared;
    }
  }
  EXPECT_EQ(compared, 4u * 1048u);
  RecordProperty("max_abs_difference", std::to_string(worst));
}

TEST(Score, NegativeResourceValuesAreRefusedUnlessAllowed) {
  Table t = Table::parse_csv(
      "model,acc,energy_kwh\n"
      "a,0.9,2\n"
      "b,0.8,-0.5\n"
      "c,0.6,3\n",
      "neg.csv");
  auto o = options(t, {"energy"});
  o.group_by.clear();
  try {
    score_table(t, o);
    FAIL() << "a negative energy was scored";
  } catch (const ParseError& e) {
    EXPECT_STREQ(e.what(),
                 "neg.csv:3:energy_kwh: negative resource value -0.5 (a cost is >= 0; "
                 "allow_negative scores it anyway)");
  }
  o.allow_negative = true;
  auto res = score_table(t, o);
  EXPECT_EQ(res.normalized[0][1], 0.0);  // the smallest value
  EXPECT_DOUBLE_EQ(res.normalized[0][0], 2.5 / 3.5);
}

TEST(Score, ErrorsInTheLibrarysOwnTerms) {
  Table t = small_table();
  auto message = [](auto f) -> std::string {
    try {
      f();
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_EQ(message([] { Normalization::parse("maxmin"); }),
            "normalisation 'maxmin': expected minmax, zero or fixed:LO,HI");
  EXPECT_EQ(message([&] { ResourceSpec::parse("energy=", t); }),
            "resource 'energy=': expected KIND=COLUMN");
  auto o = options(t, {"energy"});
  o.alpha = 0.5;
  EXPECT_EQ(message([&] { score_table(t, o); }), "alpha must be >= 1, got 0.5");
  o.alpha = 1;
  o.resources.clear();
  EXPECT_EQ(message([&] { score_table(t, o); }), "no resource given: nothing to score by");
}
