#include "core/robustness.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <boost/math/distributions/students_t.hpp>

#include "core/error.hpp"

namespace pepr {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

ResourceBounds relative_bounds(const std::vector<double>& v, const std::vector<double>& u) {
  ResourceBounds b;
  for (std::size_t i = 0; i < v.size(); ++i) {
    b.lo.push_back(v[i] / (1 + u[i]));
    b.hi.push_back(v[i] * (1 + u[i]));
  }
  return b;
}

// The grid intensity's per-run part adds to CO2eq's (meter/uncertainty.hpp's carbon-intensity).
constexpr double kIntensityPerRun = 0.10;

std::optional<ResourceBounds> per_run_bounds(const Table& t, const ResourceSpec& spec,
                                             const std::vector<double>& v) {
  const auto per_run = t.find_column("energy_error_per_run");
  if (!per_run) return std::nullopt;
  std::set<std::string> methods;
  if (const auto m = t.find_column("energy_method"))
    for (std::size_t r = 0; r < t.num_rows(); ++r) methods.emplace(t.cell(r, *m));
  if (methods.size() > 1) return std::nullopt;  // systematic errors differ between the rows
  std::vector<double> u;
  for (std::size_t r = 0; r < t.num_rows(); ++r) {
    const auto x = t.number_or_missing(r, *per_run);
    if (!x) return std::nullopt;
    u.push_back(*x + (spec.kind == "co2" ? kIntensityPerRun : 0.0));
  }
  ResourceBounds b = relative_bounds(v, u);
  b.basis = fmt::format(
      "each run's per-run error (energy_error_per_run{}); every run measured by {}, so the "
      "systematic part cancels in the normalisation",
      spec.kind == "co2" ? ", plus the grid intensity's 10 %" : "",
      methods.empty() ? "one method" : *methods.begin());
  return b;
}

std::optional<ResourceBounds> column_bounds(const Table& t, const ResourceSpec& spec,
                                            const std::vector<double>& v) {
  // COLUMN_lo/_hi, or pepr's unit-suffixed columns for the paper-named ones (energy, co2).
  std::string base = spec.column;
  if (!t.find_column(base + "_lo") && (spec.kind == "energy" || spec.kind == "co2"))
    base = spec.kind == "energy" ? "energy_kwh" : "co2_g";
  const auto lo = t.find_column(base + "_lo"), hi = t.find_column(base + "_hi");
  if (!lo || !hi) return std::nullopt;
  ResourceBounds b;
  for (std::size_t r = 0; r < t.num_rows(); ++r) {
    const auto l = t.number_or_missing(r, *lo), h = t.number_or_missing(r, *hi);
    if (!l || !h) return std::nullopt;
    b.lo.push_back(std::min(*l, v[r]));
    b.hi.push_back(std::max(*h, v[r]));
  }
  b.basis = fmt::format("{0}_lo and {0}_hi: the whole error, systematic part included", base);
  return b;
}

}  // namespace

std::optional<ResourceBounds> resource_bounds(const Table& table, const ResourceSpec& spec,
                                              const Normalization& norm,
                                              std::optional<double> relative) {
  const std::size_t col = table.require_column(spec.column);
  std::vector<double> v;
  for (std::size_t r = 0; r < table.num_rows(); ++r) v.push_back(table.number(r, col));
  if (relative) {
    if (!(*relative >= 0) || *relative > 10)
      throw Error(fmt::format("relative error {:g}: expected a number from 0 to 10", *relative));
    ResourceBounds b = relative_bounds(v, std::vector<double>(v.size(), *relative));
    b.basis = fmt::format("+-{:g} % of every row's {} (as given)", 100 * *relative, spec.column);
    return b;
  }
  if (spec.kind != "energy" && spec.kind != "co2") return std::nullopt;
  if (norm.kind != Normalization::Kind::Fixed)
    if (auto b = per_run_bounds(table, spec, v)) return b;
  return column_bounds(table, spec, v);
}

std::optional<ResourceBounds> measured_bounds(const Table& table, const ResourceSpec& spec) {
  const std::size_t col = table.require_column(spec.column);
  std::vector<double> v;
  for (std::size_t r = 0; r < table.num_rows(); ++r) v.push_back(table.number(r, col));
  return column_bounds(table, spec, v);
}

namespace {

// R of `e` given the group's min and max, under `norm` (clamped to [0, 1]).
double normalised(double e, double lo, double hi, const Normalization& norm) {
  double r = 0;
  switch (norm.kind) {
    case Normalization::Kind::MinMax:
      r = hi > lo ? (e - lo) / (hi - lo) : 0.0;
      break;
    case Normalization::Kind::Zero:
      r = hi > 0 ? e / hi : 0.0;
      break;
    case Normalization::Kind::Fixed:
      r = (e - norm.lo) / (norm.hi - norm.lo);
      break;
  }
  return std::clamp(r, 0.0, 1.0);
}

}  // namespace

namespace {

// The two smallest and two largest values of a group, so that the extremes of "every row but
// one" are known for each row in O(1): the whole computation stays linear in the rows.
struct Extremes {
  double min1 = kInf, min2 = kInf, max1 = -kInf, max2 = -kInf;
  std::size_t min_row = static_cast<std::size_t>(-1), max_row = static_cast<std::size_t>(-1);
  void add(double v, std::size_t row) {
    if (v < min1) {
      min2 = min1, min1 = v, min_row = row;
    } else if (v < min2) {
      min2 = v;
    }
    if (v > max1) {
      max2 = max1, max1 = v, max_row = row;
    } else if (v > max2) {
      max2 = v;
    }
  }
  double min_without(std::size_t row) const { return row == min_row ? min2 : min1; }
  double max_without(std::size_t row) const { return row == max_row ? max2 : max1; }
};

}  // namespace

ScoreBounds pepr_bounds(const std::vector<double>& performance, const ResourceBounds& b,
                        const Grouping& groups, const Normalization& norm, double alpha) {
  const std::size_t n = performance.size();
  ScoreBounds out{std::vector<double>(n), std::vector<double>(n)};
  std::vector<Extremes> lo(groups.names.size()), hi(groups.names.size());
  for (std::size_t j = 0; j < n; ++j) {
    lo[groups.group_of[j]].add(b.lo[j], j);
    hi[groups.group_of[j]].add(b.hi[j], j);
  }
  for (std::size_t i = 0; i < n; ++i) {
    const Extremes& l = lo[groups.group_of[i]];
    const Extremes& h = hi[groups.group_of[i]];
    const double others_min_lo = l.min_without(i), others_max_lo = l.max_without(i);
    const double others_min_hi = h.min_without(i), others_max_hi = h.max_without(i);
    // R grows with the row's own value and falls as the group's min and max grow: its highest
    // R has the row at its upper bound and the others at their lower ones, and conversely.
    const double r_hi = normalised(b.hi[i], std::min(b.hi[i], others_min_lo),
                                   std::max(b.hi[i], others_max_lo), norm);
    const double r_lo = normalised(b.lo[i], std::min(b.lo[i], others_min_hi),
                                   std::max(b.lo[i], others_max_hi), norm);
    out.lo[i] = pepr_score(performance[i], r_hi, alpha);
    out.hi[i] = pepr_score(performance[i], r_lo, alpha);
  }
  return out;
}

std::vector<GroupRobustness> ranking_robustness(const std::vector<double>& scores,
                                                const ScoreBounds& bounds, const Grouping& groups,
                                                std::size_t k) {
  std::vector<GroupRobustness> out;
  const auto order = rank_rows(scores, groups, 0);
  std::size_t at = 0;
  for (std::size_t g = 0; g < groups.names.size(); ++g) {
    std::vector<std::size_t> rows;
    while (at < order.size() && groups.group_of[order[at]] == g) rows.push_back(order[at++]);
    if (rows.empty()) continue;
    GroupRobustness r;
    r.group = groups.names[g];
    r.winner = rows.front();
    for (std::size_t i = 1; i < rows.size(); ++i)
      if (bounds.hi[rows[i]] >= bounds.lo[r.winner]) r.within_noise.push_back(rows[i]);
    r.top1_robust = r.within_noise.empty();
    r.k = std::min(std::max<std::size_t>(k, 1), rows.size());
    double top_lo = kInf, rest_hi = -kInf;
    for (std::size_t i = 0; i < rows.size(); ++i) {
      if (i < r.k)
        top_lo = std::min(top_lo, bounds.lo[rows[i]]);
      else
        rest_hi = std::max(rest_hi, bounds.hi[rows[i]]);
    }
    r.topk_robust = top_lo > rest_hi;
    out.push_back(std::move(r));
  }
  return out;
}

std::string robustness_sentence(const GroupRobustness& g, const std::vector<std::string>& names) {
  std::string s = g.group + ": ";
  if (g.top1_robust) {
    s += fmt::format("the top-1 ({}) is robust to the measurement error", names[g.winner]);
  } else {
    // The closest ones by score, at most kMostNamed of them: a sentence, not a table.
    constexpr std::size_t kMostNamed = 10;
    std::vector<std::string> near;
    for (std::size_t i = 0; i < g.within_noise.size() && i < kMostNamed; ++i)
      near.push_back(names[g.within_noise[i]]);
    const std::size_t n = g.within_noise.size();
    s += fmt::format("the top-1 ({}) is NOT robust: within the noise of {} {}: {}{}",
                     names[g.winner], n, n == 1 ? "other" : "others", fmt::join(near, ", "),
                     n > near.size() ? fmt::format(" and {} more", n - near.size()) : "");
  }
  if (g.k > 1) s += fmt::format("; the top {} is {}", g.k, g.topk_robust ? "robust" : "NOT robust");
  return s;
}

std::vector<SeedSpread> seed_spread(const std::vector<double>& values, const Grouping& groups,
                                    const std::vector<std::string>& keys) {
  std::map<std::pair<std::size_t, std::string>, std::vector<double>> by;
  std::vector<std::pair<std::size_t, std::string>> order;
  for (std::size_t i = 0; i < values.size(); ++i) {
    auto id = std::make_pair(groups.group_of[i], keys[i]);
    if (!by.count(id)) order.push_back(id);
    by[id].push_back(values[i]);
  }
  std::vector<SeedSpread> out;
  for (const auto& id : order) {
    const auto& v = by[id];
    SeedSpread s;
    s.group = groups.names[id.first];
    s.key = id.second;
    s.n = v.size();
    for (double x : v) s.mean += x / static_cast<double>(s.n);
    s.ci_lo = s.ci_hi = s.mean;
    if (s.n >= 2) {
      double ss = 0;
      for (double x : v) ss += (x - s.mean) * (x - s.mean);
      s.sd = std::sqrt(ss / static_cast<double>(s.n - 1));
      const boost::math::students_t t(static_cast<double>(s.n - 1));
      const double half = boost::math::quantile(boost::math::complement(t, 0.025)) * s.sd /
                          std::sqrt(static_cast<double>(s.n));
      s.ci_lo = s.mean - half;
      s.ci_hi = s.mean + half;
    }
    out.push_back(s);
  }
  return out;
}

std::vector<SeedRobustness> seed_robustness(const std::vector<SeedSpread>& spread) {
  std::vector<SeedRobustness> out;
  std::vector<std::string> groups;
  for (const auto& s : spread)
    if (std::find(groups.begin(), groups.end(), s.group) == groups.end()) groups.push_back(s.group);
  for (const auto& g : groups) {
    const SeedSpread* best = nullptr;
    for (const auto& s : spread)
      if (s.group == g && (!best || s.mean > best->mean)) best = &s;
    SeedRobustness r{g, best->key, true, {}};
    for (const auto& s : spread)
      if (s.group == g && &s != best && s.ci_hi >= best->ci_lo) r.overlapping.push_back(s.key);
    r.robust = r.overlapping.empty();
    out.push_back(std::move(r));
  }
  return out;
}

std::vector<std::string> seed_sentences(const std::vector<double>& scores, const Grouping& groups,
                                        const std::vector<std::string>& keys,
                                        const std::string& score_name) {
  const auto spread = seed_spread(scores, groups, keys);
  bool repeated = false;
  for (const auto& s : spread) repeated = repeated || s.n > 1;
  if (!repeated) return {};
  std::vector<std::string> out;
  for (const auto& r : seed_robustness(spread)) {
    const SeedSpread* best = nullptr;
    for (const auto& s : spread)
      if (s.group == r.group && s.key == r.best) best = &s;
    if (!best) continue;
    out.push_back(fmt::format(
        "{}: over the seeds, {} leads by mean {} {:.4f} (n {}, sd {:.4f}, 95 % interval "
        "{:.4f}-{:.4f}){}",
        r.group, r.best, score_name, best->mean, best->n, best->sd, best->ci_lo, best->ci_hi,
        r.robust ? ", robust to seed noise"
                 : fmt::format("; NOT robust to seed noise: {} overlap",
                               fmt::join(r.overlapping, ", "))));
  }
  return out;
}

}  // namespace pepr
