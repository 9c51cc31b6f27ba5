#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "core/comparisons.hpp"
#include "core/error.hpp"
#include "core/stats.hpp"
#include "core/table.hpp"
#include "support/test_support.hpp"

namespace {
// Reference values computed with scipy 1.10.1 (scipy.stats.ttest_ind, ttest_rel, mannwhitneyu).
const std::vector<double> kA{0.1, 0.5, 0.3, 0.9, 0.7};
const std::vector<double> kB{0.2, 0.25, 0.15, 0.4, 0.35, 0.05};

void expect_rel(double got, double want, double rel = 1e-9) {
  EXPECT_LE(std::fabs(got - want), rel * std::fabs(want)) << got << " vs " << want;
}
}  // namespace

TEST(Stats, StudentAndWelchMatchScipy) {
  auto s = pepr::student_t_test(kA, kB);
  expect_rel(s.t, 1.9003381979157492);
  expect_rel(s.p, 0.08983949327810185);
  EXPECT_EQ(s.df, 9);
  auto w = pepr::welch_t_test(kA, kB);
  expect_rel(w.t, 1.766904417197544);
  expect_rel(w.p, 0.1362393051977918);
}

TEST(Stats, PairedMatchesScipy) {
  auto r = pepr::paired_t_test({1, 2, 3, 4, 5.5}, {1.5, 2.1, 2.9, 4.8, 5.0});
  expect_rel(r.t, -0.7043607250604991);
  expect_rel(r.p, 0.5200543991901098);
}

TEST(Stats, MannWhitneyExactAndAsymptoticMatchScipy) {
  auto e = pepr::mann_whitney_u(kA, kB);
  EXPECT_TRUE(e.exact);
  EXPECT_EQ(e.u, 23.0);
  expect_rel(e.p, 0.17748917748917747);
  auto t = pepr::mann_whitney_u({1, 2, 2, 3, 4, 5, 5, 5, 6, 7, 8, 9},
                                {2, 3, 3, 4, 6, 6, 7, 8, 10, 11, 12, 12, 13});
  EXPECT_FALSE(t.exact);
  EXPECT_EQ(t.u, 45.5);
  expect_rel(t.p, 0.08058463491552079);
}

TEST(Stats, MediansAndMeans) {
  EXPECT_EQ(pepr::median({3, 1, 2}), 2);
  EXPECT_EQ(pepr::median({4, 1, 2, 3}), 2.5);
  EXPECT_EQ(pepr::mean({1, 2, 3, 6}), 3);
  EXPECT_NEAR(pepr::sample_variance({1, 2, 3, 4}), 1.6666666666666667, 1e-15);
}

TEST(Stats, PaperDermaPretrainedVsScratch) {
  PEPR_REQUIRE_SHARED(path, "pepr-paper/all_results.csv");
  pepr::Table t = pepr::Table::read_csv(path.string());
  auto groups = pepr::group_rows(t, "dataset");
  pepr::ComparisonOptions o;
  o.value = "test_09";
  o.experiments.emplace_back("derma_pt", "derma");
  auto cs = pepr::run_comparisons(t, groups, o);
  ASSERT_EQ(cs.size(), 1u);
  EXPECT_EQ(cs[0].n_a, 131u);
  EXPECT_EQ(cs[0].n_b, 131u);
  expect_rel(cs[0].student.t, 12.93571262373765);
  expect_rel(cs[0].student.p, 6.950780662622789e-30);
  expect_rel(cs[0].welch.p, 1.990932115512309e-28, 1e-8);
  EXPECT_EQ(cs[0].mann_whitney.u, 15004.5);
  expect_rel(cs[0].mann_whitney.p, 1.1338841593896266e-25, 1e-8);
  EXPECT_TRUE(cs[0].paired);
  EXPECT_EQ(cs[0].n_paired, 131u);
}

TEST(Stats, SizeSplitIsThePapersThresholdOrTheMedian) {
  PEPR_REQUIRE_SHARED(path, "pepr-paper/all_results.csv");
  pepr::Table t = pepr::Table::read_csv(path.string());
  auto groups = pepr::group_rows(t, "dataset");
  pepr::ComparisonOptions o;
  o.value = "test_09";
  o.splits = {"size"};
  // The default (auto): the paper's split, num_param < 24.6e6: 65 small, 66 large (res2next50,
  // 24.67M, is large).
  auto cs = pepr::run_comparisons(t, groups, o);
  ASSERT_EQ(cs.size(), 8u);
  for (const auto& c : cs) {
    EXPECT_EQ(c.n_a + c.n_b, 131u) << c.group;
    EXPECT_EQ(c.n_a, 65u) << c.group;
    EXPECT_EQ(c.label_a, "small (< 24.6M)");
  }
  // Each group's own median: <= the median of 131 values, 66 models.
  o.size_split = pepr::SizeSplit::parse("median");
  for (const auto& c : pepr::run_comparisons(t, groups, o)) {
    EXPECT_EQ(c.n_a, 66u) << c.group;
    // The median of the 131 parameter counts: the paper's "24.6M" (24,671,464).
    EXPECT_EQ(c.label_a, "small (<= 24.67M)");
  }
  // A threshold of the user's own.
  o.size_split = pepr::SizeSplit::parse("10e6");
  for (const auto& c : pepr::run_comparisons(t, groups, o)) EXPECT_EQ(c.label_a, "small (< 10M)");
  EXPECT_THROW(pepr::SizeSplit::parse("-3"), pepr::Error);
  EXPECT_THROW(pepr::SizeSplit::parse("big"), pepr::Error);
}

TEST(Stats, AutoSizeSplitFallsBackToTheMedianWhenASideIsEmpty) {
  // Four models, all below 24.6M: the paper's split would leave no large model.
  pepr::Table t = pepr::Table::parse_csv(
      "model,num_param,acc\na,1e6,0.5\nb,2e6,0.6\nc,3e6,0.7\nd,4e6,0.8\n", "t.csv");
  pepr::ComparisonOptions o;
  o.value = "acc";
  o.splits = {"size"};
  auto cs = pepr::run_comparisons(t, pepr::group_rows(t, ""), o);
  ASSERT_EQ(cs.size(), 1u);
  EXPECT_EQ(cs[0].n_a, 2u);
  EXPECT_EQ(cs[0].label_a, "small (<= 2.5M)");
  o.size_split = pepr::SizeSplit::parse("paper");
  EXPECT_THROW(pepr::run_comparisons(t, pepr::group_rows(t, ""), o), pepr::Error)
      << "no large model: the test cannot run";
}

TEST(Stats, ComparisonErrorsInTheLibrarysOwnTerms) {
  pepr::Table t = pepr::Table::parse_csv("model,acc\na,0.5\nb,0.6\n", "t.csv");
  auto message = [&](const pepr::ComparisonOptions& o) -> std::string {
    try {
      pepr::run_comparisons(t, pepr::group_rows(t, ""), o);
    } catch (const pepr::Error& e) {
      return e.what();
    }
    return "";
  };
  pepr::ComparisonOptions o;
  o.value = "acc";
  EXPECT_EQ(message(o),
            "t.csv: nothing to compare: no num_param/params, type or efficient column; give a "
            "split or experiment pairs");
  o.experiments.emplace_back("x", "y");
  EXPECT_EQ(message(o),
            "experiment pairs need a grouping column (the column holding the experiment names)");
}

TEST(Stats, KdeSilvermanBandwidthAndDensity) {
  std::vector<double> x{1, 2, 3, 4, 5};
  // sd = 1.5811, IQR = 4 - 2 = 2, min(sd, IQR / 1.34) = 1.4925.
  EXPECT_NEAR(pepr::silverman_bandwidth(x), 0.9 * (2 / 1.34) * std::pow(5.0, -0.2), 1e-12);
  // {1, 1, 1, 1, 5}: quartiles 1 and 1, sd = sqrt(12.8 / 4).
  EXPECT_NEAR(pepr::silverman_bandwidth({1, 1, 1, 1, 5}),
              0.9 * std::sqrt(3.2) * std::pow(5.0, -0.2), 1e-12)
      << "IQR 0: the standard deviation alone";
  EXPECT_EQ(pepr::silverman_bandwidth({3}), 0);
  EXPECT_DOUBLE_EQ(pepr::quantile({1, 2, 3, 4}, 0.25), 1.75);
  // The density integrates to 1 and peaks at the mode of a symmetric sample.
  std::vector<double> grid;
  for (int i = 0; i <= 4000; ++i) grid.push_back(-10 + 26.0 * i / 4000);
  double h = pepr::silverman_bandwidth(x);
  auto f = pepr::gaussian_kde(x, h, grid);
  double area = 0;
  for (std::size_t i = 1; i < grid.size(); ++i)
    area += 0.5 * (f[i] + f[i - 1]) * (grid[i] - grid[i - 1]);
  EXPECT_NEAR(area, 1.0, 1e-6);
  auto at = pepr::gaussian_kde(x, h, {3.0, 0.0});
  EXPECT_GT(at[0], at[1]);
  // One point: a normal density with sd = bandwidth.
  EXPECT_NEAR(pepr::gaussian_kde({0}, 2, {0})[0], 1 / (2 * std::sqrt(2 * M_PI)), 1e-15);
}
