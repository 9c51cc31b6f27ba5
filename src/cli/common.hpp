// Options shared by the analysis subcommands (score, curve, pareto, stats, report).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "core/combine.hpp"
#include "core/format.hpp"
#include "core/score.hpp"
#include "core/table.hpp"

namespace pepr::cli {

struct TableArgs {
  std::string input;                 // the table, for commands that read one
  std::vector<std::string> inputs;   // the tables, for commands that read several (score, report)
  std::vector<std::string> renames;  // --rename FROM=TO, for several tables
  std::string performance;           // empty: chosen from the table
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

// Adds INPUT and the column options. `with_resources` adds --resource (repeatable). `several`:
// INPUT... takes one or more tables (into `inputs`), combined by read_tables, and --rename.
void add_table_options(CLI::App* cmd, TableArgs& args, bool with_resources = true,
                       const std::string& default_norm = "minmax", bool several = false);

// The tables given (`inputs`, else `input`).
std::vector<std::string> input_files(const TableArgs& args);
// The tables read and combined (core/combine.hpp: rows unioned, columns matched by name after
// --rename, a `source` column when there are several).
CombinedTable read_tables(const TableArgs& args);

// The performance spec: --performance, or last:test_ when the table has test_NN columns, or a
// column named P / performance / accuracy.
PerformanceSpec resolve_performance(const TableArgs& args, const Table& table);
// The resources (default: energy) and everything else as score options.
ScoreOptions resolve_score_options(const TableArgs& args, const Table& table);
// The same for several tables combined: performance and resources are chosen among the columns
// every table has (pepr collect's `energy` beside pepr track's `energy_kwh` gives energy_kwh), and
// a column one table lacks is an error naming that file.
ScoreOptions resolve_score_options(const TableArgs& args, const CombinedTable& tables);

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
