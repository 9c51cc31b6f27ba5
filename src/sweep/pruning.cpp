#include "sweep/pruning.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <numeric>

#include <fmt/format.h>

#include "core/score.hpp"

namespace pepr::sweep {

Interval energy_interval(const PruneState& s, std::size_t i) {
  const PruneRun& r = s.runs[i];
  const double u = std::max(0.0, r.energy_error);  // measured figures: within a factor 1 + u
  if (r.finished) return {r.energy_kwh / (1 + u), r.energy_kwh * (1 + u)};
  if (!(r.energy_kwh > 0))  // no prediction yet: anything from what it has spent upwards
    return {r.spent_kwh / (1 + u), std::numeric_limits<double>::infinity()};
  const double mu = std::max(1.0, s.energy_margin);
  return {std::max(r.spent_kwh, r.energy_kwh / mu) / (1 + u),
          std::max(r.spent_kwh, r.energy_kwh * mu) * (1 + u)};
}

EnergyExtremes energy_extremes(const PruneState& s) {
  constexpr double inf = std::numeric_limits<double>::infinity();
  EnergyExtremes x{{inf, inf}, {-inf, -inf}};
  for (std::size_t i = 0; i < s.runs.size(); ++i) {
    const Interval e = energy_interval(s, i);
    x.min.lo = std::min(x.min.lo, e.lo);
    x.min.hi = std::min(x.min.hi, e.hi);
    x.max.lo = std::max(x.max.lo, e.lo);
    x.max.hi = std::max(x.max.hi, e.hi);
  }
  return x;
}

Interval r_bounds(const PruneState& s, const EnergyExtremes& x, std::size_t i) {
  const Interval e = energy_interval(s, i);
  Interval r;
  // Smallest R: E_i as small, lo and hi as large as they can be (lo <= E_i).
  if (e.lo > x.min.hi && x.max.hi > x.min.hi) r.lo = (e.lo - x.min.hi) / (x.max.hi - x.min.hi);
  // Largest R: E_i as large, lo as small, hi as small as they can be (hi >= E_i).
  const double hi = std::max(x.max.lo, e.hi);
  if (std::isinf(hi))
    r.hi = 1.0;
  else if (hi > x.min.lo)
    r.hi = std::min(1.0, (e.hi - x.min.lo) / (hi - x.min.lo));
  return r;
}

Interval r_bounds(const PruneState& s, std::size_t i) {
  return r_bounds(s, energy_extremes(s), i);
}

double final_p(const PruneRun& r) {
  return r.test_acc.empty() ? 0.0 : r.test_acc.back();
}

namespace {

double best_of_first(const std::vector<double>& acc, std::size_t k) {
  double b = 0;
  for (std::size_t e = 0; e < k && e < acc.size(); ++e) b = std::max(b, acc[e]);
  return b;
}

}  // namespace

OptimisticPValue optimistic_p(const PruneState& s, std::size_t i) {
  const PruneRun& r = s.runs[i];
  const std::size_t k = r.test_acc.size();
  if (s.bound == OptimisticP::One || k == 0) return {1.0, "P <= 1"};
  const double b = best_of_first(r.test_acc, k), d = std::max(0.0, s.p_margin);
  double base = b;
  std::string from = fmt::format("{:.4g}", b);
  if (s.bound == OptimisticP::Peers) {
    std::size_t peers = 0;
    double peer_best = 0;
    for (const PruneRun& f : s.runs)
      if (f.finished && f.test_acc.size() >= k && best_of_first(f.test_acc, k) <= b)
        ++peers, peer_best = std::max(peer_best, final_p(f));
    if (peers < std::max<std::size_t>(1, s.min_peers)) return {1.0, "P <= 1"};
    base = std::max(b, peer_best);
    from = fmt::format("{:.4g} (best final P of {} finished runs no better after {} epoch{})", base,
                       peers, k, k == 1 ? "" : "s");
  }
  const double p = std::min(1.0, base + d);
  if (p >= 1.0) return {1.0, "P <= 1"};
  return {p, fmt::format("P <= {:.4g} = {} + {:.4g}", p, from, d)};
}

Interval pepr_bounds(const PruneState& s, const EnergyExtremes& x, std::size_t i) {
  const Interval r = r_bounds(s, x, i);
  if (s.runs[i].finished) {
    const double p = final_p(s.runs[i]);
    return {pepr_score(p, r.hi), pepr_score(p, r.lo)};
  }
  return {0.0, pepr_score(optimistic_p(s, i).p, r.lo)};
}

namespace {

std::string ordinal(std::size_t k) {
  const char* suffix = "th";
  if (k % 100 < 11 || k % 100 > 13) {
    if (k % 10 == 1) suffix = "st";
    if (k % 10 == 2) suffix = "nd";
    if (k % 10 == 3) suffix = "rd";
  }
  return fmt::format("{}{}", k, suffix);
}

}  // namespace

std::optional<std::string> prune_reason(const PruneState& s, std::size_t i) {
  if (i >= s.runs.size() || s.runs[i].finished || s.top_k == 0) return std::nullopt;
  const EnergyExtremes x = energy_extremes(s);
  std::vector<double> lower;  // the finished runs' PePR lower bounds
  for (std::size_t j = 0; j < s.runs.size(); ++j)
    if (s.runs[j].finished) lower.push_back(pepr_bounds(s, x, j).lo);
  if (lower.size() < s.top_k) return std::nullopt;
  std::nth_element(lower.begin(), lower.begin() + static_cast<std::ptrdiff_t>(s.top_k - 1),
                   lower.end(), std::greater<>());
  const double kth = lower[s.top_k - 1];
  const OptimisticPValue p_opt = optimistic_p(s, i);
  const Interval r_i = r_bounds(s, x, i);
  const double upper = pepr_score(p_opt.p, r_i.lo);
  if (!(upper < kth)) return std::nullopt;
  const PruneRun& r = s.runs[i];
  const double mu = std::max(1.0, s.energy_margin);
  std::string e_text;
  if (r.spent_kwh >= r.energy_kwh / mu)
    e_text = fmt::format("spent {:.4g} Wh", r.spent_kwh * 1000);
  else if (mu > 1.0)
    e_text = fmt::format("predicted {:.4g} Wh / {:.4g}", r.energy_kwh * 1000, mu);
  else
    e_text = fmt::format("predicted {:.4g} Wh", r.energy_kwh * 1000);
  if (r.energy_error > 0)
    e_text += fmt::format(" (measured within +-{:.3g} %)", 100 * r.energy_error);
  return fmt::format(
      "optimistic PePR {:.4g} < {} best {:.4g} ({}; R >= {:.4g}: {}, energy min <= {:.4g} Wh, "
      "max <= {:.4g} Wh)",
      upper, ordinal(s.top_k), kth, p_opt.why, r_i.lo, e_text, x.min.hi * 1000, x.max.hi * 1000);
}

std::vector<std::size_t> cheapest_first(const std::vector<double>& predicted_kwh) {
  std::vector<std::size_t> order(predicted_kwh.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return predicted_kwh[a] < predicted_kwh[b];
  });
  return order;
}

}  // namespace pepr::sweep
