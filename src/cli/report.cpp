// pepr report: tables, SVG figures and a self-contained HTML report of a results table.
#include <algorithm>
#include <filesystem>
#include <memory>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "cli/report_command.hpp"
#include "core/error.hpp"
#include "core/file_io.hpp"
#include "report/data.hpp"
#include "report/report.hpp"
#include "sweep/collect.hpp"

namespace pepr::cli {

namespace {

// The command that makes this report again, for the report's summary.
std::string command_line(const ReportArgs& a, const TableArgs& t) {
  std::string s = "pepr report";
  for (const auto& f : input_files(a.table)) s += " " + f;
  for (const auto& r : t.renames) s += " --rename " + r;
  if (!t.group_by.empty()) s += " -g " + t.group_by;
  if (!t.performance.empty()) s += " -p " + t.performance;
  if (t.performance_scale != 1.0) s += " --performance-scale " + format_number(t.performance_scale);
  for (const auto& r : t.resources) s += " -r " + r;
  if (t.norm != "minmax") s += " --norm " + t.norm;
  if (t.clip) s += " --clip";
  if (t.allow_negative) s += " --allow-negative";
  if (t.alpha != 1.0) s += " --alpha " + format_number(t.alpha);
  if (a.top != 5) s += " --top " + std::to_string(a.top);
  if (!a.id.empty()) s += " --id " + a.id;
  if (!a.params_column.empty()) s += " --params-column " + a.params_column;
  if (a.size_split != "auto") s += " --size-split " + a.size_split;
  if (!a.runs.empty()) s += " --runs " + a.runs;
  return s + " -o " + a.output;
}

}  // namespace

void run_report(const ReportArgs& a) {
  check_output_folder(a.output, "-o");
  CombinedTable tables = read_tables(a.table);
  TableArgs targs = a.table;
  if (targs.resources.empty()) {
    // Several tables: the resources every one of them has a column for.
    const Table names = tables.common_columns();
    std::vector<std::size_t> common;
    for (const auto& n : names.column_names()) common.push_back(*tables.table.find_column(n));
    targs.resources =
        report::default_resources(tables.table.select_columns(common), targs.group_by);
  }
  report::ReportOptions o;
  o.score = resolve_score_options(targs, tables);
  const Table input = std::move(tables.table);
  o.id_column = a.id;
  o.params_column = a.params_column;
  o.size_split = SizeSplit::parse(a.size_split);
  o.top = a.top;
  o.title = a.title;
  const std::vector<std::string> files = input_files(a.table);
  o.input_name = files.front();
  for (std::size_t i = 1; i < files.size(); ++i) o.input_name += " + " + files[i];
  o.command_line = command_line(a, targs);
  if (!a.runs.empty()) {
    namespace fs = std::filesystem;
    std::error_code ec;
    if (!fs::is_directory(a.runs, ec))
      throw Error(fmt::format("--runs {}: not a folder of run records", a.runs));
    o.runs_dir = a.runs;
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(a.runs, ec))
      if (e.path().extension() == ".json" && e.path().filename().string()[0] != '.')
        files.push_back(e.path());
    std::sort(files.begin(), files.end());
    for (const auto& f : files)
      if (auto rec = sweep::read_record(f)) o.runs.push_back(std::move(*rec));
  }
  report::Report rep = report::build_report(input, o);
  report::write_report(rep, a.output, a.force);
  std::size_t figures = rep.figures.figures.size();
  std::string where = a.output;
  while (where.size() > 1 && where.back() == '/') where.pop_back();
  fmt::print("pepr report: {} figure{}, {} table{} written to {}/index.html\n", figures,
             figures == 1 ? "" : "s", rep.tables.size(), rep.tables.size() == 1 ? "" : "s", where);
  for (const auto& [name, why] : rep.figures.left_out) fmt::print("  left out {}: {}\n", name, why);
}

void add_report(CLI::App& app) {
  auto args = std::make_shared<ReportArgs>();
  CLI::App* cmd = app.add_subcommand(
      "report",
      "Tables (Markdown, LaTeX, CSV), SVG figures and a self-contained index.html of a results "
      "table: the paper's Table 1, group tests, PePR isoclines, curves, Pareto fronts, violins.");
  add_table_options(cmd, args->table, /*with_resources=*/true, "minmax", /*several=*/true);
  cmd->add_option("-o,--output", args->output,
                  "the report folder (made if absent; a previous report there is replaced whole)")
      ->required();
  cmd->add_flag("--force", args->force,
                "write into a folder that holds other files than a report (they are kept)");
  cmd->add_option("--top,-k", args->top, "models per experiment in the ranking tables")
      ->capture_default_str()
      ->check(CLI::Range(std::size_t{1}, std::size_t{1000000}));
  cmd->add_option("--title", args->title, "the report's title")->capture_default_str();
  cmd->add_option("--id", args->id, "the column naming models (default: model)");
  cmd->add_option("--params-column", args->params_column,
                  "parameter counts (default num_param or params)");
  cmd->add_option("--size-split", args->size_split,
                  "small vs large models: paper (fewer than 24.6M parameters, the paper's "
                  "split), median (at most each experiment's median), a parameter count, or "
                  "auto: paper when every experiment has two models on each side, else median")
      ->capture_default_str();
  cmd->add_option("--runs", args->runs,
                  "folder of run records (pepr bench output): show the run environment and "
                  "meter methods");
  cmd->footer(
      "Without --resource the report scores energy, and co2, memory and time when the table has\n"
      "them (co2/co2_g, memory/mem_peak_gb/memR, time/time_s/train_time).\n"
      "Examples:\n"
      "  pepr report all_results.csv -g dataset -p test_09 -o report/\n"
      "  pepr report results.csv -g dataset --runs runs/ -o report/\n"
      "  pepr report results.csv tracked.csv -g dataset -o report/   # with pepr track rows");
  cmd->callback([args] { run_report(*args); });
}

}  // namespace pepr::cli
