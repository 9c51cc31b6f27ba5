#include "report/data.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <optional>
#include <set>

#include <fmt/format.h>

#include "core/caveats.hpp"
#include "core/error.hpp"
#include "core/stats.hpp"

namespace pepr::report {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

struct KindText {
  const char* kind;
  const char* resource;
  const char* unit;
  const char* symbol;
};
constexpr KindText kKindText[] = {
    {"energy", "energy", "kWh", "E"}, {"co2", "CO2eq", "g", "C"},
    {"memory", "memory", "GB", "M"},  {"time", "time", "s", "T"},
    {"data", "data", "samples", "D"}, {"params", "parameters", "", "N"}};

std::string upper_first_letter(const std::string& score_name) {
  // pepr_e -> PePR-E; pepr_flops -> PePR-flops.
  std::string rest = score_name.rfind("pepr_", 0) == 0 ? score_name.substr(5) : score_name;
  if (rest.size() == 1)
    rest[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(rest[0])));
  return "PePR-" + rest;
}

std::optional<int> parse_flag(std::string_view cell) {
  std::string s(cell);
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (s == "1" || s == "1.0" || s == "true" || s == "yes") return 1;
  if (s == "0" || s == "0.0" || s == "false" || s == "no") return 0;
  return std::nullopt;
}

}  // namespace

std::size_t ReportData::experiment_index(const std::string& name) const {
  for (std::size_t i = 0; i < experiments.size(); ++i)
    if (experiments[i].name == name) return i;
  return static_cast<std::size_t>(-1);
}

std::vector<std::string> default_resources(const Table& t, const std::string& group_by) {
  std::vector<std::string> out{"energy"};
  if (t.find_column("co2") || t.find_column("co2_g")) out.push_back("co2");
  if (t.find_column("memory") || t.find_column("mem_peak_gb"))
    out.push_back("memory");
  else if (t.find_column("memR"))
    out.push_back("memory=memR");
  if (t.find_column("time") || t.find_column("time_s"))
    out.push_back("time");
  else if (t.find_column("train_time"))
    out.push_back("time=train_time");
  if (!group_by.empty() && (t.find_column("data") || t.find_column("train_samples")) &&
      t.find_column(group_by)) {
    Grouping g = group_rows(t, group_by);
    if (data_fraction_groups(g).names.size() < g.names.size()) out.push_back("data");
  }
  return out;
}

std::string ReportData::norm_text(const ScoreSeries& s) const {
  const std::string& x = s.symbol;
  std::string scope =
      group_by.empty() ? "over the whole table" : "within each experiment ('" + group_by + "')";
  if (!s.merged.empty()) scope = "within each dataset across its data fractions (" + s.merged + ")";
  switch (norm.kind) {
    case Normalization::Kind::MinMax:
      return fmt::format(
          "{}: R = ({x} - {x}_min) / ({x}_max - {x}_min) {} (min-max, the convention of the "
          "authors' released scores; the paper's printed Table 1 uses R = {x} / {x}_max: "
          "--norm zero)",
          s.name, scope, fmt::arg("x", x));
    case Normalization::Kind::Zero:
      return fmt::format(
          "{}: R = {x} / {x}_max {} (the convention of the paper's printed Table 1; the authors' "
          "released scores use min-max: --norm minmax)",
          s.name, scope, fmt::arg("x", x));
    case Normalization::Kind::Fixed:
      break;
  }
  return fmt::format("{}: R = ({x} - {lo}) / ({hi} - {lo}), fixed bounds{}", s.name,
                     norm.clip ? " (values outside clamped)" : "", fmt::arg("x", x),
                     fmt::arg("lo", format_number(norm.lo)),
                     fmt::arg("hi", format_number(norm.hi)));
}

std::vector<double> ReportData::joint_score(const ScoreSeries& s,
                                            const ExperimentPair& pair) const {
  std::vector<std::size_t> rows;
  for (const auto* name : {&pair.a, &pair.b}) {
    const auto& e = experiments.at(experiment_index(*name));
    rows.insert(rows.end(), e.rows.begin(), e.rows.end());
  }
  std::vector<double> raw;
  for (std::size_t r : rows) raw.push_back(s.raw[r]);
  std::vector<double> r_norm = normalize(raw, std::vector<std::size_t>(raw.size(), 0), 1, norm);
  std::vector<double> out(ids.size(), kNaN);
  for (std::size_t k = 0; k < rows.size(); ++k)
    out[rows[k]] = pepr_score(performance[rows[k]], r_norm[k], alpha);
  return out;
}

std::string ReportData::norm_label() const {
  const std::string scope = group_by.empty() ? "over the whole table" : "within each experiment";
  switch (norm.kind) {
    case Normalization::Kind::MinMax:
      return "min-max " + scope;
    case Normalization::Kind::Zero:
      return "R = x / x_max " + scope + " (the paper's printed Table 1)";
    case Normalization::Kind::Fixed:
      break;
  }
  return fmt::format("fixed bounds [{}, {}]", format_number(norm.lo), format_number(norm.hi));
}

std::string ReportData::norm_text() const {
  std::string out;
  for (const auto& s : scores) out += (out.empty() ? "" : "; ") + norm_text(s);
  return out;
}

std::string ReportData::small_text() const {
  if (size_split.mode == SizeSplit::Mode::Median)
    return "at most the experiment's median parameter count";
  if (size_split.threshold == SizeSplit::kPaperThreshold)
    return "fewer than 24.6M parameters (the paper's split)";
  return fmt::format("fewer than {:.4g}M parameters", size_split.threshold / 1e6);
}

namespace {

// Image sizes (pepr collect's image_px): models of one experiment that saw different sizes
// (`image_size = auto` upsamples for models that need more than the data's size) did not spend
// their resources on the same pixels; a note says so.
void note_image_sizes(const Table& table, ReportData& d) {
  if (auto ic = table.find_column("image_px"))
    for (const auto& e : d.experiments) {
      std::set<double> sizes;
      for (std::size_t r : e.rows)
        if (auto v = parse_number(table.cell(r, *ic)); v && *v > 0) sizes.insert(*v);
      if (sizes.size() > 1)
        d.notes.push_back(fmt::format(
            "{}: the models saw different image sizes, {} to {} px (column image_px; "
            "image_size = auto gives a model that needs more than the data's size the smallest "
            "it accepts): their resources include the larger inputs",
            e.name, format_number(*sizes.begin()), format_number(*sizes.rbegin())));
    }
}

}  // namespace

ReportData prepare_data(const Table& table, const ReportOptions& o) {
  if (table.num_rows() == 0) throw Error(fmt::format("{}: no data rows", table.source()));
  ReportData d;
  d.source = table.source();
  d.group_by = o.score.group_by;
  d.norm = o.score.norm;
  d.alpha = o.score.alpha;
  d.size_split = o.size_split;

  // Model names.
  std::optional<std::size_t> idcol;
  if (!o.id_column.empty()) {
    idcol = table.require_column(o.id_column);
  } else if (auto c = table.find_column("model")) {
    idcol = c;
  } else if (auto c2 = table.find_column("label")) {
    idcol = c2;
  } else {
    for (std::size_t c = 0; c < table.num_columns() && !idcol; ++c)
      if (!parse_number(table.cell(0, c)) && table.column_name(c) != o.score.group_by) idcol = c;
  }
  d.id_column = idcol ? table.column_name(*idcol) : "";
  for (std::size_t r = 0; r < table.num_rows(); ++r)
    d.ids.push_back(idcol ? std::string(table.cell(r, *idcol)) : fmt::format("row {}", r + 1));

  d.scored = score_table(table, o.score);
  d.performance = d.scored.performance;
  d.performance_label = o.score.performance.describe();
  d.performance_column = d.scored.performance_column;
  for (std::size_t i = 0; i < o.score.resources.size(); ++i) {
    ScoreSeries s;
    s.spec = o.score.resources[i];
    s.raw = table.numbers(table.require_column(s.spec.column));
    s.norm = d.scored.normalized[i];
    s.score = d.scored.scores[i];
    s.name = upper_first_letter(s.spec.score_name);
    s.resource = s.spec.column;
    s.symbol = "x";
    for (const auto& k : kKindText)
      if (s.spec.kind == k.kind) s.resource = k.resource, s.unit = k.unit, s.symbol = k.symbol;
    if (s.spec.kind == "data" && !o.score.group_by.empty()) {
      s.merged = merged_groups_text(d.scored.groups, d.scored.normalized_within[i]);
      if (s.merged.empty())
        d.notes.push_back(fmt::format(
            "{}: no experiment is a fraction of another's training data (names ending _small, "
            "_smallest or _f<F>), so R_data is 0 in every row and {} equals P",
            s.spec.column, upper_first_letter(s.spec.score_name)));
    }
    d.scores.push_back(std::move(s));
  }
  for (std::size_t i = 0; i < d.scores.size(); ++i)
    if (d.scores[i].spec.kind == "energy") {
      d.primary = i;
      break;
    }
  Caveats caveats = score_caveats(d.scored, o.score);
  if (caveats.any_row()) d.caveats = std::move(caveats.per_row);
  d.caveat_notes = caveats.notes;
  d.notes.insert(d.notes.end(), caveats.notes.begin(), caveats.notes.end());

  // Parameters, type, efficient.
  if (!o.params_column.empty())
    d.params_column = table.column_name(table.require_column(o.params_column));
  else if (table.find_column("num_param"))
    d.params_column = "num_param";
  else if (table.find_column("params"))
    d.params_column = "params";
  if (!d.params_column.empty()) {
    std::size_t pc = table.require_column(d.params_column);
    std::size_t bad = 0;
    for (std::size_t r = 0; r < table.num_rows(); ++r) {
      auto v = parse_number(table.cell(r, pc));
      if (v && *v > 0) {
        d.params.push_back(*v);
      } else {
        d.params.push_back(kNaN);
        ++bad;
      }
    }
    if (bad == table.num_rows()) {
      d.notes.push_back(
          fmt::format("column '{}' has no positive parameter counts: the figures "
                      "over parameters are left out",
                      d.params_column));
      d.params_column.clear();
      d.params.clear();
    } else if (bad) {
      d.notes.push_back(
          fmt::format("{} rows without a positive '{}' are left out of the figures "
                      "over parameters and of the size split",
                      bad, d.params_column));
    }
  }
  if (auto tc = table.find_column("type"))
    for (std::size_t r = 0; r < table.num_rows(); ++r) d.type.emplace_back(table.cell(r, *tc));
  if (auto ec = table.find_column("efficient")) {
    for (std::size_t r = 0; r < table.num_rows(); ++r) {
      auto f = parse_flag(table.cell(r, *ec));
      if (!f) {
        d.notes.push_back(
            fmt::format("{}:{}: efficient '{}' is not 0/1: the efficient marking "
                        "is left out",
                        table.source_of(r), table.line_of(r), table.cell(r, *ec)));
        d.efficient.clear();
        break;
      }
      d.efficient.push_back(*f);
    }
  }

  // Experiments.
  const Grouping& g = d.scored.groups;
  d.experiments.resize(g.names.size());
  for (std::size_t i = 0; i < g.names.size(); ++i) d.experiments[i].name = g.names[i];
  for (std::size_t r = 0; r < table.num_rows(); ++r) d.experiments[g.group_of[r]].rows.push_back(r);
  if (d.has_params()) {
    std::vector<std::vector<double>> per(d.experiments.size());
    for (std::size_t i = 0; i < d.experiments.size(); ++i)
      for (std::size_t r : d.experiments[i].rows) per[i].push_back(d.params[r]);
    d.size_split = d.size_split.resolved(per);
    if (d.size_split.fell_back)
      d.notes.push_back(
          "size split: some experiment has fewer than two models on a side of the paper's 24.6M "
          "parameters, so small-scale means at most the experiment's median (--size-split paper "
          "or a count of your own to change it)");
  }
  note_image_sizes(table, d);
  // The paper's released train_time is not the run's time: its training script starts the clock
  // at the last epoch (pepr collect's train_time is the whole run, and its tables have run_id).
  for (auto& s : d.scores)
    if (s.spec.kind == "time" && s.spec.column == "train_time" && !table.find_column("run_id")) {
      s.note =
          "time: 'train_time' in the paper's released data is measured from the start of the "
          "last epoch (its training script), so it is about one epoch's time, not the run's; "
          "PePR-T ranks by it as the paper's Fig. 7 does";
      d.notes.push_back(s.note);
    }
  for (auto& e : d.experiments) {
    std::vector<double> p;
    if (d.has_params())
      for (std::size_t r : e.rows)
        if (!std::isnan(d.params[r])) p.push_back(d.params[r]);
    e.size_cut = p.empty() ? kNaN : d.size_split.cut(p);
  }
  if (!d.group_by.empty()) {
    d.pretrain_pairs = pretrained_scratch_pairs(g.names);
    d.fraction_pairs = data_fraction_pairs(g.names);
  }

  // Per-epoch performance columns for the PePR curves.
  const PerformanceSpec& ps = o.score.performance;
  std::string prefix;
  if (ps.mode != PerformanceSpec::Mode::Column) {
    prefix = ps.column;
  } else {
    std::size_t end = ps.column.size();
    while (end > 0 && std::isdigit(static_cast<unsigned char>(ps.column[end - 1]))) --end;
    if (end > 0 && end < ps.column.size()) prefix = ps.column.substr(0, end);
  }
  if (prefix.empty() || epoch_columns(table, prefix).size() < 2) prefix = "test_";
  auto cols = epoch_columns(table, prefix);
  d.performance_scale = ps.scale;
  if (cols.size() >= 2) {
    d.epoch_prefix = prefix;
    d.epoch_cols = cols;
  }
  return d;
}

}  // namespace pepr::report
