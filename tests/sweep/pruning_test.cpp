// Sweep-level pruning: runs that cannot enter the top K by PePR (src/sweep/pruning.hpp).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "core/score.hpp"
#include "sweep/pruning.hpp"

namespace sw = pepr::sweep;

namespace {

sw::PruneRun finished(double kwh, std::vector<double> acc) {
  return {true, kwh, kwh, acc};
}
sw::PruneRun unfinished(double predicted_kwh, double spent_kwh, std::vector<double> acc) {
  return {false, predicted_kwh, spent_kwh, acc};
}

// K = 1: A finished (1 kWh, the cheapest: R = 0, P = 0.8, so PePR 0.8), C unfinished with the
// given predicted total, D unfinished predicted 11 kWh (the most expensive: it sets the maximum).
sw::PruneState one_winner(double c_predicted, std::vector<double> c_acc = {0.5}) {
  sw::PruneState s;
  s.top_k = 1;
  s.bound = sw::OptimisticP::One;
  s.runs = {finished(1, {0.5, 0.8}), unfinished(c_predicted, c_predicted / 10, c_acc),
            unfinished(11, 1.1, {0.3})};
  return s;
}

}  // namespace

TEST(SweepPruning, RBoundsUseThePredictedMinimumAndMaximumOfAllRuns) {
  sw::PruneState s = one_winner(5);
  s.runs.insert(s.runs.begin() + 1, finished(2, {0.6}));  // A 1, B 2, C 5 (pred.), D 11 (pred.)
  // Exact predictions: lo = 1 (finished A), hi = 11 (unfinished D's prediction).
  auto x = sw::energy_extremes(s);
  EXPECT_DOUBLE_EQ(x.min.lo, 1);
  EXPECT_DOUBLE_EQ(x.max.hi, 11);
  EXPECT_DOUBLE_EQ(sw::r_bounds(s, 2).lo, 0.4);  // (5 - 1) / (11 - 1)
  EXPECT_DOUBLE_EQ(sw::r_bounds(s, 2).hi, 0.4);
  EXPECT_DOUBLE_EQ(sw::r_bounds(s, 1).lo, 0.1);  // finished B: (2 - 1) / 10
  EXPECT_DOUBLE_EQ(sw::r_bounds(s, 1).hi, 0.1);
  EXPECT_DOUBLE_EQ(sw::r_bounds(s, 3).hi, 1.0);
  // The prediction trusted to within a factor 2: C in [2.5, 10], D in [5.5, 22].
  s.energy_margin = 2;
  EXPECT_DOUBLE_EQ(sw::energy_interval(s, 2).lo, 2.5);
  EXPECT_DOUBLE_EQ(sw::energy_interval(s, 2).hi, 10);
  EXPECT_DOUBLE_EQ(sw::energy_interval(s, 1).lo, 2);  // finished: exact
  EXPECT_DOUBLE_EQ(sw::energy_interval(s, 1).hi, 2);
  x = sw::energy_extremes(s);
  EXPECT_DOUBLE_EQ(x.min.hi, 1);
  EXPECT_DOUBLE_EQ(x.max.lo, 5.5);
  EXPECT_DOUBLE_EQ(x.max.hi, 22);
  EXPECT_DOUBLE_EQ(sw::r_bounds(s, 2).lo, 1.5 / 21);  // C as small, the maximum as large
  EXPECT_DOUBLE_EQ(sw::r_bounds(s, 2).hi, 1.0);       // C may be the maximum itself
  EXPECT_DOUBLE_EQ(sw::r_bounds(s, 1).lo, 1.0 / 21);
  EXPECT_DOUBLE_EQ(sw::r_bounds(s, 1).hi, 1.0 / 4.5);  // the maximum as small as 5.5
  // The PePR bounds of finished B follow: P / (1 + R_hi) .. P / (1 + R_lo).
  auto b = sw::pepr_bounds(s, x, 1);
  EXPECT_DOUBLE_EQ(b.lo, 0.6 / (1 + 1.0 / 4.5));
  EXPECT_DOUBLE_EQ(b.hi, 0.6 / (1 + 1.0 / 21));
}

TEST(SweepPruning, EnergySpentAndMissingPredictionsWidenTheInterval) {
  sw::PruneState s;
  s.runs = {unfinished(2, 3, {0.5}), unfinished(0, 0.5, {0.5}), finished(1, {0.7})};
  // Already spent more than predicted: the total is at least what was spent.
  EXPECT_DOUBLE_EQ(sw::energy_interval(s, 0).lo, 3);
  EXPECT_DOUBLE_EQ(sw::energy_interval(s, 0).hi, 3);
  // No prediction: anything upwards of what was spent, so no run's R has a lower bound above 0.
  EXPECT_DOUBLE_EQ(sw::energy_interval(s, 1).lo, 0.5);
  EXPECT_TRUE(std::isinf(sw::energy_interval(s, 1).hi));
  EXPECT_DOUBLE_EQ(sw::r_bounds(s, 0).lo, 0);
  EXPECT_DOUBLE_EQ(sw::r_bounds(s, 1).hi, 1);
}

TEST(SweepPruning, ARunThatCanStillWinIsNeverPruned) {
  // C's R is (E_C - 1) / 10 and its PePR at most 1 / (1 + R); A's PePR is exactly 0.8.
  // E_C = 3.5: R = 0.25, 1 / 1.25 = 0.8 ties A; a tie can still win (input order): kept.
  EXPECT_FALSE(sw::prune_reason(one_winner(3.5), 1));
  EXPECT_TRUE(sw::can_still_enter_top_k(one_winner(3.5), 1));
  EXPECT_TRUE(sw::can_still_enter_top_k(one_winner(3.4), 1));
  // A little more energy and it cannot reach 0.8 even with P = 1.
  EXPECT_FALSE(sw::can_still_enter_top_k(one_winner(3.6), 1));
  // D has R = 1: at most 0.5.
  EXPECT_FALSE(sw::can_still_enter_top_k(one_winner(3.5), 2));
  // Finished runs are never pruned; nor is anything before K runs have finished.
  EXPECT_FALSE(sw::prune_reason(one_winner(3.6), 0));
  sw::PruneState two = one_winner(3.6);
  two.top_k = 2;
  EXPECT_FALSE(sw::prune_reason(two, 1));
  EXPECT_FALSE(sw::prune_reason(two, 2));
}

TEST(SweepPruning, PrunedRunGetsTheBoundAsReason) {
  sw::PruneState s = one_winner(3.6);
  EXPECT_EQ(*sw::prune_reason(s, 1),
            "optimistic PePR 0.7937 < 1st best 0.8 (P <= 1; R >= 0.26: predicted 3600 Wh, energy "
            "min <= 1000 Wh, max <= 1.1e+04 Wh)");
  s.top_k = 1;
  s.bound = sw::OptimisticP::BestSoFar;
  s.p_margin = 0.05;
  s.runs[1].test_acc = {0.6, 0.7};  // best 0.7: P <= 0.75, R = 0.26
  EXPECT_EQ(*sw::prune_reason(s, 1),
            "optimistic PePR 0.5952 < 1st best 0.8 (P <= 0.75 = 0.7 + 0.05; R >= 0.26: predicted "
            "3600 Wh, energy min <= 1000 Wh, max <= 1.1e+04 Wh)");
  s.energy_margin = 1.25;  // C in [2.88, 4.5], D in [8.8, 13.75]
  EXPECT_EQ(*sw::prune_reason(s, 2),
            "optimistic PePR 0.2172 < 1st best 0.8 (P <= 0.35 = 0.3 + 0.05; R >= 0.6118: "
            "predicted 1.1e+04 Wh / 1.25, energy min <= 1000 Wh, max <= 1.375e+04 Wh)");
}

TEST(SweepPruning, EnergyMarginKeepsRunsAWrongPredictionCouldSave) {
  // With exact predictions C (3.6 kWh) is pruned; if the prediction may be 25 % off either way,
  // C may cost 2.88 kWh and the maximum 13.75: R >= 1.88 / 12.75, PePR <= 0.871 > 0.8: kept.
  sw::PruneState s = one_winner(3.6);
  EXPECT_FALSE(sw::can_still_enter_top_k(s, 1));
  s.energy_margin = 1.25;
  EXPECT_DOUBLE_EQ(sw::r_bounds(s, 1).lo, 1.88 / 12.75);
  EXPECT_TRUE(sw::can_still_enter_top_k(s, 1));
  // D is still out: R >= (8.8 - 1) / 12.75, PePR <= 0.62.
  EXPECT_FALSE(sw::can_still_enter_top_k(s, 2));
  // A margin below 1 means none.
  s.energy_margin = 0.5;
  EXPECT_FALSE(sw::can_still_enter_top_k(s, 1));
}

TEST(SweepPruning, OptimisticPBounds) {
  sw::PruneState s = one_winner(3.5, {0.7});  // C: R = 0.25 exactly, best so far 0.7
  s.p_margin = 0.05;
  // P <= 1: C's bound 0.8 ties A's 0.8: kept.
  EXPECT_DOUBLE_EQ(sw::optimistic_p(s, 1).p, 1.0);
  EXPECT_TRUE(sw::can_still_enter_top_k(s, 1));
  // Best so far + margin: 0.75 / 1.25 = 0.6 < 0.8: pruned. A margin that reaches P = 1: kept.
  s.bound = sw::OptimisticP::BestSoFar;
  EXPECT_DOUBLE_EQ(sw::optimistic_p(s, 1).p, 0.75);
  EXPECT_FALSE(sw::can_still_enter_top_k(s, 1));
  s.p_margin = 0.3;
  EXPECT_DOUBLE_EQ(sw::optimistic_p(s, 1).p, 1.0);
  EXPECT_EQ(sw::optimistic_p(s, 1).why, "P <= 1");
  EXPECT_TRUE(sw::can_still_enter_top_k(s, 1));
  s.p_margin = 0.29;  // 0.99 / 1.25 = 0.792 < 0.8
  EXPECT_FALSE(sw::can_still_enter_top_k(s, 1));
  // Peers: A was at 0.5 after epoch 1 (<= C's 0.7) and ended at 0.8: C ends at most 0.85.
  s.bound = sw::OptimisticP::Peers;
  s.p_margin = 0.05;
  s.min_peers = 1;
  EXPECT_DOUBLE_EQ(sw::optimistic_p(s, 1).p, 0.85);
  EXPECT_EQ(sw::optimistic_p(s, 1).why,
            "P <= 0.85 = 0.8 (best final P of 1 finished runs no better after 1 epoch) + 0.05");
  EXPECT_FALSE(sw::can_still_enter_top_k(s, 1));  // 0.85 / 1.25 = 0.68
  // Too few peers: no evidence, P <= 1.
  s.min_peers = 2;
  EXPECT_DOUBLE_EQ(sw::optimistic_p(s, 1).p, 1.0);
  EXPECT_TRUE(sw::can_still_enter_top_k(s, 1));
  // A run worse after epoch 1 than every finished run was: no peer, P <= 1.
  s.min_peers = 1;
  s.runs[1].test_acc = {0.4};
  EXPECT_DOUBLE_EQ(sw::optimistic_p(s, 1).p, 1.0);
  // After two epochs A's best was 0.8, above C's 0.65: no peer.
  s.runs[1].test_acc = {0.4, 0.65};
  EXPECT_DOUBLE_EQ(sw::optimistic_p(s, 1).p, 1.0);
  // Better than the peer's final: its own best counts: max(0.82, 0.8) + 0.05.
  s.runs[1].test_acc = {0.4, 0.82};
  EXPECT_DOUBLE_EQ(sw::optimistic_p(s, 1).p, 0.87);
  // No epoch run yet: P <= 1 whatever the bound.
  s.runs[1].test_acc.clear();
  EXPECT_DOUBLE_EQ(sw::optimistic_p(s, 1).p, 1.0);
}

TEST(SweepPruning, CheapestFirst) {
  EXPECT_EQ(sw::cheapest_first({3, 1, 2, 1}), (std::vector<std::size_t>{1, 3, 2, 0}));
  EXPECT_TRUE(sw::cheapest_first({}).empty());
}

// With P <= 1 and every true total within the stated margin of its prediction, no pruned run is
// in the top K of the true values: random experiments, every unfinished run asked.
TEST(SweepPruning, NoPrunedRunIsInTheTrueTopK) {
  std::mt19937 rng(20261201);
  std::uniform_real_distribution<double> u(0, 1);
  int pruned = 0, checked = 0;
  for (int trial = 0; trial < 2000; ++trial) {
    const std::size_t n = 6 + trial % 7, k = 1 + trial % 3;
    const double mu = trial % 2 ? 1.0 : 1.25;
    sw::PruneState s;
    s.top_k = k;
    s.bound = sw::OptimisticP::One;
    s.energy_margin = mu;
    std::vector<double> energy(n), p(n);
    for (std::size_t i = 0; i < n; ++i) {
      energy[i] = 0.5 + 10 * u(rng) * u(rng);
      p[i] = 0.3 + 0.7 * u(rng);
      if (i < n / 2) {
        s.runs.push_back(finished(energy[i], {p[i] / 2, p[i]}));
      } else {
        // The prediction off by the full margin either way (the bounds' worst cases), and the
        // optimistic P = 1 often met.
        const double factor = u(rng) < 0.5 ? 1 / mu : mu;
        if (u(rng) < 0.5) p[i] = 1.0;
        s.runs.push_back(unfinished(energy[i] * factor, energy[i] * 0.1, {p[i] * u(rng)}));
      }
    }
    std::vector<std::size_t> group(n, 0);
    auto r = pepr::normalize(energy, group, 1, pepr::Normalization{});
    std::vector<double> score(n);
    for (std::size_t i = 0; i < n; ++i) score[i] = pepr::pepr_score(p[i], r[i]);
    pepr::Grouping g;
    g.group_of = group;
    g.names = {"all"};
    auto top = pepr::rank_rows(score, g, k);
    for (std::size_t i = n / 2; i < n; ++i) {
      ++checked;
      if (sw::can_still_enter_top_k(s, i)) continue;
      ++pruned;
      EXPECT_EQ(std::count(top.begin(), top.end(), i), 0) << "trial " << trial << " run " << i;
    }
  }
  // The check means something only if the rule pruned a fair share.
  EXPECT_GT(pruned, checked / 10);
}

TEST(SweepPruning, MeasurementErrorNeverPrunesARunThatCouldReachTheTopK) {
  // Exact figures prune C (predicted 3.6 kWh: PePR <= 0.794 < A's 0.8). If every measured energy
  // may be 5 % off, C's R may be lower and A's own R above 0, so A's pessimistic PePR falls below
  // C's optimistic one and C is kept.
  sw::PruneState s = one_winner(3.6);
  EXPECT_FALSE(sw::can_still_enter_top_k(s, 1));
  for (auto& r : s.runs) r.energy_error = 0.05;
  const sw::EnergyExtremes x = sw::energy_extremes(s);
  const double a_lo = sw::pepr_bounds(s, x, 0).lo, c_hi = sw::pepr_bounds(s, x, 1).hi;
  EXPECT_LT(a_lo, 0.8);  // the finished run's pessimistic bound
  EXPECT_GE(c_hi, a_lo);
  EXPECT_TRUE(sw::can_still_enter_top_k(s, 1));
  // The bounds hold: any energies within 5 % of the figures give C a PePR below its upper bound
  // and A one above its lower bound (a grid over the corners).
  for (double fa : {1 / 1.05, 1.0, 1.05})
    for (double fc : {1 / 1.05, 1.0, 1.05})
      for (double fd : {1 / 1.05, 1.0, 1.05}) {
        const std::vector<double> e{1 * fa, 3.6 * fc, 11 * fd};
        const double lo = *std::min_element(e.begin(), e.end()),
                     hi = *std::max_element(e.begin(), e.end());
        EXPECT_GE(pepr::pepr_score(0.8, (e[0] - lo) / (hi - lo)), a_lo - 1e-12);
        EXPECT_LE(pepr::pepr_score(1.0, (e[1] - lo) / (hi - lo)), c_hi + 1e-12);
      }
  // D is far out either way.
  EXPECT_FALSE(sw::can_still_enter_top_k(s, 2));
  EXPECT_NE(sw::prune_reason(s, 2)->find("measured within +-5 %"), std::string::npos);
}
