#include "core/score.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <numeric>
#include <unordered_map>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/error.hpp"

namespace pepr {

namespace {

struct KindInfo {
  const char* kind;
  const char* letter;      // the paper's letter, "" for none
  const char* own_column;  // pepr's unit-suffixed column
};

constexpr KindInfo kKinds[] = {
    {"energy", "e", "energy_kwh"}, {"co2", "c", "co2_g"},          {"memory", "m", "mem_peak_gb"},
    {"time", "t", "time_s"},       {"data", "d", "train_samples"}, {"params", "", "params"},
};

const KindInfo* find_kind(const std::string& k) {
  for (const auto& info : kKinds)
    if (k == info.kind) return &info;
  return nullptr;
}

std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

double parse_bound(const std::string& text, const std::string& whole) {
  if (auto v = parse_number(text)) return *v;
  throw Error(fmt::format("normalisation '{}': '{}' is not a number", whole, text));
}

}  // namespace

std::vector<std::string> resource_kinds() {
  std::vector<std::string> out;
  for (const auto& k : kKinds) out.emplace_back(k.kind);
  return out;
}

Normalization Normalization::parse(const std::string& text) {
  Normalization n;
  if (text == "minmax") return n;
  if (text == "zero") {
    n.kind = Kind::Zero;
    return n;
  }
  if (text.rfind("fixed:", 0) == 0) {
    std::string rest = text.substr(6);
    auto comma = rest.find(',');
    if (comma == std::string::npos)
      throw Error(fmt::format("normalisation '{}': expected fixed:LO,HI", text));
    n.kind = Kind::Fixed;
    n.lo = parse_bound(rest.substr(0, comma), text);
    n.hi = parse_bound(rest.substr(comma + 1), text);
    if (!(n.hi > n.lo))
      throw Error(fmt::format("normalisation '{}': HI must be greater than LO", text));
    return n;
  }
  throw Error(fmt::format("normalisation '{}': expected minmax, zero or fixed:LO,HI", text));
}

std::string Normalization::describe() const {
  switch (kind) {
    case Kind::MinMax:
      return "minmax";
    case Kind::Zero:
      return "zero";
    case Kind::Fixed:
      return fmt::format("fixed:{},{}{}", format_number(lo), format_number(hi),
                         clip ? " (clipped)" : "");
  }
  return "?";
}

std::vector<double> normalize(const std::vector<double>& values,
                              const std::vector<std::size_t>& group_of, std::size_t num_groups,
                              const Normalization& norm) {
  std::vector<double> lo(num_groups, std::numeric_limits<double>::infinity());
  std::vector<double> hi(num_groups, -std::numeric_limits<double>::infinity());
  for (std::size_t i = 0; i < values.size(); ++i) {
    std::size_t g = group_of[i];
    lo[g] = std::min(lo[g], values[i]);
    hi[g] = std::max(hi[g], values[i]);
  }
  std::vector<double> out(values.size());
  for (std::size_t i = 0; i < values.size(); ++i) {
    std::size_t g = group_of[i];
    double v = values[i];
    double r = 0;
    switch (norm.kind) {
      case Normalization::Kind::MinMax:
        r = hi[g] == lo[g] ? 0.0 : (v - lo[g]) / (hi[g] - lo[g]);
        break;
      case Normalization::Kind::Zero:
        if (v < 0) throw Error("zero normalisation needs non-negative resource values");
        r = hi[g] == 0 ? 0.0 : v / hi[g];  // R_min is 0 by definition
        break;
      case Normalization::Kind::Fixed:
        if (v < norm.lo || v > norm.hi) {
          if (!norm.clip)
            throw Error(fmt::format("resource value {} lies outside the fixed bounds [{}, {}]",
                                    format_number(v), format_number(norm.lo),
                                    format_number(norm.hi)));
          v = std::clamp(v, norm.lo, norm.hi);
        }
        r = (v - norm.lo) / (norm.hi - norm.lo);
        break;
    }
    out[i] = r;
  }
  return out;
}

ResourceSpec ResourceSpec::parse(const std::string& text, const Table& table) {
  ResourceSpec s;
  auto eq = text.find('=');
  if (eq != std::string::npos) {
    s.kind = text.substr(0, eq);
    s.column = text.substr(eq + 1);
    if (s.kind.empty() || s.column.empty())
      throw Error(fmt::format("resource '{}': expected KIND=COLUMN", text));
    table.require_column(s.column);
  } else {
    s.kind = text;
    if (table.find_column(text)) {
      s.column = text;
    } else if (const KindInfo* info = find_kind(text)) {
      if (!table.find_column(info->own_column))
        throw Error(
            fmt::format("{}: resource '{}': no column '{}' or '{}'; name the column as "
                        "{}=COLUMN",
                        table.source(), text, text, info->own_column, text));
      s.column = info->own_column;
    } else {
      table.require_column(text);  // throws, listing the columns
    }
  }
  const KindInfo* info = find_kind(s.kind);
  if (info && *info->letter) {
    s.norm_name = upper(info->letter) + "_n";
    s.score_name = std::string("pepr_") + info->letter;
  } else {
    s.norm_name = s.column + "_n";
    s.score_name = "pepr_" + s.column;
  }
  return s;
}

PerformanceSpec PerformanceSpec::parse(const std::string& text) {
  PerformanceSpec p;
  if (text.rfind("last:", 0) == 0) {
    p.mode = Mode::Last;
    p.column = text.substr(5);
  } else if (text.rfind("best:", 0) == 0) {
    p.mode = Mode::Best;
    p.column = text.substr(5);
  } else {
    p.column = text;
  }
  if (p.column.empty()) throw Error(fmt::format("performance '{}': empty column name", text));
  return p;
}

std::string PerformanceSpec::describe() const {
  std::string s = mode == Mode::Column ? column
                  : mode == Mode::Last ? "last " + column + "*"
                                       : "best " + column + "*";
  if (scale != 1.0) s += fmt::format(" x {}", format_number(scale));
  return s;
}

std::vector<std::size_t> epoch_columns(const Table& table, const std::string& prefix) {
  std::vector<std::pair<long, std::size_t>> found;
  for (std::size_t c = 0; c < table.num_columns(); ++c) {
    const std::string& name = table.column_name(c);
    if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) continue;
    long n = 0;
    const char* b = name.data() + prefix.size();
    const char* e = name.data() + name.size();
    auto [ptr, ec] = std::from_chars(b, e, n);
    if (ec == std::errc() && ptr == e) found.emplace_back(n, c);
  }
  std::sort(found.begin(), found.end());
  std::vector<std::size_t> out;
  for (auto& f : found) out.push_back(f.second);
  return out;
}

std::vector<double> performance_values(const Table& table, const PerformanceSpec& spec) {
  const std::size_t n = table.num_rows();
  std::vector<double> p(n);
  std::vector<std::size_t> cols;
  if (spec.mode == PerformanceSpec::Mode::Column) {
    cols.push_back(table.require_column(spec.column));
  } else {
    cols = epoch_columns(table, spec.column);
    if (cols.empty())
      throw Error(fmt::format("{}: no per-epoch columns named {}<N> (e.g. {}00)", table.source(),
                              spec.column, spec.column));
  }
  for (std::size_t r = 0; r < n; ++r) {
    double v = std::numeric_limits<double>::quiet_NaN();
    std::size_t at = cols[0];
    for (std::size_t c : cols) {
      if (spec.mode != PerformanceSpec::Mode::Column && table.is_missing(r, c)) continue;
      double x = table.number(r, c) * spec.scale;
      if (spec.mode == PerformanceSpec::Mode::Best) {
        if (std::isnan(v) || x > v) v = x, at = c;
      } else {
        v = x, at = c;
      }
    }
    if (std::isnan(v))
      throw ParseError(table.source_of(r), table.line_of(r), table.column_name(cols.back()),
                       "no performance value in any per-epoch column");
    if (v < 0 || v > 1)
      throw ParseError(table.source_of(r), table.line_of(r), table.column_name(at),
                       fmt::format("performance {} is outside [0, 1]{}", format_number(v),
                                   spec.scale == 1.0 ? "; for percentages scale it by 0.01" : ""));
    p[r] = v;
  }
  return p;
}

Grouping group_rows(const Table& table, const std::string& column) {
  Grouping g;
  g.group_of.assign(table.num_rows(), 0);
  if (column.empty()) {
    g.names.push_back("all");
    return g;
  }
  g.column = table.require_column(column);
  std::unordered_map<std::string_view, std::size_t> index;
  for (std::size_t r = 0; r < table.num_rows(); ++r) {
    std::string_view key = table.cell(r, g.column);
    auto [it, inserted] = index.try_emplace(key, g.names.size());
    if (inserted) g.names.emplace_back(key);
    g.group_of[r] = it->second;
  }
  return g;
}

std::string full_data_experiment(const std::string& name, const std::vector<std::string>& names) {
  auto ends_with = [&](const std::string& suffix) {
    return name.size() > suffix.size() &&
           name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  std::string base;
  if (ends_with("_smallest"))
    base = name.substr(0, name.size() - 9);
  else if (ends_with("_small"))
    base = name.substr(0, name.size() - 6);
  else if (auto f = name.rfind("_f"); f != std::string::npos && f > 0 && f + 2 < name.size() &&
                                      parse_number(std::string_view(name).substr(f + 2)))
    base = name.substr(0, f);
  else
    return name;
  if (std::find(names.begin(), names.end(), base + "_pt") != names.end()) return base + "_pt";
  return base;
}

Grouping data_fraction_groups(const Grouping& e) {
  Grouping out;
  out.column = e.column;
  std::vector<std::size_t> merged(e.names.size());
  for (std::size_t i = 0; i < e.names.size(); ++i) {
    const std::string full = full_data_experiment(e.names[i], e.names);
    auto it = std::find(out.names.begin(), out.names.end(), full);
    merged[i] = static_cast<std::size_t>(it - out.names.begin());
    if (it == out.names.end()) out.names.push_back(full);
  }
  for (std::size_t g : e.group_of) out.group_of.push_back(merged[g]);
  return out;
}

std::string merged_groups_text(const Grouping& e, const Grouping& within) {
  std::vector<std::vector<std::string>> members(within.names.size());
  std::vector<bool> seen(e.names.size(), false);
  for (std::size_t r = 0; r < e.group_of.size(); ++r)
    if (!seen[e.group_of[r]]) {
      seen[e.group_of[r]] = true;
      members[within.group_of[r]].push_back(e.names[e.group_of[r]]);
    }
  std::string out;
  for (std::size_t g = 0; g < within.names.size(); ++g)
    if (members[g].size() > 1)
      out += fmt::format("{}{}: {}", out.empty() ? "" : "; ", within.names[g],
                         fmt::join(members[g], ", "));
  return out;
}

ScoreResult score_table(Table table, const ScoreOptions& options) {
  if (options.resources.empty()) throw Error("no resource given: nothing to score by");
  if (!(options.alpha >= 1.0))
    throw Error(fmt::format("alpha must be >= 1, got {}", format_number(options.alpha)));
  if (table.num_rows() == 0) throw Error(fmt::format("{}: no data rows", table.source()));
  ScoreResult res;
  res.groups = group_rows(table, options.group_by);
  res.performance = performance_values(table, options.performance);
  for (const auto& spec : options.resources) {
    std::size_t col = table.require_column(spec.column);
    std::vector<double> raw = table.numbers(col);
    if (options.norm.kind == Normalization::Kind::Fixed && !options.norm.clip)
      for (std::size_t r = 0; r < raw.size(); ++r)
        if (raw[r] < options.norm.lo || raw[r] > options.norm.hi)
          throw ParseError(
              table.source_of(r), table.line_of(r), spec.column,
              fmt::format("{} lies outside the fixed bounds [{}, {}]; clip to clamp it",
                          format_number(raw[r]), format_number(options.norm.lo),
                          format_number(options.norm.hi)));
    if (!options.allow_negative)
      for (std::size_t r = 0; r < raw.size(); ++r)
        if (raw[r] < 0)
          throw ParseError(table.source_of(r), table.line_of(r), spec.column,
                           fmt::format("negative resource value {} (a cost is >= 0; "
                                       "allow_negative scores it anyway)",
                                       format_number(raw[r])));
    if (options.norm.kind == Normalization::Kind::Zero)
      for (std::size_t r = 0; r < raw.size(); ++r)
        if (raw[r] < 0)
          throw ParseError(table.source_of(r), table.line_of(r), spec.column,
                           "negative resource value; zero normalisation needs values >= 0");
    Grouping within = spec.kind == "data" && !options.group_by.empty()
                          ? data_fraction_groups(res.groups)
                          : res.groups;
    std::vector<double> norm = normalize(raw, within.group_of, within.names.size(), options.norm);
    res.normalized_within.push_back(std::move(within));
    std::vector<double> score(raw.size());
    for (std::size_t r = 0; r < raw.size(); ++r)
      score[r] = pepr_score(res.performance[r], norm[r], options.alpha);
    res.normalized.push_back(std::move(norm));
    res.scores.push_back(std::move(score));
  }
  // Output columns: P when it is not a plain input column, then per resource R_n and the score.
  if (options.performance.mode == PerformanceSpec::Mode::Column && options.performance.scale == 1)
    res.performance_column = options.performance.column;
  else {
    res.performance_column = "P";
    if (!table.find_column("P")) table.add_column("P", res.performance);
  }
  for (std::size_t i = 0; i < options.resources.size(); ++i) {
    const auto& spec = options.resources[i];
    if (table.find_column(spec.norm_name) || table.find_column(spec.score_name))
      throw Error(
          fmt::format("{}: output column '{}' or '{}' already exists in the input (was "
                      "the same resource given twice?)",
                      table.source(), spec.norm_name, spec.score_name));
    table.add_column(spec.norm_name, res.normalized[i]);
    table.add_column(spec.score_name, res.scores[i]);
  }
  res.table = std::move(table);
  return res;
}

std::vector<std::size_t> rank_rows(const std::vector<double>& key, const Grouping& groups,
                                   std::size_t top) {
  std::vector<std::size_t> order(key.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    if (groups.group_of[a] != groups.group_of[b]) return groups.group_of[a] < groups.group_of[b];
    return key[a] > key[b];
  });
  if (top == 0) return order;
  std::vector<std::size_t> out;
  std::vector<std::size_t> taken(groups.names.size(), 0);
  for (std::size_t r : order)
    if (taken[groups.group_of[r]]++ < top) out.push_back(r);
  return out;
}

std::string chance_level_note(double accuracy, double chance) {
  return fmt::format(
      "test accuracy {:.4f} is at chance level ({:.4f}: always answering the largest class); "
      "this model learnt nothing usable, so its PePR ranks nothing (train longer, on more data, "
      "or check the labels)",
      accuracy, chance);
}

}  // namespace pepr
