// Sweep-level pruning (src/sweep/pruning.hpp) replayed on the PePR paper's per-epoch data, with
// the per-run PePR-aware early stopping of `pepr bench --pepr-patience K` as the peer.
//
// For every experiment of all_results.csv (131 models x 8 experiments, test_00..test_09 the test
// accuracy after epochs 1..10, as bench/early_stopping_paper.cpp reads them) each run's energy is
// spread evenly over its 10 epochs. The pruned sweep:
//   1. runs epoch 1 of every run; each run's total energy is predicted as its epoch-1 energy x 10
//      (under even spreading this IS its true total; the perturbed variant multiplies it by a
//      deterministic factor in [0.8, 1.25] per run, and the rule then trusts the prediction only
//      to within mu = 1.25);
//   2. continues the runs one at a time, cheapest predicted total first (pruning.hpp:
//      cheapest_first); before each further epoch of a run it asks prune_reason() and stops the
//      run for good when K = 5 finished runs provably beat it.
// The answer of the pruned sweep is the top 5 by PePR-E of the finished runs (P = test_09, R the
// min-max normalised energy of the experiment); pruned runs are left out since the rule says they
// cannot be in the top 5. It is compared with the full sweep's top-5 set and top 1.
//
// Only what a live sweep knows at each decision is used: the decision for a run reads the
// PruneState, which holds (a) for finished runs their measured total energy and final P; (b) for
// every other run its epoch-1 prediction (possibly perturbed), the energy it has spent and the
// best test accuracy of the epochs it has run. No test accuracy of an epoch not yet run, and no
// unfinished run's true total, enters a decision or the schedule (the order reads predictions
// only). The true totals of unfinished runs are used afterwards only to score the replay: the
// energy saved, the "true PePR" of the finished runs (R with the experiment's true min and max;
// with exact predictions this equals what the sweep computes from its own records; with
// perturbed ones the table also says whether the sweep's own R, taking a pruned run's energy as
// its prediction, gives the same top 5).
//
// The peer: pepr::sweep::should_stop_pepr, patience 1, 2, 3, on each run alone; its answer is
// the top 5 with P at the stop and the energy spent (what the sweep records), as in
// bench/early_stopping_paper.cpp.
//
// Usage: bench_sweep_pruning_paper [all_results.csv]
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/score.hpp"
#include "core/table.hpp"
#include "paper_runs.hpp"
#include "sweep/pruning.hpp"
#include "sweep/stopping.hpp"

namespace {

namespace sw = pepr::sweep;

constexpr std::size_t kTop = 5;

using Run = pepr::bench::PaperRun;

// A deterministic factor in [0.8, 1.25] per run, log-uniform: FNV-1a of "model/experiment".
double perturbation(const std::string& key) {
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : key) h = (h ^ c) * 1099511628211ull;
  const double u = static_cast<double>(h >> 11) / 9007199254740992.0;  // [0, 1)
  return std::exp(std::log(0.8) + u * (std::log(1.25) - std::log(0.8)));
}

// The top-k rows of `score` (rows where `keep` is false are left out), by pepr::rank_rows.
std::vector<std::size_t> top_rows(const std::vector<double>& score, const std::vector<bool>& keep,
                                  std::size_t k) {
  std::vector<double> key;
  std::vector<std::size_t> index;
  for (std::size_t i = 0; i < score.size(); ++i)
    if (keep[i]) key.push_back(score[i]), index.push_back(i);
  pepr::Grouping g;
  g.group_of.assign(key.size(), 0);
  g.names = {"all"};
  std::vector<std::size_t> out;
  for (std::size_t r : pepr::rank_rows(key, g, k)) out.push_back(index[r]);
  return out;
}

// PePR-E of every run: P / (1 + E_n), E_n min-max within the experiment (pepr::normalize).
std::vector<double> pepr_e(const std::vector<double>& p, const std::vector<double>& energy) {
  std::vector<std::size_t> group(energy.size(), 0);
  auto en = pepr::normalize(energy, group, 1, pepr::Normalization{});
  std::vector<double> s;
  for (std::size_t i = 0; i < p.size(); ++i) s.push_back(pepr::pepr_score(p[i], en[i]));
  return s;
}

struct Answer {
  std::size_t runs = 0, stopped = 0;
  double spent = 0, total = 0, epochs = 0;
  std::vector<std::size_t> top;      // the sweep's top 5 (run indices, ranked)
  std::vector<std::size_t> top_own;  // the same from the sweep's own records (pruning only)
  std::vector<std::string> reasons;  // pruning: the reason of each pruned run
};

struct Setting {
  sw::OptimisticP bound = sw::OptimisticP::Peers;
  double p_margin = 0.05;
  double mu = 1.0;
  bool perturbed = false;
  std::size_t min_peers = 3;
};

// The pruned sweep of one experiment.
Answer prune_sweep(const std::vector<Run>& runs, const Setting& set) {
  const std::size_t n = runs.size();
  sw::PruneState st;
  st.top_k = kTop;
  st.bound = set.bound;
  st.p_margin = set.p_margin;
  st.min_peers = set.min_peers;
  st.energy_margin = set.mu;
  std::vector<double> predicted;
  std::vector<std::size_t> done(n, 1);  // epochs run
  std::vector<bool> pruned(n, false);
  Answer a;
  // Phase 1: epoch 1 of every run.
  for (const auto& r : runs) {
    const double epoch1 = r.energy / static_cast<double>(r.test.size());
    predicted.push_back(epoch1 * static_cast<double>(r.test.size()) *
                        (set.perturbed ? r.factor : 1.0));
    st.runs.push_back({false, predicted.back(), epoch1, {r.test[0]}});
  }
  // Phase 2: the rest of each run, cheapest predicted first, asking before every epoch.
  for (std::size_t i : sw::cheapest_first(predicted)) {
    const Run& r = runs[i];
    const std::size_t epochs = r.test.size();
    while (done[i] < epochs) {
      if (auto why = sw::prune_reason(st, i)) {
        pruned[i] = true;
        a.reasons.push_back(r.model + ": " + *why);
        break;
      }
      st.runs[i].spent_kwh += r.energy / static_cast<double>(epochs);
      st.runs[i].test_acc.push_back(r.test[done[i]]);
      ++done[i];
    }
    if (!pruned[i]) st.runs[i] = {true, r.energy, r.energy, r.test};
  }
  // Scoring the replay.
  std::vector<double> p, energy, own_energy;
  std::vector<bool> finished;
  for (std::size_t i = 0; i < n; ++i) {
    a.spent +=
        runs[i].energy * static_cast<double>(done[i]) / static_cast<double>(runs[i].test.size());
    a.total += runs[i].energy;
    a.epochs += static_cast<double>(done[i]);
    a.stopped += pruned[i];
    p.push_back(runs[i].test.back());
    energy.push_back(runs[i].energy);
    own_energy.push_back(pruned[i] ? std::max(st.runs[i].spent_kwh, predicted[i]) : runs[i].energy);
    finished.push_back(!pruned[i]);
  }
  a.runs = n;
  a.top = top_rows(pepr_e(p, energy), finished, kTop);
  a.top_own = top_rows(pepr_e(p, own_energy), finished, kTop);
  return a;
}

// The peer: per-run PePR-aware early stopping with patience K.
Answer patience_sweep(const std::vector<Run>& runs, int patience) {
  Answer a;
  std::vector<double> p, energy;
  for (const auto& r : runs) {
    const std::size_t n = r.test.size();
    const double per_epoch = r.energy / static_cast<double>(n);
    const double ref = per_epoch * static_cast<double>(n);  // predicted after epoch 1
    std::vector<double> acc, cum;
    for (std::size_t k = 0; k < n; ++k) {
      acc.push_back(r.test[k]);
      cum.push_back(per_epoch * static_cast<double>(k + 1));
      if (k + 1 < n && sw::should_stop_pepr(acc, cum, ref, patience)) break;
    }
    a.spent += cum.back();
    a.total += r.energy;
    a.epochs += static_cast<double>(acc.size());
    a.stopped += acc.size() < n;
    p.push_back(acc.back());
    energy.push_back(cum.back());
  }
  a.runs = runs.size();
  a.top = top_rows(pepr_e(p, energy), std::vector<bool>(runs.size(), true), kTop);
  a.top_own = a.top;
  return a;
}

std::vector<std::size_t> full_top(const std::vector<Run>& runs) {
  std::vector<double> p, energy;
  for (const auto& r : runs) p.push_back(r.test.back()), energy.push_back(r.energy);
  return top_rows(pepr_e(p, energy), std::vector<bool>(runs.size(), true), kTop);
}

bool same_set(std::vector<std::size_t> a, std::vector<std::size_t> b) {
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  return a == b;
}

std::size_t common(const std::vector<std::size_t>& a, const std::vector<std::size_t>& b) {
  std::size_t c = 0;
  for (std::size_t x : a) c += std::count(b.begin(), b.end(), x);
  return c;
}

struct Summary {
  double saved = 0;
  std::size_t set_kept = 0, top1_kept = 0, own_kept = 0, experiments = 0, stopped = 0, runs = 0;
};

// One table: a line per experiment and the total line. Returns the totals.
Summary report(const std::string& title, const std::vector<std::string>& order,
               std::map<std::string, std::vector<Run>>& experiments,
               const std::function<Answer(const std::vector<Run>&)>& sweep, bool verbose,
               bool show_own) {
  if (verbose) {
    fmt::print("{}\n", title);
    fmt::print("{:<16} {:>5} {:>7} {:>9} {:>7} {:>9} {:>6}{}\n", "experiment", "runs", "stopped",
               "mean ep.", "saved", "top5 set", "top1", show_own ? "  top5 (sweep's own R)" : "");
  }
  Summary s;
  double spent = 0, total = 0;
  for (const auto& d : order) {
    const auto& runs = experiments[d];
    const Answer a = sweep(runs);
    const auto full = full_top(runs);
    const bool set_ok = same_set(a.top, full), top1_ok = a.top.front() == full.front();
    const bool own_ok = same_set(a.top_own, full);
    s.set_kept += set_ok, s.top1_kept += top1_ok, s.own_kept += own_ok;
    s.stopped += a.stopped, s.runs += a.runs, ++s.experiments;
    spent += a.spent, total += a.total;
    if (verbose)
      fmt::print("{:<16} {:>5} {:>7} {:>9.2f} {:>6.1f}% {:>9} {:>6}{}\n", d, a.runs, a.stopped,
                 a.epochs / static_cast<double>(a.runs), 100 * (1 - a.spent / a.total),
                 set_ok ? "same" : fmt::format("{}/5 kept", common(a.top, full)),
                 top1_ok ? "same" : "changed",
                 show_own ? fmt::format("  {}", own_ok ? "same" : "changed") : "");
  }
  s.saved = 100 * (1 - spent / total);
  if (verbose)
    fmt::print(
        "{:<16} {:>5} {:>7} all experiments: {:.1f}% of the energy saved; top-5 set unchanged in "
        "{}/{}, top 1 unchanged in {}/{}{}\n\n",
        "total", s.runs, s.stopped, s.saved, s.set_kept, s.experiments, s.top1_kept, s.experiments,
        show_own ? fmt::format("; with the sweep's own R: {}/{}", s.own_kept, s.experiments) : "");
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  return pepr::bench::run_paper_replay(
      argc, argv, [](const std::string& path, pepr::bench::PaperRuns& paper) {
        const std::vector<std::string>& order = paper.order;
        auto& experiments = paper.experiments;
        for (auto& [d, runs] : experiments)
          for (auto& run : runs) run.factor = perturbation(run.model + "/" + d);
        fmt::print(
            "Sweep-level pruning on {} ({} runs, {} epochs each; energy spread evenly over "
            "epochs)\n",
            path, paper.rows, paper.epochs);
        fmt::print(
            "schedule: epoch 1 of every run, then each run to the end, cheapest predicted total "
            "first,\nunless 5 finished runs provably beat it (src/sweep/pruning.hpp); answer: top "
            "5 "
            "by PePR-E of the finished runs\n\n");

        auto pruning = [&](Setting set) {
          return [set](const std::vector<Run>& runs) { return prune_sweep(runs, set); };
        };
        using OP = sw::OptimisticP;
        const Setting recommended{OP::Peers, 0.05, 1.0, false};
        report(
            "recommended: optimistic P = max(best so far, best final P of >= 3 finished runs no "
            "better "
            "at that epoch) + 0.05, exact predictions (mu = 1)",
            order, experiments, pruning(recommended), true, false);
        report("provable: optimistic P = 1 (P <= 1 only), exact predictions", order, experiments,
               pruning({OP::One, 0, 1.0, false}), true, false);
        report("the issue's heuristic: optimistic P = best so far + 0.05, exact predictions", order,
               experiments, pruning({OP::BestSoFar, 0.05, 1.0, false}), true, false);
        report(
            "perturbed predictions (x [0.8, 1.25] per run), mu = 1.25, optimistic P as recommended",
            order, experiments, pruning({OP::Peers, 0.05, 1.25, true}), true, true);
        report("perturbed predictions, mu = 1.25, optimistic P = 1", order, experiments,
               pruning({OP::One, 0, 1.25, true}), true, true);
        for (int k : {1, 2, 3})
          report(
              fmt::format("peer: --pepr-patience {} (per-run PePR-aware early stopping)", k), order,
              experiments, [k](const std::vector<Run>& runs) { return patience_sweep(runs, k); },
              true, false);

        fmt::print("sensitivity (all experiments): saved % / top-5 set kept / top 1 kept\n");
        fmt::print("{:<26} {:>24} {:>24}\n", "optimistic P", "exact predictions",
                   "perturbed, mu = 1.25");
        struct Row {
          std::string name;
          Setting set;
        };
        std::vector<Row> rows;
        for (double d : {0.0, 0.02, 0.05, 0.1})
          rows.push_back({fmt::format("best so far + {:.2f}", d), {OP::BestSoFar, d, 1.0, false}});
        for (std::size_t m : {1, 3, 5})
          for (double d : {0.02, 0.03, 0.04, 0.05, 0.07, 0.1})
            rows.push_back(
                {fmt::format("peers (>= {}) + {:.2f}", m, d), {OP::Peers, d, 1.0, false, m}});
        rows.push_back({"P <= 1", {OP::One, 0, 1.0, false}});
        for (const auto& row : rows) {
          Setting exact = row.set, perturbed = row.set;
          perturbed.mu = 1.25, perturbed.perturbed = true;
          auto a = report("", order, experiments, pruning(exact), false, false);
          auto b = report("", order, experiments, pruning(perturbed), false, false);
          fmt::print("{:<26} {:>12.1f}% {:>3}/8 {:>3}/8 {:>12.1f}% {:>3}/8 {:>3}/8\n", row.name,
                     a.saved, a.set_kept, a.top1_kept, b.saved, b.set_kept, b.top1_kept);
        }

        fmt::print("\nfirst pruning reasons (recommended setting, experiment {}):\n",
                   order.front());
        const Answer a = prune_sweep(experiments[order.front()], recommended);
        for (std::size_t i = 0; i < a.reasons.size() && i < 3; ++i)
          fmt::print("  {}\n", a.reasons[i]);
      });
}
