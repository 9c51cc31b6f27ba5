// pepr curve: PePR curves over cumulative resource, their maximum P* and where it lies.
#include <memory>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "core/curve.hpp"
#include "core/error.hpp"

namespace pepr::cli {

namespace {

struct CurveArgs {
  TableArgs table;
  OutputArgs out;
  std::string resource = "energy";
  std::string epochs_prefix;
  std::string epoch_column;
  std::string id = "model";
  bool points = false;
};

void run_curve(const CurveArgs& a) {
  Table input = Table::read_csv(a.table.input);
  CurveOptions o;
  o.resource = a.resource;
  o.id = a.id;
  o.group_by = a.table.group_by;
  o.epoch = a.epoch_column;
  o.norm = Normalization::parse(a.table.norm);
  o.norm.clip = a.table.clip;
  o.alpha = a.table.alpha;
  if (!a.epochs_prefix.empty()) {
    o.wide = true;
    o.performance.column = a.epochs_prefix;
  } else if (!a.table.performance.empty()) {
    o.performance = PerformanceSpec::parse(a.table.performance);
    if (o.performance.mode != PerformanceSpec::Mode::Column) {
      o.wide = true;  // last:PREFIX / best:PREFIX name per-epoch columns
      o.performance.mode = PerformanceSpec::Mode::Column;
    }
  } else if (!epoch_columns(input, "test_").empty()) {
    o.wide = true;
    o.performance.column = "test_";
  } else {
    throw Error(fmt::format(
        "{}: give --performance COL (a long table, one row per epoch) or --epochs PREFIX (one "
        "row per run with per-epoch columns)",
        input.source()));
  }
  o.performance.scale = a.table.performance_scale;
  if (!o.wide && o.epoch.empty() && input.find_column("epoch")) o.epoch = "epoch";
  CurveResult res = pepr_curves(input, o);
  RenderOptions ro;
  ro.notes = res.notes;
  ro.notes.push_back("P* = max over the curve of P / (1 + R); ties go to the smallest R");
  emit(a.out, render(a.points ? res.points : res.summary, resolve_format(a.out), ro));
}

}  // namespace

void add_curve(CLI::App& app) {
  auto args = std::make_shared<CurveArgs>();
  CLI::App* cmd = app.add_subcommand(
      "curve",
      "PePR curves (paper eq. 2): PePR at every point of a learning curve over cumulative "
      "resource, its maximum P* and the R where it is reached.");
  add_table_options(cmd, args->table, /*with_resources=*/false, "zero");
  cmd->add_option("--resource,-r", args->resource,
                  "the cumulative resource: KIND, KIND=COLUMN or COLUMN")
      ->capture_default_str();
  cmd->add_option("--epochs", args->epochs_prefix,
                  "one row per run with per-epoch performance columns PREFIX<N> (e.g. test_); "
                  "the run's total resource is spread evenly over the epochs");
  cmd->add_option("--epoch", args->epoch_column,
                  "long tables: the column ordering a run's rows (default: epoch if present)");
  cmd->add_option("--id", args->id, "the column naming a curve (with --group-by)")
      ->capture_default_str();
  cmd->add_flag("--points", args->points, "print every point instead of one row per curve");
  add_output_options(cmd, args->out);
  cmd->footer(
      "Examples:\n"
      "  pepr curve all_results.csv --group-by dataset --epochs test_ -r energy\n"
      "  pepr curve runs_long.csv --performance test_acc -r energy=energy_kwh --points -f csv");
  cmd->callback([args] { run_curve(*args); });
}

}  // namespace pepr::cli
