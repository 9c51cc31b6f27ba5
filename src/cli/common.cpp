#include "cli/common.hpp"

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/file_io.hpp"

namespace pepr::cli {

void add_table_options(CLI::App* cmd, TableArgs& a, bool with_resources,
                       const std::string& default_norm) {
  a.norm = default_norm;
  cmd->add_option("INPUT", a.input, "results table (CSV; - for stdin)")->required();
  cmd->add_option("--performance,-p", a.performance,
                  "performance P in [0,1]: COL, last:PREFIX or best:PREFIX over per-epoch "
                  "columns (default: last:test_ if the table has test_NN columns)");
  cmd->add_option("--performance-scale", a.performance_scale,
                  "multiply performance values (0.01 for percentages)")
      ->capture_default_str();
  if (with_resources)
    cmd->add_option("--resource,-r", a.resources,
                    "resource to score by, repeatable: energy, co2, memory, time, data, params, "
                    "or KIND=COLUMN (e.g. memory=memR); default energy")
        ->allow_extra_args(false);
  cmd->add_option("--group-by,-g", a.group_by,
                  "normalise and rank within groups of this column (e.g. dataset)");
  cmd->add_option("--norm", a.norm, "normalisation of R: minmax, zero, fixed:LO,HI")
      ->capture_default_str();
  cmd->add_flag("--clip", a.clip, "with --norm fixed: clamp values outside the bounds");
  cmd->add_option("--alpha", a.alpha, "scaled PePR alpha*P/(alpha+R), alpha >= 1")
      ->capture_default_str()
      ->check(CLI::Range(1.0, 1e300));
}

PerformanceSpec resolve_performance(const TableArgs& a, const Table& table) {
  PerformanceSpec spec;
  if (!a.performance.empty()) {
    spec = PerformanceSpec::parse(a.performance);
  } else if (!epoch_columns(table, "test_").empty()) {
    spec = PerformanceSpec::parse("last:test_");
  } else {
    bool found = false;
    for (const char* name : {"P", "performance", "accuracy", "test_acc"})
      if (table.find_column(name)) {
        spec = PerformanceSpec::parse(name);
        found = true;
        break;
      }
    if (!found)
      throw Error(fmt::format("{}: which column is the performance? Give --performance COL",
                              table.source()));
  }
  spec.scale = a.performance_scale;
  return spec;
}

ScoreOptions resolve_score_options(const TableArgs& a, const Table& table) {
  ScoreOptions o;
  o.performance = resolve_performance(a, table);
  std::vector<std::string> res = a.resources;
  if (res.empty()) res.push_back("energy");
  for (const auto& r : res) o.resources.push_back(ResourceSpec::parse(r, table));
  o.group_by = a.group_by;
  o.norm = Normalization::parse(a.norm);
  o.norm.clip = a.clip;
  o.alpha = a.alpha;
  return o;
}

void add_output_options(CLI::App* cmd, OutputArgs& a) {
  cmd->add_option("--format,-f", a.format,
                  "table, csv, json, markdown or latex (default: from the -o extension, else "
                  "table)");
  cmd->add_option("-o,--output", a.output, "write to this file (atomically) instead of stdout");
}

Format resolve_format(const OutputArgs& a) {
  if (!a.format.empty()) return parse_format(a.format);
  return format_for_path(a.output, Format::Table);
}

void emit(const OutputArgs& a, const std::string& text) { write_file_atomic(a.output, text); }

std::optional<std::size_t> id_column(const Table& table) {
  if (auto c = table.find_column("model")) return c;
  if (auto c = table.find_column("label")) return c;
  for (std::size_t c = 0; c < table.num_columns(); ++c)
    if (table.num_rows() > 0 && !parse_number(table.cell(0, c))) return c;
  return std::nullopt;
}

}  // namespace pepr::cli
