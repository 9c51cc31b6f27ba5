// pepr score: PePR scores of every row of a results table.
#include <memory>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "core/error.hpp"
#include "core/format.hpp"
#include "core/score.hpp"

namespace pepr::cli {

namespace {

struct ScoreArgs {
  TableArgs table;
  OutputArgs out;
  std::size_t top = 0;
  std::string sort_by;
  std::string columns;
  bool all_columns = false;
};

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= s.size()) {
    auto comma = s.find(',', start);
    if (comma == std::string::npos) comma = s.size();
    if (comma > start) out.push_back(s.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

void run_score(const ScoreArgs& a) {
  Table input = Table::read_csv(a.table.input);
  ScoreOptions opts = resolve_score_options(a.table, input);
  auto id = id_column(input);
  const std::string id_name = id ? input.column_name(*id) : "";
  ScoreResult res = score_table(std::move(input), opts);
  Format format = resolve_format(a.out);

  // Ranking: by --sort-by (a score column) or by the first resource's score.
  std::size_t key = 0;
  if (!a.sort_by.empty()) {
    bool found = false;
    for (std::size_t i = 0; i < opts.resources.size(); ++i)
      if (opts.resources[i].score_name == a.sort_by) key = i, found = true;
    if (!found) throw Error(fmt::format("--sort-by '{}' is not one of the scores", a.sort_by));
  }
  Table out = std::move(res.table);
  bool ranked = a.top > 0 || !a.sort_by.empty();
  if (ranked) {
    auto order = rank_rows(res.scores[key], res.groups, a.top);
    out = out.select_rows(order);
    std::vector<std::string> rank;
    std::vector<std::size_t> seen(res.groups.names.size(), 0);
    for (std::size_t r : order) rank.push_back(std::to_string(++seen[res.groups.group_of[r]]));
    out.add_column("rank", rank);
  }

  const bool human =
      format == Format::Table || format == Format::Markdown || format == Format::Latex;
  if (!a.columns.empty()) {
    std::vector<std::size_t> cols;
    for (const auto& c : split_list(a.columns)) cols.push_back(out.require_column(c));
    out = out.select_columns(cols);
  } else if (human && !a.all_columns) {
    // A readable view: group, rank, model, P, and per resource raw / normalised / score.
    std::vector<std::string> names;
    if (!opts.group_by.empty()) names.push_back(opts.group_by);
    if (ranked) names.push_back("rank");
    if (!id_name.empty()) names.push_back(id_name);
    names.push_back(res.performance_column);
    for (const auto& r : opts.resources) {
      names.push_back(r.column);
      names.push_back(r.norm_name);
      names.push_back(r.score_name);
    }
    std::vector<std::size_t> cols;
    for (const auto& n : names) {
      std::size_t c = out.require_column(n);
      if (std::find(cols.begin(), cols.end(), c) == cols.end()) cols.push_back(c);
    }
    out = out.select_columns(cols);
  }

  RenderOptions ro;
  ro.notes.push_back(fmt::format("P = {}", opts.performance.describe()));
  ro.notes.push_back(fmt::format(
      "R normalised {} ({})",
      opts.group_by.empty() ? "over the whole table" : "within each '" + opts.group_by + "'",
      opts.norm.describe()));
  for (std::size_t i = 0; i < opts.resources.size(); ++i)
    if (opts.resources[i].kind == "data" && !opts.group_by.empty()) {
      const std::string merged = merged_groups_text(res.groups, res.normalized_within[i]);
      ro.notes.push_back(
          merged.empty()
              ? fmt::format("{}: no '{}' value is a fraction of another's data (_small, "
                            "_smallest, _f<F>), so {} is 0 in every row and {} equals P",
                            opts.resources[i].column, opts.group_by, opts.resources[i].norm_name,
                            opts.resources[i].score_name)
              : fmt::format("{} normalised across the data fractions of each dataset: {}",
                            opts.resources[i].norm_name, merged));
    }
  if (opts.alpha != 1.0)
    ro.notes.push_back(fmt::format("scaled PePR: {0} * P / ({0} + R)", format_number(opts.alpha)));
  else
    ro.notes.push_back("PePR = P / (1 + R)");
  emit(a.out, render(out, format, ro));
}

}  // namespace

void add_score(CLI::App& app) {
  auto args = std::make_shared<ScoreArgs>();
  CLI::App* cmd = app.add_subcommand(
      "score",
      "PePR = P / (1 + R) for every row of a results table, per resource (energy, co2, memory, "
      "time, data, params or any column).");
  add_table_options(cmd, args->table);
  cmd->add_option("--top,-k", args->top, "rank within each group and keep the best K rows");
  cmd->add_option("--sort-by", args->sort_by, "rank by this score column (default: the first)");
  cmd->add_option("--columns", args->columns, "comma-separated output columns");
  cmd->add_flag("--all-columns", args->all_columns,
                "table/markdown/latex: show every column (CSV and JSON always do)");
  add_output_options(cmd, args->out);
  cmd->footer(
      "Examples:\n"
      "  pepr score results.csv --group-by dataset --performance test_09 \\\n"
      "      -r energy -r co2 -r time=train_time -r memory=memR -o scored.csv\n"
      "  pepr score results.csv -g dataset -p last:test_ -r energy --top 5 -f markdown");
  cmd->callback([args] { run_score(*args); });
}

}  // namespace pepr::cli
