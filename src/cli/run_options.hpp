// The options of a run (run/config.hpp's table) on a CLI11 command: each flag once, its help,
// default and allowed values from the table, its value read by the table's own parser (so `pepr
// train` and every other reader of a run's arguments agree on what a value means).
#pragma once

#include <deque>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>

#include "run/config.hpp"

namespace pepr::cli {

class RunOptions {
 public:
  // Adds every option of run::flags() to `cmd`, or only those named in `only` (e.g. `pepr
  // bench`'s budgets, which it passes on to each run). `cfg` must outlive the parse.
  RunOptions(CLI::App* cmd, run::RunConfig& cfg, std::vector<std::string_view> only = {});
  // The options given, as arguments that mean the same to `pepr train` or `pepr bench`.
  std::vector<std::string> given_args() const;
  // After parsing: the given values into the configuration, then RunConfig::validate(); a value
  // out of range is a usage error (CLI::ValidationError, exit 2) naming the flag and the value.
  void apply() const;

 private:
  run::RunConfig& cfg_;
  bool subset_ = false;
  struct Bound {
    const run::Flag* flag;
    CLI::Option* option;
    std::string text;  // the value as given (a flag: unused)
  };
  std::deque<Bound> bound_;  // stable addresses: CLI11 writes into `text`
};

}  // namespace pepr::cli
