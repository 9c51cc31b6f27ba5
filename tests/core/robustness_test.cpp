// Rankings that know their noise: score intervals, top-1/top-K robustness, seed spread.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "core/error.hpp"
#include "core/robustness.hpp"
#include "core/score.hpp"
#include "core/table.hpp"

namespace pepr {
namespace {

Table results(const std::vector<std::vector<std::string>>& rows,
              std::vector<std::string> cols = {"dataset", "model", "acc", "energy_kwh"}) {
  Table t(cols, "results.csv");
  for (const auto& r : rows) t.add_row(r);
  return t;
}

ScoreResult score(const Table& t) {
  ScoreOptions o;
  o.performance = PerformanceSpec::parse("acc");
  o.resources = {ResourceSpec::parse("energy", t)};
  o.group_by = "dataset";
  return score_table(t, o);
}

std::vector<std::string> names(const Table& t) {
  std::vector<std::string> n;
  for (std::size_t r = 0; r < t.num_rows(); ++r) n.emplace_back(t.cell(r, 1));
  return n;
}

TEST(Robustness, ARankingThatFlipsWithinTheNoiseIsNotRobust) {
  // a and b: the same accuracy, 1.00 and 1.04 kWh; c the group's maximum. With +-5 % per run,
  // a at its upper bound and b at its lower one swap places.
  const Table t =
      results({{"x", "a", "0.8", "1.00"}, {"x", "b", "0.8", "1.04"}, {"x", "c", "0.9", "3.0"}});
  const ScoreResult s = score(t);
  const auto spec = ResourceSpec::parse("energy", t);
  const auto b = resource_bounds(t, spec, Normalization{}, 0.05);
  ASSERT_TRUE(b);
  const ScoreBounds sb = pepr_bounds(s.performance, *b, s.groups, Normalization{}, 1.0);
  for (std::size_t r = 0; r < 3; ++r) {
    EXPECT_LE(sb.lo[r], s.scores[0][r]);
    EXPECT_GE(sb.hi[r], s.scores[0][r]);
  }
  const auto rob = ranking_robustness(s.scores[0], sb, s.groups, 2);
  ASSERT_EQ(rob.size(), 1u);
  EXPECT_EQ(t.cell(rob[0].winner, 1), "a");
  EXPECT_FALSE(rob[0].top1_robust);
  ASSERT_EQ(rob[0].within_noise.size(), 1u);
  EXPECT_EQ(t.cell(rob[0].within_noise[0], 1), "b");
  // The flip is real: a at 1.05, b at 0.99 (both within 5 %) rank b first.
  const ScoreResult flipped = score(
      results({{"x", "a", "0.8", "1.05"}, {"x", "b", "0.8", "0.99"}, {"x", "c", "0.9", "3.0"}}));
  EXPECT_GT(flipped.scores[0][1], flipped.scores[0][0]);
  EXPECT_NE(robustness_sentence(rob[0], names(t)).find("NOT robust"), std::string::npos);
}

TEST(Robustness, ClearWinnersAreRobustAndNoErrorMeansPointIntervals) {
  const Table t = results({{"x", "a", "0.9", "1.0"},
                           {"x", "b", "0.8", "2.0"},
                           {"x", "c", "0.6", "3.0"},
                           {"y", "a", "0.5", "1.0"}});
  const ScoreResult s = score(t);
  const auto spec = ResourceSpec::parse("energy", t);
  const auto b = resource_bounds(t, spec, Normalization{}, 0.05);
  const auto rob = ranking_robustness(
      s.scores[0], pepr_bounds(s.performance, *b, s.groups, Normalization{}, 1.0), s.groups, 2);
  ASSERT_EQ(rob.size(), 2u);
  EXPECT_TRUE(rob[0].top1_robust);
  EXPECT_TRUE(rob[0].topk_robust);
  EXPECT_EQ(rob[1].group, "y");
  EXPECT_TRUE(rob[1].top1_robust);  // a group of one
  const auto exact = resource_bounds(t, spec, Normalization{}, 0.0);
  const ScoreBounds z = pepr_bounds(s.performance, *exact, s.groups, Normalization{}, 1.0);
  for (std::size_t r = 0; r < t.num_rows(); ++r) {
    EXPECT_NEAR(z.lo[r], s.scores[0][r], 1e-12);
    EXPECT_NEAR(z.hi[r], s.scores[0][r], 1e-12);
  }
  EXPECT_THROW(resource_bounds(t, spec, Normalization{}, -0.1), Error);
}

TEST(Robustness, PepRsColumnsGiveTheBounds) {
  // One method: the per-run error alone (the systematic part cancels in min-max).
  std::vector<std::string> cols{
      "dataset",       "model",         "acc",           "energy_kwh",
      "energy_kwh_lo", "energy_kwh_hi", "energy_method", "energy_error_per_run"};
  Table one = results({{"x", "a", "0.8", "1.0", "0.5", "2.0", "estimate", "0.25"},
                       {"x", "b", "0.8", "2.0", "1.0", "4.0", "estimate", "0.25"}},
                      cols);
  const auto spec = ResourceSpec::parse("energy", one);
  auto b = resource_bounds(one, spec, Normalization{}, std::nullopt);
  ASSERT_TRUE(b);
  EXPECT_NEAR(b->lo[0], 1.0 / 1.25, 1e-12);
  EXPECT_NEAR(b->hi[1], 2.0 * 1.25, 1e-12);
  EXPECT_NE(b->basis.find("cancels"), std::string::npos);
  // Fixed bounds do not cancel a common error: the whole interval.
  b = resource_bounds(one, spec, Normalization::parse("fixed:0,10"), std::nullopt);
  EXPECT_NEAR(b->lo[0], 0.5, 1e-12);
  // Two methods: their systematic errors differ, so the whole interval too.
  Table mixed = results({{"x", "a", "0.8", "1.0", "0.9", "1.1", "rapl-powercap", "0.02"},
                         {"x", "b", "0.8", "2.0", "1.0", "4.0", "estimate", "0.25"}},
                        cols);
  b = resource_bounds(mixed, spec, Normalization{}, std::nullopt);
  EXPECT_NEAR(b->lo[0], 0.9, 1e-12);
  EXPECT_NEAR(b->hi[1], 4.0, 1e-12);
  // Without either, no bounds (the paper's tables): say so rather than guess.
  EXPECT_FALSE(
      resource_bounds(results({{"x", "a", "0.8", "1.0"}}), spec, Normalization{}, std::nullopt));
}

// The bounds are computed in linear time from each group's two extremes; they must equal the
// definition (every other row of the group at its extreme), computed here row by row, ties and
// one-row groups included.
TEST(Robustness, PeprBoundsEqualTheirDefinition) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  Grouping g;
  g.names = {"a", "b", "c"};
  ResourceBounds b;
  std::vector<double> perf;
  for (std::size_t i = 0; i < 60; ++i) {
    g.group_of.push_back(i == 59 ? 2 : i % 2);         // group c has one row
    const double v = i % 7 == 0 ? 1.0 : 0.5 + u(rng);  // ties at 1.0
    b.lo.push_back(v / 1.2);
    b.hi.push_back(v * 1.2);
    perf.push_back(u(rng));
  }
  for (const auto kind : {Normalization::Kind::MinMax, Normalization::Kind::Zero}) {
    Normalization norm;
    norm.kind = kind;
    const ScoreBounds fast = pepr_bounds(perf, b, g, norm, 1.0);
    for (std::size_t i = 0; i < perf.size(); ++i) {
      double min_lo = 1e300, max_lo = -1e300, min_hi = 1e300, max_hi = -1e300;
      for (std::size_t j = 0; j < perf.size(); ++j)
        if (j != i && g.group_of[j] == g.group_of[i]) {
          min_lo = std::min(min_lo, b.lo[j]), max_lo = std::max(max_lo, b.lo[j]);
          min_hi = std::min(min_hi, b.hi[j]), max_hi = std::max(max_hi, b.hi[j]);
        }
      auto r = [&](double e, double lo, double hi) {
        lo = std::min(lo, e), hi = std::max(hi, e);
        const double x = kind == Normalization::Kind::MinMax ? (hi > lo ? (e - lo) / (hi - lo) : 0)
                                                             : (hi > 0 ? e / hi : 0);
        return std::clamp(x, 0.0, 1.0);
      };
      EXPECT_DOUBLE_EQ(fast.lo[i], perf[i] / (1 + r(b.hi[i], min_lo, max_lo))) << i;
      EXPECT_DOUBLE_EQ(fast.hi[i], perf[i] / (1 + r(b.lo[i], min_hi, max_hi))) << i;
    }
  }
}

// A winner within the noise of many: the sentence names the ten closest and counts the rest.
TEST(Robustness, TheSentenceNamesTheClosestTenAndCountsTheRest) {
  GroupRobustness g;
  g.group = "x";
  g.winner = 0;
  std::vector<std::string> names{"w"};
  for (std::size_t i = 1; i <= 25; ++i) {
    names.push_back("m" + std::to_string(i));
    g.within_noise.push_back(i);
  }
  g.k = 3;
  const std::string s = robustness_sentence(g, names);
  EXPECT_EQ(s,
            "x: the top-1 (w) is NOT robust: within the noise of 25 others: m1, m2, m3, m4, m5, "
            "m6, m7, m8, m9, m10 and 15 more; the top 3 is NOT robust");
}

TEST(Robustness, SeedSpreadGivesAStudentTInterval) {
  Grouping g;
  g.group_of = {0, 0, 0, 0, 0};
  g.names = {"x"};
  const std::vector<std::string> keys{"a", "a", "a", "b", "b"};
  const auto s = seed_spread({1, 2, 3, 0.5, 0.7}, g, keys);
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0].n, 3u);
  EXPECT_DOUBLE_EQ(s[0].mean, 2.0);
  EXPECT_NEAR(s[0].sd, 1.0, 1e-12);
  // t(2) 97.5 % quantile 4.302653: half-width 4.302653 / sqrt(3).
  EXPECT_NEAR(s[0].ci_hi - s[0].mean, 4.302653 / std::sqrt(3.0), 1e-5);
  const auto r = seed_robustness(s);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].best, "a");
  EXPECT_FALSE(r[0].robust);  // a's interval reaches down to b's
  const auto clear = seed_robustness(seed_spread({2.0, 2.1, 2.05, 0.5, 0.6}, g, keys));
  EXPECT_TRUE(clear[0].robust);
  // The sentence score, bench and the report print.
  const auto said = seed_sentences({2.0, 2.1, 2.05, 0.5, 0.6}, g, keys, "pepr_e");
  ASSERT_EQ(said.size(), 1u);
  EXPECT_EQ(said[0].rfind("x: over the seeds, a leads by mean pepr_e 2.0500 (n 3, sd 0.0500", 0),
            0u)
      << said[0];
  EXPECT_NE(said[0].find(", robust to seed noise"), std::string::npos) << said[0];
  EXPECT_NE(seed_sentences({1, 2, 3, 0.5, 0.7}, g, keys, "pepr_e")[0].find(
                "NOT robust to seed noise: b overlap"),
            std::string::npos);
  // One run per model: nothing to say.
  EXPECT_TRUE(seed_sentences({1, 2}, Grouping{{0, 0}, {"x"}}, {"a", "b"}, "pepr_e").empty());
}

}  // namespace
}  // namespace pepr
