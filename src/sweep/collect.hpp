// Reading run records (pepr.run/1) and turning a folder of them into a results table.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/table.hpp"
#include "run/record.hpp"

namespace pepr::sweep {

// Reads a run record (run/record.hpp: run::read_record_file); nullopt (and *why) when the file
// cannot be read, is not JSON, or is not a pepr.run/1 object with a known status. A record
// without a run_id (`pepr train` without --run-id writes null) gets the file's name without .json.
std::optional<run::RunRecord> read_record(const std::filesystem::path& path,
                                          std::string* why = nullptr);

struct CollectOptions {
  // Empty: every status. Pruned runs are rows (status "pruned", energy / co2 / train_time their
  // projected totals) so that the experiment's min-max normalisation is the full sweep's.
  std::vector<std::string> statuses{"completed", "stopped", "pruned"};
  bool long_format = false;  // one row per run x epoch
};

struct CollectResult {
  Table table;
  std::vector<std::string> warnings;    // files skipped, with why
  std::map<std::string, int> left_out;  // records left out by the status filter, by status
  std::size_t records = 0;              // records read
};

// Reads every RUNS_DIR/*.json (hidden and temporary files ignored) and makes one row per run
// (wide: the paper's all_results.csv columns, then pepr's) or per run x epoch (long, with
// cumulative energy_kwh, co2_g and time_s). Rows are sorted by run_id. Garbage or partial
// files are skipped with a warning, never fatal.
CollectResult collect_runs(const std::filesystem::path& runs_dir, const CollectOptions& options);

// The columns of the wide table that hold measured timings, energies and memory (and
// predictions made from them): what differs between two sweeps of the same plan.
std::vector<std::string> measured_columns();

}  // namespace pepr::sweep
