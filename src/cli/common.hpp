// Options shared by the analysis subcommands (score, curve, pareto, stats, report).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "core/format.hpp"
#include "core/score.hpp"
#include "core/table.hpp"

namespace pepr::cli {

struct TableArgs {
  std::string input;
  std::string performance;  // empty: chosen from the table
  double performance_scale = 1.0;
  std::vector<std::string> resources;
  std::string group_by;
  std::string norm = "minmax";
  bool clip = false;
  double alpha = 1.0;
  bool allow_negative = false;
};

// A CLI11 check that a number is >= lo, whose message says so in plain numbers.
CLI::Validator at_least(double lo);

// Adds INPUT and the column options. `with_resources` adds --resource (repeatable).
void add_table_options(CLI::App* cmd, TableArgs& args, bool with_resources = true,
                       const std::string& default_norm = "minmax");

// The performance spec: --performance, or last:test_ when the table has test_NN columns, or a
// column named P / performance / accuracy.
PerformanceSpec resolve_performance(const TableArgs& args, const Table& table);
// The resources (default: energy) and everything else as score options.
ScoreOptions resolve_score_options(const TableArgs& args, const Table& table);

struct OutputArgs {
  std::string format;  // empty: from the -o extension, else table
  std::string output = "-";
};
void add_output_options(CLI::App* cmd, OutputArgs& args);
Format resolve_format(const OutputArgs& args);
// --format when given, else from -o's extension (.csv, .json, .md, .tex; .txt and none: the
// fallback); another extension (out.xlsx) is an error.
Format output_format(const std::string& format, const std::string& output, Format fallback);
// Writes the rendered text to -o (atomically) or stdout.
void emit(const OutputArgs& args, const std::string& text);

// The column that names models in a table: "model" when present, else the first text column.
std::optional<std::size_t> id_column(const Table& table);

}  // namespace pepr::cli
