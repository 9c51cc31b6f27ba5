// pepr stats: group comparisons with Student, Welch and Mann-Whitney tests.
#include <algorithm>
#include <memory>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "core/comparisons.hpp"
#include "core/error.hpp"

namespace pepr::cli {

namespace {

struct StatsArgs {
  TableArgs table;
  OutputArgs out;
  std::string value;
  std::vector<std::string> splits;
  std::string params_column;
  std::string size_split = "auto";
  double threshold = -1;
  std::vector<std::string> experiments;
  std::string id = "model";
};

void run_stats(const StatsArgs& a) {
  Table input = Table::read_csv(a.table.input);
  Table data = input;
  std::string value = a.value;
  // Scores are computed first when resources are named or the value is a score column.
  if (!a.table.resources.empty() ||
      (!value.empty() && value.rfind("pepr_", 0) == 0 && !input.find_column(value))) {
    ScoreOptions so = resolve_score_options(a.table, input);
    ScoreResult res = score_table(input, so);
    data = res.table;
    if (value.empty()) value = so.resources[0].score_name;
  }
  if (value.empty()) {
    PerformanceSpec p = resolve_performance(a.table, input);
    if (p.mode != PerformanceSpec::Mode::Column || p.scale != 1.0) {
      data.add_column("P", performance_values(input, p));
      value = "P";
    } else {
      value = p.column;
    }
  }
  ComparisonOptions co;
  co.value = value;
  co.splits = a.splits;
  co.params_column = a.params_column;
  co.size_split = SizeSplit::parse(a.size_split);
  if (a.threshold >= 0) co.size_split = SizeSplit::parse(fmt::format("{}", a.threshold));
  co.id = a.id;
  for (const auto& e : a.experiments) {
    auto comma = e.find(',');
    if (comma == std::string::npos || comma == 0 || comma + 1 == e.size())
      throw Error(fmt::format("--experiments '{}': expected A,B", e));
    co.experiments.emplace_back(e.substr(0, comma), e.substr(comma + 1));
  }
  Grouping groups = group_rows(data, a.table.group_by);
  auto comps = run_comparisons(data, groups, co);
  RenderOptions ro;
  ro.notes.push_back(fmt::format("value compared: {}", value));
  if (std::find(co.splits.begin(), co.splits.end(), "size") != co.splits.end() ||
      (co.splits.empty() && co.experiments.empty()))
    ro.notes.push_back("size split: " + (co.size_split.mode == SizeSplit::Mode::Auto
                                             ? "auto (paper's 24.6M "
                                               "when every group has "
                                               "two models a side, "
                                               "else the median)"
                                             : co.size_split.describe()));
  ro.notes.push_back(
      "two-sided tests: Student t (equal variances, as the paper), Welch t, Mann-Whitney U");
  if (!co.experiments.empty())
    ro.notes.push_back(fmt::format("experiments matched by '{}' for the paired t-test", co.id));
  emit(a.out, render(comparisons_table(comps), resolve_format(a.out), ro));
}

}  // namespace

void add_stats(CLI::App& app) {
  auto args = std::make_shared<StatsArgs>();
  CLI::App* cmd = app.add_subcommand(
      "stats",
      "Group comparisons (Student and Welch t-tests, Mann-Whitney U): small vs large models, "
      "CNN vs Other, efficient vs not, one experiment vs another.");
  add_table_options(cmd, args->table);
  cmd->add_option("--value,-v", args->value,
                  "the column compared (default: the performance; a pepr_* name computes that "
                  "score from --resource first)");
  cmd->add_option("--split", args->splits,
                  "size, type or efficient (repeatable; default all "
                  "the table supports)")
      ->allow_extra_args(false);
  cmd->add_option("--params-column", args->params_column,
                  "size split: parameter counts (default num_param or params)");
  cmd->add_option("--size-split", args->size_split,
                  "size split: paper (small = fewer than 24.6M parameters, the paper's split), "
                  "median (each group's own median: small = at most it), a parameter count "
                  "(small = fewer), or auto: paper when every group has two models on each "
                  "side, else median")
      ->capture_default_str();
  cmd->add_option("--threshold", args->threshold,
                  "the same as --size-split N (small = fewer than N parameters)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--experiments", args->experiments,
                  "A,B: compare two values of the --group-by column, matched by --id "
                  "(repeatable)")
      ->allow_extra_args(false);
  cmd->add_option("--id", args->id, "the column matching rows of two experiments")
      ->capture_default_str();
  add_output_options(cmd, args->out);
  cmd->footer(
      "Examples:\n"
      "  pepr stats all_results.csv -g dataset -r energy --value pepr_e --split size\n"
      "  pepr stats all_results.csv -g dataset -v test_09 --experiments derma_pt,derma");
  cmd->callback([args] { run_stats(*args); });
}

}  // namespace pepr::cli
