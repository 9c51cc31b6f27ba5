// How many of the paper's PePR-E winners survive measurement error: for each of the 8
// experiments of all_results.csv (P = test_09, R = min-max energy within the experiment), the
// error model's per-run bound applied to every run's energy (value / (1 + u) .. value * (1 + u);
// a systematic error common to all runs cancels in min-max), and per bound:
//  - pepr's analytic check (core/robustness.hpp): is the top-1 robust, how many models are within
//    its noise, is the top 5 robust;
//  - the peer, a Monte Carlo check: 2000 draws of every run's energy, log-uniform within its
//    bounds, and the share of draws in which another model wins. The analytic check is
//    conservative: where it says robust, no draw may flip the winner.
//
// Usage: bench_robustness_paper [all_results.csv]
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "core/robustness.hpp"
#include "core/score.hpp"
#include "core/table.hpp"
#include "paper_runs.hpp"

namespace {

struct Bound {
  double u;
  const char* what;
};

// The share of draws in which the top-1 of group `g` is not `winner`.
double flip_share(const pepr::Table& t, const pepr::ScoreResult& s, std::size_t g,
                  std::size_t winner, double u, std::mt19937_64& rng) {
  const std::size_t energy = t.require_column("energy");
  std::vector<std::size_t> rows;
  for (std::size_t r = 0; r < t.num_rows(); ++r)
    if (s.groups.group_of[r] == g) rows.push_back(r);
  std::uniform_real_distribution<double> unit(-1.0, 1.0);
  const int draws = 2000;
  int flips = 0;
  std::vector<double> e(rows.size());
  for (int d = 0; d < draws; ++d) {
    for (std::size_t i = 0; i < rows.size(); ++i)
      e[i] = t.number(rows[i], energy) * std::exp(unit(rng) * std::log1p(u));
    const auto [lo, hi] = std::minmax_element(e.begin(), e.end());
    std::size_t best = 0;
    double best_score = -1;
    for (std::size_t i = 0; i < rows.size(); ++i) {
      const double r = *hi > *lo ? (e[i] - *lo) / (*hi - *lo) : 0.0;
      const double sc = pepr::pepr_score(s.performance[rows[i]], r);
      if (sc > best_score) best_score = sc, best = rows[i];
    }
    flips += best != winner;
  }
  return static_cast<double>(flips) / draws;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string path = argc > 1 ? argv[1] : "../shared/data/pepr-paper/all_results.csv";
  if (!std::filesystem::exists(path)) {
    fmt::print(stderr, "bench_robustness_paper: {} not found (the paper's data, ../shared)\n",
               path);
    return 1;
  }
  const pepr::Table t = pepr::Table::read_csv(path);
  pepr::ScoreOptions o;
  o.performance = pepr::PerformanceSpec::parse("test_09");
  o.resources = {pepr::ResourceSpec::parse("energy=energy", t)};
  o.group_by = "dataset";
  const pepr::ScoreResult s = pepr::score_table(t, o);
  std::vector<std::string> names;
  for (std::size_t r = 0; r < t.num_rows(); ++r)
    names.emplace_back(t.cell(r, t.require_column("model")));
  const Bound bounds[] = {{0.02, "RAPL, per run"},
                          {0.05, "NVML energy counter, per run"},
                          {0.10, "NVML power sampling, per run"},
                          {0.25, "the estimate, per run"},
                          {1.25, "the estimate, whole (methods differing between runs)"}};
  std::mt19937_64 rng(42);
  fmt::print("{}: {} runs, {} experiments; PePR-E = test_09 / (1 + R), R min-max per experiment\n",
             path, t.num_rows(), s.groups.names.size());
  for (const auto& b : bounds) {
    const auto rb = pepr::resource_bounds(t, o.resources[0], o.norm, b.u);
    const auto sb = pepr::pepr_bounds(s.performance, *rb, s.groups, o.norm, 1.0);
    const auto rob = pepr::ranking_robustness(s.scores[0], sb, s.groups, 5);
    std::size_t top1 = 0, top5 = 0;
    fmt::print("\n+-{:g} % ({}):\n", 100 * b.u, b.what);
    fmt::print("  {:<16} {:<20} {:>7} {:>7} {:>6} {:>10}\n", "experiment", "top-1", "robust",
               "within", "top-5", "MC flips");
    for (std::size_t g = 0; g < rob.size(); ++g) {
      const auto& r = rob[g];
      top1 += r.top1_robust;
      top5 += r.topk_robust;
      const double flips = flip_share(t, s, g, r.winner, b.u, rng);
      fmt::print("  {:<16} {:<20} {:>7} {:>7} {:>6} {:>9.1f}%{}\n", r.group, names[r.winner],
                 r.top1_robust ? "yes" : "no", r.within_noise.size(), r.topk_robust ? "yes" : "no",
                 100 * flips,
                 r.top1_robust && flips > 0 ? "  <- a flip the analytic check missed" : "");
    }
    fmt::print("  robust top-1: {} of {}; robust top-5: {} of {}\n", top1, rob.size(), top5,
               rob.size());
  }
  return 0;
}
