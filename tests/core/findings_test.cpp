// What choosing by PePR saves (core/findings.hpp): the winner against the most accurate model,
// per experiment, on small tables made here.
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/findings.hpp"

namespace pepr {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

TEST(Findings, TheWinnerAgainstTheMostAccurateModelPerExperiment) {
  Grouping g;
  g.names = {"a", "b"};
  g.group_of = {0, 0, 0, 1, 1, 0};
  const std::vector<std::string> ids = {"big", "small", "mid", "only", "other", "broken"};
  const std::vector<double> p = {0.90, 0.88, 0.89, 0.70, 0.70, 0.99};
  const std::vector<double> kwh = {0.40, 0.10, 0.25, 0.02, 0.05, kNaN};
  // Scores as min-max within each experiment would give them (the NaN row is left out).
  std::vector<double> score(p.size());
  for (std::size_t r = 0; r < p.size(); ++r) score[r] = kNaN;
  score[0] = 0.90 / 2, score[1] = 0.88 / 1, score[2] = 0.89 / 1.5;
  score[3] = 0.70 / 1, score[4] = 0.70 / 2;
  const auto f = pepr_findings({g, ids, p, kwh, score, "PePR-E", "energy", "kWh"});
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(f[0].experiment, "a");
  EXPECT_EQ(f[0].winner_id, "small");
  EXPECT_EQ(f[0].most_accurate_id, "big");  // "broken" (P 0.99) has no energy
  EXPECT_EQ(f[0].rows, 3u);
  EXPECT_DOUBLE_EQ(f[0].saved(), 0.30);
  EXPECT_DOUBLE_EQ(f[0].saved_share(), 0.75);
  EXPECT_NEAR(f[0].p_given_up(), 0.02, 1e-12);
  EXPECT_EQ(f[0].sentence(),
            "In a, PePR-E picks small (P 0.8800): 75 % less energy than the most accurate model, "
            "big (P 0.9000; 300 Wh less), for 0.020 lower P.");
  // Tied at the best P: the cheaper one is the most accurate, and here also the winner.
  EXPECT_EQ(f[1].most_accurate_id, "only");
  EXPECT_TRUE(f[1].same_model());
  EXPECT_EQ(f[1].sentence(),
            "In b, the most accurate model, only (P 0.7000), is also the PePR-E winner: choosing "
            "by energy gives up nothing.");
}

TEST(Findings, AnExperimentWithoutAUsableRowHasNoFinding) {
  Grouping g;
  g.names = {"empty", "one"};
  g.group_of = {0, 1};
  const std::vector<std::string> ids = {"x", "y"};
  const std::vector<double> p = {kNaN, 0.5}, r = {1, 2}, s = {kNaN, 0.5};
  const auto f = pepr_findings({g, ids, p, r, s, "PePR-M", "memory", "GB"});
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].experiment, "one");
  EXPECT_TRUE(f[0].same_model());
}

TEST(Findings, QuantitiesReadInTheirUsualUnit) {
  EXPECT_EQ(format_quantity(0.0332, "kWh"), "33.2 Wh");
  EXPECT_EQ(format_quantity(2.5, "kWh"), "2.5 kWh");
  EXPECT_EQ(format_quantity(2755, "g"), "2.75 kg");
  EXPECT_EQ(format_quantity(17, "s"), "17 s");
  EXPECT_EQ(format_quantity(600, "s"), "10 min");
  EXPECT_EQ(format_quantity(9000, "s"), "2.5 h");
  EXPECT_EQ(format_quantity(5.53, "GB"), "5.53 GB");
  EXPECT_EQ(format_quantity(3, ""), "3");
  // A share of zero (the most accurate model used none of the resource) is not a number.
  Finding z;
  z.most_accurate_resource = 0;
  EXPECT_TRUE(std::isnan(z.saved_share()));
}

}  // namespace
}  // namespace pepr
