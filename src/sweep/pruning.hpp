// Sweep-level pruning: stop a run once it cannot enter its experiment's top K by PePR.
//
// Pure functions shared by the paper replay (bench/sweep_pruning_paper.cpp) and, later, a live
// sweep. They see only what a sweep knows at the moment of the decision.
//
// The rule. An experiment has runs i = 1..N. PePR_i = P_i / (1 + R_i) with R_i = (E_i - lo) /
// (hi - lo), lo / hi the minimum / maximum of the N total energies E (pepr::normalize, MinMax),
// and the top K is the K highest PePR (pepr::rank_rows). Each run is either
//   - finished: its total energy E_i and final P_i are measured; or
//   - unfinished (not started past epoch 1, running, or pruned): E_i is predicted after epoch 1
//     as Ê_i, and the sweep knows its energy spent so far S_i and its best test accuracy so far.
// With the energy margin mu >= 1 (the prediction is trusted to within a factor mu), an
// unfinished run's total lies in [a_i, b_i] = [max(S_i, Ê_i / mu), max(S_i, Ê_i * mu)] (without a
// prediction yet, Ê_i <= 0: [S_i, infinity), which makes every R_lo 0); a finished run's in
// [E_i, E_i]. Hence lo lies in [min a, min b] and hi in [max a, max b] over ALL runs,
// finished or not: R of every run depends on energies that are not final yet. Because
// (x - lo) / (hi - lo) increases with x and decreases with lo and with hi (for lo <= x <= hi),
//   R_i >= R_lo(i) = max(0, a_i - min b) / (max b - min b)                (0 when max b == min b)
//   R_i <= R_hi(i) = (b_i - min a) / (max(max a, b_i) - min a), at most 1 (0 when the
//                    denominator is 0),
// whatever the energies turn out to be within their intervals. The bounds treat lo, hi and E_i
// as independent, which only widens them.
//   - A finished run's PePR lies in [P_i / (1 + R_hi(i)), P_i / (1 + R_lo(i))], P_i its final
//     test accuracy (the last of its per-epoch test accuracies).
//   - An unfinished run's PePR is at most P_opt / (1 + R_lo(i)). P_opt, the optimistic final P,
//     is one of (b = the run's best test accuracy so far, k = its epochs run, d = p_margin):
//       One:       1 (the provable bound P <= 1);
//       BestSoFar: min(1, b + d), assuming the final accuracy exceeds the best seen by <= d;
//       Peers:     min(1, max(b, the largest final P among the finished runs whose best accuracy
//                  over their first k epochs was <= b) + d): a run ends no better than the best of
//                  the finished runs that were no better at the same point, plus d. With fewer
//                  than `min_peers` such finished runs there is no evidence, and P_opt = 1.
//     BestSoFar and Peers are heuristics: they hold when learning curves behave like those seen.
// Run j (unfinished) is pruned when at least K finished runs have a PePR lower bound strictly
// above j's upper bound: then K runs beat j however the energies and j's P turn out (within the
// margins), and j cannot be in the top K, not even by a tie (ties keep input order in rank_rows).
// With mu = 1 and P_opt = 1 the rule is exact: no pruned run is in the top K computed from all
// runs' true values, so the top K of the finished runs is the full sweep's top K. With mu > 1 it
// is exact as long as every true total lies within a factor mu of its prediction.
// Measurement error: each run's measured energies (its total, what it spent, the epoch-1 figure
// its prediction comes from) are only known within a factor 1 + u_i (PruneRun::energy_error, the
// meter's per-run bound), and [a_i, b_i] widens by that factor on both sides. The finished runs'
// lower bounds are then pessimistic and the unfinished run's upper bound optimistic, so no error
// within the model's bounds can prune a run that could reach the top K.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace pepr::sweep {

// One run of an experiment as the sweep knows it at the moment of a decision.
struct PruneRun {
  bool finished = false;
  double energy_kwh = 0;         // finished: the measured total; unfinished: the predicted total
  double spent_kwh = 0;          // unfinished: the energy spent so far (a lower bound of its total)
  std::vector<double> test_acc;  // the test accuracy after each epoch run (finished: P = last)
  // The measured energies' per-run relative error (the record's energy_error_per_run): a measured
  // figure x may be anything in [x / (1 + u), x * (1 + u)], so a finished run's PePR lower bound
  // is its pessimistic one and an unfinished run's upper bound its optimistic one.
  double energy_error = 0;
};

enum class OptimisticP { One, BestSoFar, Peers };

struct PruneState {
  std::vector<PruneRun> runs;  // every run of the experiment, pruned ones too (unfinished)
  std::size_t top_k = 5;
  OptimisticP bound = OptimisticP::Peers;
  double p_margin = 0.05;      // d, added to the optimistic P (BestSoFar, Peers)
  std::size_t min_peers = 3;   // Peers: fewer finished runs to learn from gives P_opt = 1
  double energy_margin = 1.0;  // mu >= 1: the true total lies in [Ê / mu, Ê * mu]
};

struct Interval {
  double lo = 0, hi = 0;
};

// [a_i, b_i]: where run i's total energy lies (see the header comment).
Interval energy_interval(const PruneState& s, std::size_t i);

// Where the experiment's energy minimum and maximum lie: min and max over all runs' intervals.
struct EnergyExtremes {
  Interval min, max;
};
EnergyExtremes energy_extremes(const PruneState& s);

// [R_lo(i), R_hi(i)]: bounds of run i's min-max normalised energy.
Interval r_bounds(const PruneState& s, std::size_t i);
Interval r_bounds(const PruneState& s, const EnergyExtremes& x, std::size_t i);

// Bounds of run i's final PePR: finished [P / (1 + R_hi), P / (1 + R_lo)], unfinished
// [0, P_opt / (1 + R_lo)].
Interval pepr_bounds(const PruneState& s, const EnergyExtremes& x, std::size_t i);

// The optimistic final P of unfinished run i (see the header comment), with how it was made
// ("P <= 1", "P <= 0.83 = 0.78 + 0.05", "P <= 0.83 = 0.78 (best final P of 4 finished runs no
// better after 3 epochs) + 0.05").
struct OptimisticPValue {
  double p = 1;
  std::string why;
};
OptimisticPValue optimistic_p(const PruneState& s, std::size_t i);

// A run's final P: the last test accuracy (0 when there is none).
double final_p(const PruneRun& r);

// Why unfinished run i cannot enter the top K, naming the numbers, e.g. "optimistic PePR 0.61 <
// 5th best 0.72 (P <= 0.83 = 0.78 + 0.05; R >= 0.31: predicted 12.3 Wh / 1.25, energy min <= 4
// Wh, max <= 40 Wh)"; nullopt while it still can (or when run i is finished, or K finished runs
// are not there yet).
std::optional<std::string> prune_reason(const PruneState& s, std::size_t i);
inline bool can_still_enter_top_k(const PruneState& s, std::size_t i) {
  return !prune_reason(s, i).has_value();
}

// The order to continue runs in after every run's epoch 1: cheapest predicted total first (ties
// keep input order). Cheap runs have R near 0, so their PePR is high; once K of them finish, the
// K-th best lower bound is high and expensive runs, whose R is near 1, fall below it.
std::vector<std::size_t> cheapest_first(const std::vector<double>& predicted_kwh);

}  // namespace pepr::sweep
