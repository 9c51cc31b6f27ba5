// Running a sweep: each run as a child process (`pepr train` or $PEPR_TRAIN_CMD), one record per
// run written atomically, per-run locks so shards sharing a folder never run a run twice at
// once, resumption, budgets, progress, and clean interruption on SIGINT / SIGTERM.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "sweep/plan.hpp"
#include "sweep/pruning.hpp"

namespace pepr::sweep {

// Sweep-level pruning (`pepr bench --prune-top K`, sweep/pruning.hpp). The sweep first runs
// every run's epoch 1 alone (a probe: the trainer is stopped after its first epoch, the record
// says "probed" with the epoch-1 prediction of the run's total energy), then runs the runs
// again from the start, cheapest predicted total first. Before a run starts, and after each of
// its epochs, it is pruned (stopped, status "pruned", with the bound that stopped it) once K
// finished runs of its experiment provably beat it by PePR-E within the margins. The state comes
// from the records on disk, so shards sharing a runs folder prune with each other's results.
struct PruneOptions {
  std::size_t top_k = 0;  // 0: off
  OptimisticP bound = OptimisticP::Peers;
  double p_margin = 0.05;
  double energy_margin = 1.25;     // the prediction is trusted to within this factor
  std::size_t min_peers = 3;       // OptimisticP::Peers
  std::vector<RunSpec> plan_runs;  // every run of the plan (all shards): the experiments
};

struct BenchOptions {
  std::filesystem::path runs_dir;
  bool resume = false;
  Shard shard;
  double max_energy_wh = -1;  // negative: no budget
  double max_time_s = -1;
  int pepr_patience = 0;      // 0: off
  std::string train_program;  // runs as PROGRAM train ...; default: $PEPR_TRAIN_CMD, else pepr
  std::string pepr_exe;       // for `pepr data synth`; default: the running executable
  std::string plan_file;      // recorded in every record
  std::string plan_name;
  bool quiet = false;  // only the summary
  int grace_s = 60;    // after forwarding a signal, SIGKILL the child after this long
  PruneOptions prune;
};

struct BenchSummary {
  std::size_t total = 0;         // runs of this shard
  std::size_t already_done = 0;  // skipped: completed or stopped before this invocation
  std::size_t completed = 0, stopped = 0, failed = 0, interrupted = 0;
  std::size_t probed = 0, pruned = 0;  // --prune-top: probes made now, runs pruned now
  double probe_energy_kwh = 0;         // the probes' energy (also in energy_kwh)
  std::size_t busy = 0;                // skipped: another process holds the run's lock
  double energy_kwh = 0;               // energy of the runs made now
  // Its bounds under the meter's error model (runs whose records lack them count as exact).
  double energy_lo_kwh = 0, energy_hi_kwh = 0;
  double time_s = 0;
  bool signalled = false;  // stopped by SIGINT / SIGTERM
  std::vector<std::string> failed_ids, busy_ids;
};

// The program and arguments that run one run: PROGRAM train --model ... --run-id ID.
std::vector<std::string> train_argv(const RunSpec& run, const BenchOptions& options);

// The trainer program: options.train_program, else $PEPR_TRAIN_CMD, else the running pepr.
std::string resolve_train_program(const BenchOptions& options);

// Creates the synthetic datasets the runs need (`pepr data synth -o RUNS_DIR/<name>.npz`).
void prepare_datasets(const std::vector<RunSpec>& runs, const BenchOptions& options);

// Runs the runs in order. Without `resume`, throws pepr::Error when any of them already has a
// record in RUNS_DIR. Progress goes to stderr.
BenchSummary run_bench(const std::vector<RunSpec>& runs, const BenchOptions& options);

}  // namespace pepr::sweep
