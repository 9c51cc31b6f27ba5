// Whether a PePR ranking can be told from measurement noise: each row's score interval when its
// resource moves within its error bounds (and the normalisation's bounds move with the rows), and
// per group whether the top-1 and the top-K keep their places whatever the errors are.
//
//   auto b = resource_bounds(table, spec, norm, std::nullopt);   // from the table's columns
//   if (b) auto r = ranking_robustness(scores, pepr_bounds(P, *b, groups, norm, 1), groups, 5);
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/score.hpp"
#include "core/table.hpp"

namespace pepr {

// Per row, the lowest and highest the resource may be, and where those bounds come from.
struct ResourceBounds {
  std::vector<double> lo, hi;
  std::string basis;  // e.g. "the per-run error in energy_error_per_run (1 method: ...)"
};

// The bounds of a resource's values: with `relative` (e.g. --energy-error 0.25), value / (1 + u)
// to value * (1 + u) for every row; else, for energy and CO2eq, from pepr's columns: the per-run
// relative error (energy_error_per_run) when every row was measured by one method and the
// normalisation is min-max or E / E_max (a common systematic error cancels in both), else the
// full bounds (COLUMN_lo, COLUMN_hi). nullopt when the table has neither.
std::optional<ResourceBounds> resource_bounds(const Table& table, const ResourceSpec& spec,
                                              const Normalization& norm,
                                              std::optional<double> relative);

// The whole bounds a table gives for a resource (COLUMN_lo and COLUMN_hi, or pepr's energy_kwh_lo
// and co2_g_lo for the paper-named columns), systematic part included: what a figure printed
// beside its value means. nullopt when the table has no such columns or a row lacks them.
std::optional<ResourceBounds> measured_bounds(const Table& table, const ResourceSpec& spec);

// Each row's PePR interval: its own resource at either bound, and the group's normalisation
// bounds (min, max) at the extremes the other rows' intervals allow. Conservative: a row outside
// another's interval is surely ranked apart; one inside may still be.
struct ScoreBounds {
  std::vector<double> lo, hi;
};
ScoreBounds pepr_bounds(const std::vector<double>& performance, const ResourceBounds& bounds,
                        const Grouping& groups, const Normalization& norm, double alpha);

struct GroupRobustness {
  std::string group;
  std::size_t winner = 0;  // row of the best score
  bool top1_robust = false;
  // The rows whose score may reach the winner's (upper bound >= the winner's lower bound), by
  // score descending.
  std::vector<std::size_t> within_noise;
  std::size_t k = 0;         // the top-K asked (<= the group's rows)
  bool topk_robust = false;  // every top-K row's lower bound >= every other row's upper bound
};
std::vector<GroupRobustness> ranking_robustness(const std::vector<double>& scores,
                                                const ScoreBounds& bounds, const Grouping& groups,
                                                std::size_t k);

// One sentence per group, naming rows by `names` (e.g. "derma_pt: the top-1 (ghostnet_100) is
// within the noise of 2 others: ese_vovnet19b_dw, fbnetc_100; the top 5 is robust").
std::string robustness_sentence(const GroupRobustness& g, const std::vector<std::string>& names);

// Repeated runs of one model (several seeds): mean, standard deviation and the 95 % Student-t
// interval of the mean of `values` per (group, key).
struct SeedSpread {
  std::string group, key;
  std::size_t n = 0;
  double mean = 0, sd = 0, ci_lo = 0, ci_hi = 0;  // ci: mean when n < 2
};
std::vector<SeedSpread> seed_spread(const std::vector<double>& values, const Grouping& groups,
                                    const std::vector<std::string>& keys);

// Per group, whether the best key by mean stays best under seed noise: its interval's lower end
// above every other key's upper end (keys with one run have a zero-width interval).
struct SeedRobustness {
  std::string group, best;
  bool robust = false;
  std::vector<std::string> overlapping;  // keys whose interval reaches the best's
};
std::vector<SeedRobustness> seed_robustness(const std::vector<SeedSpread>& spread);

// One sentence per group on seed noise ("x: over the seeds, a leads by mean PePR-E 0.8100 (n 3,
// sd 0.0100, 95 % interval 0.7852-0.8348), robust to seed noise"), for `scores` of rows keyed by
// model; empty when no key has repeated runs.
std::vector<std::string> seed_sentences(const std::vector<double>& scores, const Grouping& groups,
                                        const std::vector<std::string>& keys,
                                        const std::string& score_name);

}  // namespace pepr
