// The PePR paper's per-epoch results (all_results.csv) grouped by experiment, for the replays in
// bench/ (early_stopping_paper.cpp, sweep_pruning_paper.cpp).
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/table.hpp"

namespace pepr::bench {

struct PaperRun {
  std::string model;
  std::vector<double> test;  // test accuracy after each epoch (test_00 .. test_09)
  double energy = 0;         // kWh, all epochs
  double factor = 1;         // sweep_pruning_paper: prediction / true total when perturbed
};

struct PaperRuns {
  std::size_t rows = 0, epochs = 0;
  std::vector<std::string> order;  // the experiments (column `dataset`) in file order
  std::map<std::string, std::vector<PaperRun>> experiments;
};

// Reads all_results.csv; throws pepr::Error for a malformed table.
inline PaperRuns read_paper_runs(const std::string& path) {
  const Table t = Table::read_csv(path);
  const auto cols = epoch_columns(t, "test_");
  const std::size_t model = t.require_column("model"), energy = t.require_column("energy"),
                    dataset = t.require_column("dataset");
  PaperRuns out;
  out.rows = t.num_rows();
  out.epochs = cols.size();
  for (std::size_t r = 0; r < t.num_rows(); ++r) {
    PaperRun run;
    run.model = std::string(t.cell(r, model));
    run.energy = t.number(r, energy);
    for (std::size_t c : cols) run.test.push_back(t.number(r, c));
    const std::string d(t.cell(r, dataset));
    if (!out.experiments.count(d)) out.order.push_back(d);
    out.experiments[d].push_back(std::move(run));
  }
  return out;
}

// A replay's main: reads the data file (the first argument, else
// ../shared/data/pepr-paper/all_results.csv from the repository's root) and runs `body` on it.
// Exit code 1, with a message, when the file is missing or malformed.
inline int run_paper_replay(
    int argc, char** argv,
    const std::function<void(const std::string& path, PaperRuns& paper)>& body) {
  const std::string path = argc > 1 ? argv[1] : "../shared/data/pepr-paper/all_results.csv";
  if (!std::filesystem::exists(path)) {
    fmt::print(stderr, "{}: not found (the PePR paper's data; give its path as the argument)\n",
               path);
    return 1;
  }
  try {
    PaperRuns paper = read_paper_runs(path);
    body(path, paper);
  } catch (const Error& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return 1;
  }
  return 0;
}

}  // namespace pepr::bench
