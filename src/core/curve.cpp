#include "core/curve.hpp"

#include <algorithm>
#include <map>
#include <numeric>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/format.hpp"

namespace pepr {

CurveMax curve_maximum(const std::vector<double>& r_norm, const std::vector<double>& performance,
                       double alpha) {
  if (performance.empty()) throw Error("a PePR curve needs at least one point");
  CurveMax m;
  m.p_star = pepr_score(performance[0], r_norm[0], alpha);
  for (std::size_t i = 1; i < performance.size(); ++i) {
    double s = pepr_score(performance[i], r_norm[i], alpha);
    if (s > m.p_star || (s == m.p_star && r_norm[i] < r_norm[m.index])) {
      m.p_star = s;
      m.index = i;
    }
  }
  return m;
}

namespace {

struct Point {
  std::size_t curve;
  double epoch;
  double resource;
  double performance;
  std::size_t row;  // source row
};

}  // namespace

CurveResult pepr_curves(const Table& table, const CurveOptions& o) {
  if (table.num_rows() == 0) throw Error(fmt::format("{}: no data rows", table.source()));
  ResourceSpec res = ResourceSpec::parse(o.resource, table);
  const std::size_t rcol = table.require_column(res.column);
  const std::size_t idcol = table.require_column(o.id);
  Grouping groups = group_rows(table, o.group_by);

  std::vector<Point> points;
  std::vector<std::pair<std::size_t, std::string>> curves;  // (group, id)
  std::map<std::pair<std::size_t, std::string>, std::size_t> curve_index;
  auto curve_of = [&](std::size_t row) {
    auto key = std::make_pair(groups.group_of[row], std::string(table.cell(row, idcol)));
    auto [it, inserted] = curve_index.try_emplace(key, curves.size());
    if (inserted) curves.push_back(key);
    return it->second;
  };

  CurveResult out;
  if (o.wide) {
    auto cols = epoch_columns(table, o.performance.column);
    if (cols.empty())
      throw Error(fmt::format("{}: no per-epoch columns named {}<N>", table.source(),
                              o.performance.column));
    const double k_total = static_cast<double>(cols.size());
    for (std::size_t r = 0; r < table.num_rows(); ++r) {
      std::size_t c = curve_of(r);
      double total = table.number(r, rcol);
      for (std::size_t k = 0; k < cols.size(); ++k) {
        if (table.is_missing(r, cols[k])) continue;
        double p = table.number(r, cols[k]) * o.performance.scale;
        if (p < 0 || p > 1)
          throw ParseError(table.source_of(r), table.line_of(r), table.column_name(cols[k]),
                           fmt::format("performance {} is outside [0, 1]", format_number(p)));
        points.push_back(
            {c, static_cast<double>(k), total * static_cast<double>(k + 1) / k_total, p, r});
      }
    }
    out.notes.push_back(
        fmt::format("assumption: each row's total {} ('{}') is spread evenly over its {}", res.kind,
                    res.column, plural(static_cast<long long>(cols.size()), "epoch")));
  } else {
    PerformanceSpec perf = o.performance;
    perf.mode = PerformanceSpec::Mode::Column;
    std::vector<double> p = performance_values(table, perf);
    std::optional<std::size_t> ecol;
    if (!o.epoch.empty()) ecol = table.require_column(o.epoch);
    for (std::size_t r = 0; r < table.num_rows(); ++r) {
      std::size_t c = curve_of(r);
      double epoch = ecol ? table.number(r, *ecol) : static_cast<double>(r);
      points.push_back({c, epoch, table.number(r, rcol), p[r], r});
    }
    out.notes.push_back(
        fmt::format("'{}' is taken as the cumulative {} at each point", res.column, res.kind));
  }
  // Points of each curve in epoch order (then resource order).
  std::stable_sort(points.begin(), points.end(), [](const Point& a, const Point& b) {
    if (a.curve != b.curve) return a.curve < b.curve;
    if (a.epoch != b.epoch) return a.epoch < b.epoch;
    return a.resource < b.resource;
  });
  std::vector<double> raw(points.size());
  std::vector<std::size_t> group_of(points.size());
  for (std::size_t i = 0; i < points.size(); ++i) {
    raw[i] = points[i].resource;
    group_of[i] = curves[points[i].curve].first;
    if (raw[i] < 0 && o.norm.kind == Normalization::Kind::Zero)
      throw ParseError(table.source_of(points[i].row), table.line_of(points[i].row), res.column,
                       "negative cumulative resource");
  }
  std::vector<double> rn = normalize(raw, group_of, groups.names.size(), o.norm);
  out.notes.push_back(fmt::format("R normalised over all points of each {} ({})",
                                  o.group_by.empty() ? "table" : "'" + o.group_by + "' group",
                                  o.norm.describe()));

  std::vector<std::string> sum_cols;
  if (!o.group_by.empty()) sum_cols.push_back(o.group_by);
  sum_cols.insert(sum_cols.end(), {o.id, "points", "P_final", "P_max", "P_star", "epoch_star",
                                   res.column + "_star", "R_n_star", "pepr_final"});
  out.summary = Table(sum_cols, table.source());
  std::vector<std::string> pt_cols;
  if (!o.group_by.empty()) pt_cols.push_back(o.group_by);
  pt_cols.insert(pt_cols.end(), {o.id, "epoch", res.column, "R_n", "P", "pepr", "is_star"});
  out.points = Table(pt_cols, table.source());

  for (std::size_t i = 0; i < points.size();) {
    std::size_t j = i;
    while (j < points.size() && points[j].curve == points[i].curve) ++j;
    std::vector<double> r(rn.begin() + static_cast<long>(i), rn.begin() + static_cast<long>(j));
    std::vector<double> p;
    for (std::size_t k = i; k < j; ++k) p.push_back(points[k].performance);
    CurveMax m = curve_maximum(r, p, o.alpha);
    const auto& [g, id] = curves[points[i].curve];
    std::vector<std::string> row;
    if (!o.group_by.empty()) row.push_back(groups.names[g]);
    row.insert(row.end(), {id, std::to_string(j - i), format_number(p.back()),
                           format_number(*std::max_element(p.begin(), p.end())),
                           format_number(m.p_star), format_number(points[i + m.index].epoch),
                           format_number(points[i + m.index].resource), format_number(r[m.index]),
                           format_number(pepr_score(p.back(), r.back(), o.alpha))});
    out.summary.add_row(row);
    for (std::size_t k = i; k < j; ++k) {
      std::vector<std::string> pr;
      if (!o.group_by.empty()) pr.push_back(groups.names[g]);
      pr.insert(pr.end(), {id, format_number(points[k].epoch), format_number(points[k].resource),
                           format_number(rn[k]), format_number(points[k].performance),
                           format_number(pepr_score(points[k].performance, rn[k], o.alpha)),
                           k - i == m.index ? "1" : "0"});
      out.points.add_row(pr);
    }
    i = j;
  }
  return out;
}

}  // namespace pepr
