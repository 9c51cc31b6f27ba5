#include "core/comparisons.hpp"

#include <algorithm>
#include <cmath>
#include <map>

#include <fmt/format.h>

#include "core/error.hpp"

namespace pepr {

namespace {

std::string params_column(const Table& t, const ComparisonOptions& o) {
  if (!o.params_column.empty()) return o.params_column;
  if (t.find_column("num_param")) return "num_param";
  if (t.find_column("params")) return "params";
  return {};
}

std::string millions(double v) {
  return fmt::format("{:.4g}M", v / 1e6);
}

}  // namespace

SizeSplit SizeSplit::parse(const std::string& text) {
  SizeSplit s;
  if (text == "auto") return s;
  s.mode = Mode::Threshold;
  if (text == "paper") return s;
  if (text == "median") {
    s.mode = Mode::Median;
    return s;
  }
  auto v = parse_number(text);
  if (!v || !(*v > 0) || !std::isfinite(*v))
    throw Error(
        fmt::format("size split '{}': expected auto, paper (24.6e6 parameters, the paper's "
                    "split), median (each group's median) or a positive parameter "
                    "count such as 10e6",
                    text));
  s.threshold = *v;
  return s;
}

SizeSplit SizeSplit::resolved(const std::vector<std::vector<double>>& groups) const {
  if (mode != Mode::Auto) return *this;
  SizeSplit s = *this;
  s.mode = Mode::Threshold;
  for (const auto& g : groups) {
    std::size_t small = 0, large = 0;
    for (double v : g)
      if (!std::isnan(v)) (v < kPaperThreshold ? small : large) += 1;
    if (small < 2 || large < 2) {
      s.mode = Mode::Median;
      s.fell_back = true;
    }
  }
  return s;
}

double SizeSplit::cut(const std::vector<double>& params) const {
  if (mode == Mode::Threshold) return threshold;
  std::vector<double> p;
  for (double v : params)
    if (!std::isnan(v)) p.push_back(v);
  return p.empty() ? std::nan("") : median(p);
}

std::string SizeSplit::label(double c) const {
  return (mode == Mode::Median ? "<= " : "< ") + millions(c);
}

std::string SizeSplit::describe() const {
  if (mode == Mode::Median)
    return fell_back ? "small: at most the median parameter count of the group's own models "
                       "(some group has fewer than two models on a side of the paper's 24.6M)"
                     : "small: at most the median parameter count of the group's own models";
  if (threshold == kPaperThreshold)
    return "small: fewer than 24.6M parameters (the paper's split, the median of its 131 models)";
  return fmt::format("small: fewer than {} parameters", millions(threshold));
}

std::vector<Comparison> run_comparisons(const Table& table, const Grouping& groups,
                                        const ComparisonOptions& o) {
  const std::size_t vcol = table.require_column(o.value);
  std::vector<std::string> splits = o.splits;
  if (splits.empty() && o.experiments.empty()) {
    if (!params_column(table, o).empty()) splits.push_back("size");
    if (table.find_column("type")) splits.push_back("type");
    if (table.find_column("efficient")) splits.push_back("efficient");
    if (splits.empty())
      throw Error(
          fmt::format("{}: nothing to compare: no num_param/params, type or efficient "
                      "column; give a split or experiment pairs",
                      table.source()));
  }
  std::vector<Comparison> out;
  SizeSplit size_split = o.size_split;
  if (std::find(splits.begin(), splits.end(), "size") != splits.end() &&
      !params_column(table, o).empty()) {
    std::size_t pcol = table.require_column(params_column(table, o));
    std::vector<std::vector<double>> per_group(groups.names.size());
    for (std::size_t r = 0; r < table.num_rows(); ++r)
      per_group[groups.group_of[r]].push_back(table.number(r, pcol));
    size_split = o.size_split.resolved(per_group);
  }
  for (std::size_t g = 0; g < groups.names.size(); ++g) {
    std::vector<std::size_t> rows;
    for (std::size_t r = 0; r < table.num_rows(); ++r)
      if (groups.group_of[r] == g) rows.push_back(r);
    for (const auto& split : splits) {
      std::vector<double> a, b;
      std::string la, lb;
      if (split == "size") {
        std::string pc = params_column(table, o);
        if (pc.empty())
          throw Error(
              fmt::format("{}: the size split needs a num_param or params column (or "
                          "name the parameter column)",
                          table.source()));
        std::size_t pcol = table.require_column(pc);
        std::vector<double> params;
        for (std::size_t r : rows) params.push_back(table.number(r, pcol));
        const double cut = size_split.cut(params);
        for (std::size_t i = 0; i < rows.size(); ++i)
          (size_split.is_small(params[i], cut) ? a : b).push_back(table.number(rows[i], vcol));
        la = "small (" + size_split.label(cut) + ")";
        lb = "large";
      } else if (split == "type" || split == "efficient") {
        std::size_t col = table.require_column(split);
        std::map<std::string, std::vector<double>> by;
        for (std::size_t r : rows)
          by[std::string(table.cell(r, col))].push_back(table.number(r, vcol));
        if (by.size() != 2)
          throw Error(
              fmt::format("{}: the '{}' split needs exactly two values in column '{}', "
                          "found {}",
                          table.source(), split, split, by.size()));
        // Efficient 1 first, CNN first: the paper's order.
        auto first = by.begin(), second = std::next(by.begin());
        if (split == "efficient") std::swap(first, second);
        la = split + "=" + first->first;
        lb = split + "=" + second->first;
        a = first->second;
        b = second->second;
      } else {
        throw Error(fmt::format("unknown split '{}' (expected size, type or efficient)", split));
      }
      Comparison c = compare_groups(split, la, a, lb, b);
      c.group = groups.names[g];
      c.value = o.value;
      out.push_back(std::move(c));
    }
  }
  for (const auto& [ea, eb] : o.experiments) {
    if (groups.column == static_cast<std::size_t>(-1))
      throw Error(
          "experiment pairs need a grouping column (the column holding the experiment names)");
    const std::size_t idcol = table.require_column(o.id);
    std::map<std::string, double> va, vb;
    for (std::size_t r = 0; r < table.num_rows(); ++r) {
      std::string_view g = table.cell(r, groups.column);
      if (g == ea) va[std::string(table.cell(r, idcol))] = table.number(r, vcol);
      if (g == eb) vb[std::string(table.cell(r, idcol))] = table.number(r, vcol);
    }
    for (const auto& e : {ea, eb})
      if (std::find(groups.names.begin(), groups.names.end(), e) == groups.names.end())
        throw Error(fmt::format("{}: no group '{}' in column '{}'", table.source(), e,
                                table.column_name(groups.column)));
    std::vector<double> a, b, pa, pb;
    for (const auto& [k, v] : va) a.push_back(v);
    for (const auto& [k, v] : vb) b.push_back(v);
    for (const auto& [k, v] : va)
      if (auto it = vb.find(k); it != vb.end()) pa.push_back(v), pb.push_back(it->second);
    Comparison c = compare_groups("experiments", ea, a, eb, b);
    c.group = ea + " vs " + eb;
    c.value = o.value;
    if (pa.size() >= 2) {
      c.paired = true;
      c.n_paired = pa.size();
      c.paired_t = paired_t_test(pa, pb);
    }
    out.push_back(std::move(c));
  }
  return out;
}

Table comparisons_table(const std::vector<Comparison>& cs) {
  Table t(
      {"group",   "comparison",    "value",         "a",        "n_a",       "median_a",  "mean_a",
       "b",       "n_b",           "median_b",      "mean_b",   "t_student", "p_student", "t_welch",
       "p_welch", "u_mannwhitney", "p_mannwhitney", "n_paired", "t_paired",  "p_paired"},
      "comparisons");
  for (const auto& c : cs) {
    t.add_row({c.group,
               c.name,
               c.value,
               c.label_a,
               std::to_string(c.n_a),
               format_number(c.median_a),
               format_number(c.mean_a),
               c.label_b,
               std::to_string(c.n_b),
               format_number(c.median_b),
               format_number(c.mean_b),
               format_number(c.student.t),
               format_number(c.student.p),
               format_number(c.welch.t),
               format_number(c.welch.p),
               format_number(c.mann_whitney.u),
               format_number(c.mann_whitney.p),
               c.paired ? std::to_string(c.n_paired) : "",
               c.paired ? format_number(c.paired_t.t) : "",
               c.paired ? format_number(c.paired_t.p) : ""});
  }
  return t;
}

}  // namespace pepr
