// Every subcommand lives in its own file under src/cli/ and registers itself here.
#pragma once

#include <CLI/CLI.hpp>

namespace pepr::cli {

// Each adds one subcommand (with its options and callback) to the application.
void add_score(CLI::App& app);
void add_curve(CLI::App& app);
void add_pareto(CLI::App& app);
void add_stats(CLI::App& app);
void add_track(CLI::App& app);
void add_meters(CLI::App& app);
void add_data(CLI::App& app);
void add_bench(CLI::App& app);
void add_collect(CLI::App& app);
void add_zoo(CLI::App& app);
void add_weights(CLI::App& app);
void add_report(CLI::App& app);

#ifdef PEPR_WITH_TORCH
// Subcommands that need LibTorch (src/cli/torch/).
void add_train(CLI::App& app);
#endif

}  // namespace pepr::cli
