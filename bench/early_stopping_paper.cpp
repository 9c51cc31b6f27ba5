// PePR-aware early stopping evaluated on the PePR paper's own per-epoch data.
//
// For every experiment of all_results.csv (131 models x 8 experiments, test_00..test_09) and
// patience 1, 2, 3: each run's energy is spread evenly over its 10 epochs, and the rule of
// pepr::sweep::should_stop_pepr (the one `pepr bench --pepr-patience` and the trainers use:
// R_k = cumulative energy / the run's predicted total energy after epoch 1, PePR_k = test_k /
// (1 + R_k), stop once PePR has not reached a new maximum for K epochs) decides after every
// epoch whether to stop. Prints, per experiment: the share of energy saved, the mean final P
// (test accuracy at the stopping epoch) against the full runs', and whether the experiment's
// top-5 PePR-E ranking (min-max energy within the experiment, P = test accuracy at the stop,
// energy = energy actually spent) differs from the full-10-epoch ranking.
//
// Usage: bench_early_stopping_paper [all_results.csv]
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>  // fmt::join (in format.h before fmt 11)

#include "core/error.hpp"
#include "core/score.hpp"
#include "core/table.hpp"
#include "paper_runs.hpp"
#include "sweep/stopping.hpp"

namespace {

using Run = pepr::bench::PaperRun;

struct Outcome {
  double p = 0, energy = 0;
  std::size_t epochs = 0;
};

Outcome simulate(const Run& r, int patience) {
  const std::size_t n = r.test.size();
  const double per_epoch = r.energy / static_cast<double>(n);
  const double ref = per_epoch * static_cast<double>(n);  // predicted after epoch 1
  std::vector<double> acc, cum;
  for (std::size_t k = 0; k < n; ++k) {
    acc.push_back(r.test[k]);
    cum.push_back(per_epoch * static_cast<double>(k + 1));
    if (k + 1 < n && pepr::sweep::should_stop_pepr(acc, cum, ref, patience)) break;
  }
  return {acc.back(), cum.back(), acc.size()};
}

// The top-5 models by PePR-E = P / (1 + E_n), E_n min-max within the experiment.
std::vector<std::string> top5(const std::vector<Run>& runs, const std::vector<Outcome>& out) {
  std::vector<double> energy;
  for (const auto& o : out) energy.push_back(o.energy);
  std::vector<std::size_t> group(runs.size(), 0);
  auto en = pepr::normalize(energy, group, 1, pepr::Normalization{});
  std::vector<double> score;
  for (std::size_t i = 0; i < runs.size(); ++i) score.push_back(pepr::pepr_score(out[i].p, en[i]));
  pepr::Grouping g;
  g.group_of = group;
  g.names = {"all"};
  std::vector<std::string> names;
  for (std::size_t i : pepr::rank_rows(score, g, 5)) names.push_back(runs[i].model);
  return names;
}

}  // namespace

int main(int argc, char** argv) {
  return pepr::bench::run_paper_replay(
      argc, argv, [](const std::string& path, pepr::bench::PaperRuns& paper) {
        const std::vector<std::string>& order = paper.order;
        auto& experiments = paper.experiments;
        fmt::print(
            "PePR-aware early stopping on {} ({} runs, {} epochs each; energy spread evenly "
            "over epochs)\n",
            path, paper.rows, paper.epochs);
        fmt::print(
            "rule: stop once PePR_k = test_k / (1 + E_cum,k / E_pred) has not reached a new "
            "maximum for K epochs; E_pred = epoch-1 energy x 10\n\n");
        fmt::print("{:<16} {:>2} {:>8} {:>8} {:>9} {:>8} {:>8} {:>9} {:>9}  {}\n", "experiment",
                   "K", "runs", "stopped", "mean ep.", "saved", "P full", "P stop", "top5 set",
                   "top-5 order");
        for (int patience : {1, 2, 3}) {
          double all_spent = 0, all_total = 0;
          int changed_sets = 0, changed_orders = 0;
          for (const auto& d : order) {
            const auto& runs = experiments[d];
            std::vector<Outcome> full, stop;
            double spent = 0, total = 0, p_full = 0, p_stop = 0, ep = 0;
            int stopped = 0;
            for (const auto& r : runs) {
              full.push_back({r.test.back(), r.energy, r.test.size()});
              stop.push_back(simulate(r, patience));
              spent += stop.back().energy;
              total += r.energy;
              p_full += full.back().p;
              p_stop += stop.back().p;
              ep += static_cast<double>(stop.back().epochs);
              stopped += stop.back().epochs < r.test.size();
            }
            all_spent += spent, all_total += total;
            const double n = static_cast<double>(runs.size());
            auto a = top5(runs, full), b = top5(runs, stop);
            auto sa = a, sb = b;
            std::sort(sa.begin(), sa.end());
            std::sort(sb.begin(), sb.end());
            std::size_t common = 0;
            for (const auto& m : a) common += std::count(b.begin(), b.end(), m);
            bool set_changed = sa != sb, order_changed = a != b;
            changed_sets += set_changed;
            changed_orders += order_changed;
            fmt::print("{:<16} {:>2} {:>8} {:>8} {:>9.2f} {:>7.1f}% {:>8.4f} {:>8.4f} {:>9}  {}\n",
                       d, patience, runs.size(), stopped, ep / n, 100 * (1 - spent / total),
                       p_full / n, p_stop / n,
                       set_changed ? fmt::format("{}/5 kept", common) : "same",
                       order_changed ? fmt::format("{} -> {}", fmt::join(a, ","), fmt::join(b, ","))
                                     : "same");
          }
          fmt::print(
              "{:<16} {:>2} all experiments: {:.1f}% of the energy saved; top-5 set changed "
              "in {}/{}, top-5 order in {}/{}\n\n",
              "total", patience, 100 * (1 - all_spent / all_total), changed_sets, order.size(),
              changed_orders, order.size());
        }
      });
}
