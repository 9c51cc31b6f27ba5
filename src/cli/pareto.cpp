// pepr pareto: the non-dominated models (maximise P, minimise R) of each group, and the knee.
#include <memory>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "core/error.hpp"
#include "core/pareto.hpp"

namespace pepr::cli {

namespace {

struct ParetoArgs {
  TableArgs table;
  OutputArgs out;
};

void run_pareto(const ParetoArgs& a) {
  Table input = Table::read_csv(a.table.input);
  ScoreOptions opts = resolve_score_options(a.table, input);
  if (opts.resources.size() != 1)
    throw Error("pepr pareto takes exactly one --resource (the front is two-dimensional)");
  ScoreResult res = score_table(input, opts);
  const ResourceSpec& spec = opts.resources[0];
  std::vector<double> raw = input.numbers(input.require_column(spec.column));
  auto id = id_column(input);

  std::vector<std::string> cols;
  if (!opts.group_by.empty()) cols.push_back(opts.group_by);
  cols.push_back(id ? input.column_name(*id) : "row");
  cols.insert(cols.end(), {spec.column, spec.norm_name, res.performance_column, spec.score_name,
                           "knee"});
  Table out(cols, input.source());
  std::size_t total = 0;
  for (std::size_t g = 0; g < res.groups.names.size(); ++g) {
    std::vector<std::size_t> rows;
    for (std::size_t r = 0; r < input.num_rows(); ++r)
      if (res.groups.group_of[r] == g) rows.push_back(r);
    std::vector<double> rr, pp;
    for (std::size_t r : rows) rr.push_back(raw[r]), pp.push_back(res.performance[r]);
    auto front = pareto_front(rr, pp);
    auto knee = knee_point(front, rr, pp);
    total += front.size();
    for (std::size_t k : front) {
      std::size_t r = rows[k];
      std::vector<std::string> row;
      if (!opts.group_by.empty()) row.push_back(res.groups.names[g]);
      row.push_back(id ? std::string(input.cell(r, *id)) : std::to_string(input.line_of(r)));
      row.insert(row.end(), {format_number(raw[r]), format_number(res.normalized[0][r]),
                             format_number(res.performance[r]), format_number(res.scores[0][r]),
                             knee && *knee == k ? "1" : "0"});
      out.add_row(row);
    }
  }
  RenderOptions ro;
  ro.notes.push_back(fmt::format("{} of {} rows are on the front (max P = {}, min R = {})", total,
                                 input.num_rows(), opts.performance.describe(), spec.column));
  ro.notes.push_back(
      "knee: the front point farthest from the line joining the front's ends (R, P scaled)");
  emit(a.out, render(out, resolve_format(a.out), ro));
}

}  // namespace

void add_pareto(CLI::App& app) {
  auto args = std::make_shared<ParetoArgs>();
  CLI::App* cmd = app.add_subcommand(
      "pareto",
      "Pareto front per group (maximise P, minimise R): the non-dominated rows with their PePR "
      "and the knee point.");
  add_table_options(cmd, args->table);
  add_output_options(cmd, args->out);
  cmd->footer(
      "Example:\n"
      "  pepr pareto all_results.csv --group-by dataset -p test_09 -r energy -f markdown");
  cmd->callback([args] { run_pareto(*args); });
}

}  // namespace pepr::cli
