// Every subcommand lives in its own file under src/cli/ and registers itself here.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

namespace pepr::cli {

// The exit status of a usage error (unknown command or option, missing or invalid value).
inline constexpr int kUsageError = 2;

// Before CLI11 parses: a word where a (sub)command is expected that names none is a usage
// error naming the closest command ("pepr scroe" -> did you mean score?). Prints it and returns
// kUsageError, or returns 0 when the words are fine.
int check_command_words(const CLI::App& app, int argc, const char* const* argv);
// After CLI11 refused words it did not expect: an unknown --option of the command typed gets
// "unknown option --perfomance (did you mean --performance?)" and kUsageError; 0 when no
// word is an unknown option (CLI11's own message then stands).
// `pepr train` on a loaded machine (other processes keep kLoadedBusyCores or more busy) with no
// OMP_WAIT_POLICY set: sets it to PASSIVE and re-executes pepr, since libgomp reads it when it
// loads, before main. Spinning OpenMP workers that wait for a core another process holds cost
// time and CPU energy (bench/README: 2.5-2.9 s spinning vs 1.6-1.7 s passive beside a busy
// process); on an idle machine spinning is faster (0.83 vs 1.25 s), so it stays the default.
// The choice is recorded (environment.omp_wait_policy). Returns only when it does not re-execute.
void settle_omp_wait_policy(int argc, char** argv);

int explain_unknown_options(const CLI::App& app, int argc, const char* const* argv);

// Help text wrapped to 100 columns, continuation lines aligned with the descriptions. Set on
// the application before any subcommand is added (subcommands inherit it).
std::shared_ptr<CLI::Formatter> make_formatter();
// The wrapping itself: lines longer than `width` broken at spaces; a continuation is indented
// to `column` when the line is "  NAME   description" with the description there, else as the
// line itself.
std::string wrap_help(const std::string& text, std::size_t width, std::size_t column);

// A library error in the CLI's terms: the libraries name their own parameters ("alpha must be
// >= 1", "normalisation 'x'", "clip to clamp it"); the command line names its options.
std::string in_cli_terms(std::string message);

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
// Added last: it prints the whole tree.
void add_completion(CLI::App& app);

#ifdef PEPR_WITH_TORCH
// Subcommands that need LibTorch (src/cli/torch/).
void add_train(CLI::App& app);
#endif

}  // namespace pepr::cli
