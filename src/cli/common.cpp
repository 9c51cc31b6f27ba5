#include "cli/common.hpp"

#include <algorithm>
#include <filesystem>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "core/error.hpp"
#include "core/file_io.hpp"
#include "core/suggest.hpp"

namespace pepr::cli {

CLI::Validator at_least(double lo) {
  return CLI::Validator(
      [lo](std::string& text) -> std::string {
        auto v = parse_number(text);
        if (!v) return fmt::format("'{}' is not a number", text);
        if (!(*v >= lo)) return fmt::format("must be >= {}, got {}", format_number(lo), text);
        return "";
      },
      fmt::format(">= {}", format_number(lo)));
}

void add_table_options(CLI::App* cmd, TableArgs& a, bool with_resources,
                       const std::string& default_norm, bool several) {
  a.norm = default_norm;
  if (several) {
    cmd->add_option("INPUT", a.inputs,
                    "results tables (CSV; - for stdin): several are ranked together, their "
                    "columns matched by name, each row's file in a 'source' column")
        ->required();
    cmd->add_option("--rename", a.renames,
                    "FROM=TO, repeatable: a table with column FROM and none named TO reads it as "
                    "TO (e.g. label=model for pepr track tables without --model)")
        ->allow_extra_args(false);
  } else {
    cmd->add_option("INPUT", a.input, "results table (CSV; - for stdin)")->required();
  }
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
  cmd->add_flag("--allow-negative", a.allow_negative,
                "score negative resource values (e.g. net energy below an idle baseline) instead "
                "of refusing them");
  cmd->add_option("--alpha", a.alpha, "scaled PePR alpha*P/(alpha+R), alpha >= 1")
      ->capture_default_str()
      ->check(at_least(1.0));
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
  o.allow_negative = a.allow_negative;
  return o;
}

std::vector<std::string> input_files(const TableArgs& a) {
  return a.inputs.empty() ? std::vector<std::string>{a.input} : a.inputs;
}

CombinedTable read_tables(const TableArgs& a) {
  std::vector<Table> tables;
  const auto files = input_files(a);
  if (std::count(files.begin(), files.end(), "-") > 1)
    throw Error("- (stdin) can be given once only");
  for (const auto& f : files) tables.push_back(Table::read_csv(f));
  std::vector<ColumnRename> renames;
  for (const auto& r : a.renames) renames.push_back(ColumnRename::parse(r));
  return combine_tables(std::move(tables), renames);
}

namespace {

// A column that a row of the combined table needs: every input must have it.
void require_everywhere(const CombinedTable& t, const std::string& column, const std::string& as) {
  if (const auto* in = t.lacking(column)) {
    std::string others;
    for (const auto& i : t.inputs)
      if (&i != in) others += (others.empty() ? "" : ", ") + i.source;
    throw Error(fmt::format(
        "{}: no column '{}' ({}, which {} {}), so its rows cannot be ranked with the others: "
        "give --rename OLD={} for its column of another name, or choose a column every table "
        "has",
        in->source, column, as, others, t.inputs.size() == 2 ? "has" : "have", column));
  }
}

}  // namespace

ScoreOptions resolve_score_options(const TableArgs& a, const CombinedTable& t) {
  if (t.inputs.size() <= 1) return resolve_score_options(a, t.table);
  // Chosen among the columns every table has; a column named and missing somewhere is an error
  // naming the file.
  const Table common = t.common_columns();
  ScoreOptions o = resolve_score_options(a, t.table);
  if (a.performance.empty()) {
    try {
      o.performance = resolve_performance(a, common);
    } catch (const Error&) {
      throw Error(fmt::format(
          "{}: no performance column that every table has (test_NN, P, performance, accuracy or "
          "test_acc): give --performance COL, and --rename OLD=COL for a table that names it "
          "otherwise",
          t.table.source()));
    }
  } else if (o.performance.mode == PerformanceSpec::Mode::Column) {
    require_everywhere(t, o.performance.column, "the performance");
  } else {
    for (const auto& in : t.inputs)
      if (epoch_columns(Table(in.columns, in.source), o.performance.column).empty())
        throw Error(fmt::format(
            "{}: no per-epoch columns {}<N> (the performance, {}), so its rows cannot be ranked "
            "with the others: give --performance COL with a column every table has",
            in.source, o.performance.column, o.performance.describe()));
  }
  // A bare kind (energy, co2, ...) reads the column of that name when every table has it, else
  // the unit-suffixed one (energy_kwh, ...).
  std::vector<std::string> res = a.resources;
  if (res.empty()) res.push_back("energy");
  o.resources.clear();
  const std::vector<std::string> kinds = resource_kinds();
  for (const auto& text : res) {
    std::optional<ResourceSpec> s;
    if (text.find('=') == std::string::npos && !common.find_column(text) &&
        std::find(kinds.begin(), kinds.end(), text) != kinds.end()) {
      try {
        s = ResourceSpec::parse(text, common);
      } catch (const Error&) {
        // Some table lacks both: require_everywhere names it.
      }
    }
    if (!s) s = ResourceSpec::parse(text, t.table);
    require_everywhere(t, s->column, "resource '" + text + "'");
    o.resources.push_back(*s);
  }
  if (!o.group_by.empty()) require_everywhere(t, o.group_by, "--group-by");
  return o;
}

void add_output_options(CLI::App* cmd, OutputArgs& a) {
  cmd->add_option("--format,-f", a.format,
                  "table, csv, json, markdown or latex (default: from the -o extension, else "
                  "table)");
  cmd->add_option("-o,--output", a.output, "write to this file (atomically) instead of stdout");
}

Format output_format(const std::string& format, const std::string& output, Format fallback) {
  if (!format.empty()) return parse_format(format);
  if (output != "-") {
    const std::string ext = std::filesystem::path(output).extension().string();
    if (ext == ".txt") return Format::Table;
    if (!ext.empty() && ext != ".csv" && ext != ".json" && ext != ".md" && ext != ".tex")
      throw Error(
          fmt::format("-o {}: unknown extension '{}' (.csv, .json, .md, .tex or .txt, or "
                      "give --format)",
                      output, ext));
  }
  return format_for_path(output, fallback);
}

Format resolve_format(const OutputArgs& a) {
  return output_format(a.format, a.output, Format::Table);
}

void emit(const OutputArgs& a, const std::string& text) {
  write_file_atomic(a.output, text);
}

std::optional<std::size_t> id_column(const Table& table) {
  if (auto c = table.find_column("model")) return c;
  if (auto c = table.find_column("label")) return c;
  for (std::size_t c = 0; c < table.num_columns(); ++c)
    if (table.num_rows() > 0 && !parse_number(table.cell(0, c))) return c;
  return std::nullopt;
}

std::string wrap_help(const std::string& text, std::size_t width, std::size_t column) {
  std::string out;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t nl = text.find('\n', start);
    if (nl == std::string::npos) nl = text.size();
    std::string line = text.substr(start, nl - start);
    start = nl + 1;
    const std::size_t lead = line.find_first_not_of(' ');
    std::size_t indent = lead == std::string::npos ? 0 : lead;
    if (indent == 2 && line.size() > column && line[column - 1] == ' ' && line[column] != ' ')
      indent = column;
    while (line.size() > width) {
      std::size_t brk = line.rfind(' ', width);
      if (brk == std::string::npos || brk <= indent) brk = line.find(' ', width);
      if (brk == std::string::npos) break;
      std::size_t end = brk;
      while (end > 0 && line[end - 1] == ' ') --end;
      out += line.substr(0, end) + "\n";
      const std::size_t rest = line.find_first_not_of(' ', brk);
      if (rest == std::string::npos) {
        line.clear();
        break;
      }
      line = std::string(indent, ' ') + line.substr(rest);
    }
    out += line;
    if (nl < text.size()) out += "\n";
  }
  return out;
}

namespace {

class WrappingFormatter : public CLI::Formatter {
 public:
  std::string make_help(const CLI::App* app, std::string name,
                        CLI::AppFormatMode mode) const override {
    return wrap_help(CLI::Formatter::make_help(app, std::move(name), mode), 100,
                     get_column_width());
  }
};

}  // namespace

std::shared_ptr<CLI::Formatter> make_formatter() {
  return std::make_shared<WrappingFormatter>();
}

std::string in_cli_terms(std::string m) {
  static const std::pair<const char*, const char*> kTerms[] = {
      {"zero normalisation needs", "--norm zero needs"},
      {"normalisation '", "--norm '"},
      {"resource '", "--resource '"},
      {"performance '", "--performance '"},
      {"; for percentages scale it by 0.01", "; for percentages use --performance-scale 0.01"},
      {"; clip to clamp it", "; use --clip to clamp it"},
      {"no resource given", "no --resource given"},
      {"alpha must be >= 1", "--alpha must be >= 1"},
      {"shard '", "--shard '"},
      {"; give a split or experiment pairs", "; give --split or --experiments"},
      {"(or name the parameter column)", "(or --params-column)"},
      {"experiment pairs need a grouping column", "--experiments needs --group-by"},
      {"; allow_negative scores it anyway", "; --allow-negative scores it anyway"},
  };
  for (const auto& [lib, cli] : kTerms) {
    const std::string from(lib), to(cli);
    for (std::size_t at = m.find(from); at != std::string::npos;
         at = m.find(from, at + to.size())) {
      if (at > 0 && m[at - 1] == '-') continue;  // already in CLI terms
      m.replace(at, from.size(), to);
    }
  }
  return m;
}

int check_command_words(const CLI::App& app, int argc, const char* const* argv) {
  const CLI::App* cur = &app;
  std::string path = "pepr";
  for (int i = 1; i < argc; ++i) {
    const std::string word = argv[i];
    if (word.empty() || word[0] == '-') return 0;  // options: CLI11's business
    auto subs = const_cast<CLI::App*>(cur)->get_subcommands([](CLI::App*) { return true; });
    if (subs.empty()) return 0;
    bool positional = false;
    for (const CLI::Option* o : cur->get_options())
      if (o->get_positional()) positional = true;
    const CLI::App* next = nullptr;
    std::vector<std::string> names;
    for (const CLI::App* s : subs) {
      names.push_back(s->get_name());
      if (s->get_name() == word) next = s;
    }
    if (!next) {
      if (positional) return 0;
      fmt::print(stderr, "{}: error: unknown command '{}'{}\nRun {} --help for the commands.\n",
                 path, word, did_you_mean(word, names), path);
      return kUsageError;
    }
    cur = next;
    path += " " + word;
  }
  return 0;
}

int explain_unknown_options(const CLI::App& app, int argc, const char* const* argv) {
  // The command typed: its words up to the first option, as check_command_words walks them.
  const CLI::App* cur = &app;
  std::string path = "pepr";
  int i = 1;
  for (; i < argc && argv[i][0] != '-'; ++i) {
    const CLI::App* next = nullptr;
    for (const CLI::App* s :
         const_cast<CLI::App*>(cur)->get_subcommands([](CLI::App*) { return true; }))
      if (s->get_name() == argv[i]) next = s;
    if (!next) break;
    cur = next;
    path += " " + std::string(argv[i]);
  }
  std::vector<std::string> names;  // --long options of the command and of those above it
  for (const CLI::App* a = cur; a; a = a->get_parent())
    for (const CLI::Option* o : a->get_options())
      for (const std::string& n : o->get_lnames()) names.push_back("--" + n);
  for (int k = 1; k < argc; ++k) {
    std::string word = argv[k];
    if (word == "--") break;
    if (word.rfind("--", 0) != 0 || word.size() < 3) continue;
    word = word.substr(0, word.find('='));
    if (std::find(names.begin(), names.end(), word) != names.end()) continue;
    fmt::print(stderr, "{}: error: unknown option {}{}\nRun {} --help for its options.\n", path,
               word, did_you_mean(word, names), path);
    return kUsageError;
  }
  return 0;
}

}  // namespace pepr::cli
