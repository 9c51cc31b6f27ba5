// pepr collect: a folder of run records -> one results table (one row per run, or per epoch).
#include <algorithm>
#include <memory>

#include <fmt/format.h>
#include <fmt/ranges.h>  // fmt::join (in format.h before fmt 11)

#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "core/error.hpp"
#include "core/file_io.hpp"
#include "core/format.hpp"
#include "core/suggest.hpp"
#include "run/modes.hpp"
#include "sweep/collect.hpp"

namespace pepr::cli {

namespace {

struct CollectArgs {
  std::string runs_dir;
  std::string output = "-";
  std::string format;
  std::string status = "completed,stopped,pruned";
  std::string group_by;
  bool long_format = false;
};

// -g COL: the rows of each group together (groups in sorted order, runs in collect's order within
// each), as the other commands' -g groups them; a column that does not exist is an error.
Table rows_grouped_by(const Table& t, const std::string& column) {
  const auto found = t.find_column(column);
  if (!found)
    throw Error(fmt::format("-g {}: no such column in the collected table{}; columns: {}", column,
                            did_you_mean(column, t.column_names()),
                            fmt::join(t.column_names(), ", ")));
  const std::size_t c = *found;
  std::vector<std::size_t> order(t.num_rows());
  for (std::size_t r = 0; r < order.size(); ++r) order[r] = r;
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t x, std::size_t y) { return t.cell(x, c) < t.cell(y, c); });
  return t.select_rows(order);
}

void run_collect(const CollectArgs& a) {
  check_output_path(a.output, "-o");
  const Format f = output_format(a.format, a.output, Format::Csv);
  sweep::CollectOptions o;
  o.long_format = a.long_format;
  o.statuses.clear();
  if (a.status != "all") {
    std::size_t start = 0;
    while (start <= a.status.size()) {
      auto comma = a.status.find(',', start);
      if (comma == std::string::npos) comma = a.status.size();
      if (comma > start) o.statuses.push_back(a.status.substr(start, comma - start));
      start = comma + 1;
    }
    for (const auto& s : o.statuses)
      if (!run::from_name<run::RunStatus>(s))
        throw Error(fmt::format("--status: unknown status '{}' ({}, or all)", s,
                                fmt::join(run::all_names<run::RunStatus>(), ", ")));
  }
  sweep::CollectResult res = sweep::collect_runs(a.runs_dir, o);
  for (const auto& w : res.warnings) fmt::print(stderr, "pepr collect: warning: {}\n", w);
  if (!res.left_out.empty()) {
    std::vector<std::string> parts;
    for (const auto& [st, n] : res.left_out)
      parts.push_back(fmt::format("{} {} run{}", n, st, n == 1 ? "" : "s"));
    fmt::print(stderr, "pepr collect: note: left out {} (--status all to include them)\n",
               fmt::join(parts, ", "));
  }
  // No row is an error, not a header-only table that a later step takes for results.
  if (res.records == 0)
    throw Error(fmt::format("{}: no usable run record ({} .json file{} skipped)", a.runs_dir,
                            res.warnings.size(), res.warnings.size() == 1 ? "" : "s"));
  if (res.table.num_rows() == 0)
    throw Error(
        fmt::format("{}: none of the {} run record{} has status {} (--status all to "
                    "include every status)",
                    a.runs_dir, res.records, res.records == 1 ? "" : "s", a.status));
  if (!a.group_by.empty()) res.table = rows_grouped_by(res.table, a.group_by);
  write_file_atomic(a.output, render(res.table, f));
  if (a.output != "-")
    fmt::print(stderr, "pepr collect: {} row{} from {} record{} -> {}\n", res.table.num_rows(),
               res.table.num_rows() == 1 ? "" : "s", res.records, res.records == 1 ? "" : "s",
               a.output);
}

}  // namespace

void add_collect(CLI::App& app) {
  auto args = std::make_shared<CollectArgs>();
  CLI::App* cmd = app.add_subcommand(
      "collect",
      "Turn a folder of run records (pepr bench / pepr train) into a results table: one row per "
      "run with the PePR paper's all_results.csv columns plus pepr's, or one row per epoch.");
  cmd->add_option("RUNS_DIR", args->runs_dir, "the folder of <run_id>.json records")->required();
  cmd->add_option("-o,--output", args->output, "write here (atomically) instead of stdout");
  cmd->add_option("--format,-f", args->format,
                  "csv (default), table, json, markdown or latex (default: from -o's extension, "
                  "else csv)");
  cmd->add_flag("--long", args->long_format,
                "one row per run x epoch with cumulative energy_kwh, co2_g, time_s (for pepr "
                "curve)");
  cmd->add_option("-g,--group-by", args->group_by,
                  "put the rows of each value of this column together (e.g. dataset: one block "
                  "per experiment); pepr score -g ranks within them");
  cmd->add_option("--status", args->status, "comma-separated statuses to include, or all")
      ->capture_default_str();
  cmd->footer(
      "Examples:\n"
      "  pepr collect runs -o results.csv\n"
      "  pepr score results.csv -g dataset -r energy --top 5\n"
      "  pepr collect runs --long -o long.csv && pepr curve long.csv -p test_acc -r energy "
      "--id run_id -g dataset");
  cmd->callback([args] { run_collect(*args); });
}

}  // namespace pepr::cli
