// pepr score: PePR scores of every row of a results table.
#include <memory>
#include <set>
#include <string_view>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "core/caveats.hpp"
#include "core/combine.hpp"
#include "core/error.hpp"
#include "core/format.hpp"
#include "core/robustness.hpp"
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
  std::optional<double> energy_error;
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

// Several datasets normalised as one (no --group-by): R of one dataset's runs would be measured
// against another's. A hint, on stderr.
void hint_group_by(const Table& input, const ScoreOptions& opts) {
  if (!opts.group_by.empty()) return;
  auto c = input.find_column("dataset");
  if (!c) return;
  std::set<std::string_view> datasets;
  for (std::size_t r = 0; r < input.num_rows(); ++r)
    if (!input.is_missing(r, *c)) datasets.insert(input.cell(r, *c));
  if (datasets.size() > 1)
    fmt::print(stderr,
               "pepr score: hint: the table has {} datasets (column 'dataset') and R is "
               "normalised over all of them as one; give -g dataset to normalise and rank within "
               "each\n",
               datasets.size());
}

// Human formats: the unit in the header of a column whose name does not say it (energy -> energy
// (kWh)); CSV and JSON keep the names.
Table with_units(const Table& t) {
  std::vector<std::string> names = t.column_names();
  bool changed = false;
  for (auto& n : names)
    if (const std::string unit = unit_not_in_name(n); !unit.empty())
      n += " (" + unit + ")", changed = true;
  if (!changed) return t;
  Table out(names, t.source());
  std::vector<std::string> row(names.size());
  for (std::size_t r = 0; r < t.num_rows(); ++r) {
    for (std::size_t c = 0; c < names.size(); ++c) row[c] = std::string(t.cell(r, c));
    out.add_row(row);
  }
  return out;
}

// The ranked score's intervals under the measurement error (columns SCORE_lo and SCORE_hi) and,
// per group, whether its top-1 and top-K are robust; notes for the output. Nothing when the table
// has no error bounds for that resource and none was given.
std::vector<std::string> robustness_notes(ScoreResult& res, const ScoreOptions& opts,
                                          std::size_t key, std::size_t top,
                                          std::optional<double> relative,
                                          std::optional<std::size_t> id) {
  const ResourceSpec& spec = opts.resources[key];
  const auto bounds = resource_bounds(res.table, spec, opts.norm, relative);
  if (!bounds) return {};
  const ScoreBounds sb =
      pepr_bounds(res.performance, *bounds, res.normalized_within[key], opts.norm, opts.alpha);
  res.table.add_column(spec.score_name + "_lo", sb.lo);
  res.table.add_column(spec.score_name + "_hi", sb.hi);
  std::vector<std::string> names;
  for (std::size_t r = 0; r < res.table.num_rows(); ++r)
    names.emplace_back(id ? std::string(res.table.cell(r, *id)) : "row " + std::to_string(r + 1));
  std::vector<std::string> notes{
      fmt::format("{0}_lo..{0}_hi: {0} when {1} moves within its measurement error: {2}",
                  spec.score_name, spec.column, bounds->basis)};
  for (const auto& g : ranking_robustness(res.scores[key], sb, res.groups, top))
    notes.push_back(robustness_sentence(g, names));
  return notes;
}

// With several seeds per model: the mean score per model, its 95 % interval over the seeds and
// whether the best mean stays best under seed noise. Nothing without repeated runs.
std::vector<std::string> seed_notes(const ScoreResult& res, const ScoreOptions& opts,
                                    std::size_t key, std::optional<std::size_t> id) {
  if (!id || !res.table.find_column("seed")) return {};
  std::vector<std::string> keys;
  for (std::size_t r = 0; r < res.table.num_rows(); ++r) keys.emplace_back(res.table.cell(r, *id));
  return seed_sentences(res.scores[key], res.groups, keys, opts.resources[key].score_name);
}

void run_score(const ScoreArgs& a) {
  CombinedTable tables = read_tables(a.table);
  ScoreOptions opts = resolve_score_options(a.table, tables);
  Table input = std::move(tables.table);
  auto id = id_column(input);
  const std::string id_name = id ? input.column_name(*id) : "";
  const bool several = tables.inputs.size() > 1;
  Format format = resolve_format(a.out);
  hint_group_by(input, opts);
  ScoreResult res = score_table(std::move(input), opts);
  const Caveats caveats = score_caveats(res, opts);
  if (caveats.any_row()) res.table.add_column(kCaveatsColumn, caveats.per_row);
  // CSV has no notes: the caveats are said on stderr too when they are not on the screen.
  if (format == Format::Csv || a.out.output != "-")
    for (const auto& n : caveats.notes) fmt::print(stderr, "pepr score: warning: {}\n", n);

  // Ranking: by --sort-by (a score column) or by the first resource's score.
  std::size_t key = 0;
  if (!a.sort_by.empty()) {
    bool found = false;
    for (std::size_t i = 0; i < opts.resources.size(); ++i)
      if (opts.resources[i].score_name == a.sort_by) key = i, found = true;
    if (!found) throw Error(fmt::format("--sort-by '{}' is not one of the scores", a.sort_by));
  }
  bool ranked = a.top > 0 || !a.sort_by.empty();
  std::vector<std::string> noise;
  if (ranked) {
    noise = robustness_notes(res, opts, key, a.top, a.energy_error, id);
    for (auto& n : seed_notes(res, opts, key, id)) noise.push_back(std::move(n));
  } else if (a.energy_error) {
    throw Error("--energy-error needs a ranking: give --top K or --sort-by");
  }
  const bool with_bounds =
      res.table.find_column(opts.resources[key].score_name + "_lo").has_value();
  Table out = std::move(res.table);
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
    if (several) names.push_back(kSourceColumn);
    names.push_back(res.performance_column);
    for (std::size_t i = 0; i < opts.resources.size(); ++i) {
      const auto& r = opts.resources[i];
      names.push_back(r.column);
      names.push_back(r.norm_name);
      names.push_back(r.score_name);
      if (i == key && with_bounds) {
        names.push_back(r.score_name + "_lo");
        names.push_back(r.score_name + "_hi");
      }
    }
    if (caveats.any_row()) names.push_back(kCaveatsColumn);
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
  if (several)
    ro.notes.push_back(fmt::format("{} tables ranked together ({}); each row's file in '{}'",
                                   tables.inputs.size(), fmt::join(input_files(a.table), ", "),
                                   kSourceColumn));
  for (const auto& n : caveats.notes) ro.notes.push_back(n);
  for (const auto& n : noise) ro.notes.push_back(n);
  if (format == Format::Csv || a.out.output != "-")
    for (const auto& n : noise) fmt::print(stderr, "pepr score: {}\n", n);
  emit(a.out, render(human ? with_units(out) : out, format, ro));
}

}  // namespace

void add_score(CLI::App& app) {
  auto args = std::make_shared<ScoreArgs>();
  CLI::App* cmd = app.add_subcommand(
      "score",
      "PePR = P / (1 + R) for every row of a results table, per resource (energy, co2, memory, "
      "time, data, params or any column).");
  add_table_options(cmd, args->table, /*with_resources=*/true, "minmax", /*several=*/true);
  cmd->add_option("--top,-k", args->top, "rank within each group and keep the best K rows");
  cmd->add_option("--sort-by", args->sort_by, "rank by this score column (default: the first)");
  cmd->add_option("--columns", args->columns, "comma-separated output columns");
  cmd->add_option("--energy-error", args->energy_error,
                  "with --top/--sort-by: the relative per-run error of every row's energy or CO2eq "
                  "(e.g. 0.25 for the estimate; see docs/meters.md), for a table without pepr's "
                  "bounds; pepr's own tables carry them (energy_error_per_run, energy_kwh_lo/_hi)")
      ->check(CLI::Range(0.0, 10.0));
  cmd->add_flag("--all-columns", args->all_columns,
                "table/markdown/latex: show every column (CSV and JSON always do)");
  add_output_options(cmd, args->out);
  cmd->footer(
      "Examples:\n"
      "  pepr score results.csv --group-by dataset --performance test_09 \\\n"
      "      -r energy -r co2 -r time=train_time -r memory=memR -o scored.csv\n"
      "  pepr score results.csv -g dataset -p last:test_ -r energy --top 5 -f markdown\n"
      "  pepr score results.csv tracked.csv -g dataset --top 3   # a sweep and pepr track rows\n"
      "  pepr score results.csv old_tracked.csv --rename label=model -p test_acc\n"
      "  pepr score all_results.csv -g dataset -p test_09 -r energy --top 5 --energy-error 0.25");
  cmd->callback([args] { run_score(*args); });
}

}  // namespace pepr::cli
