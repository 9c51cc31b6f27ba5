#include "core/pareto.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace pepr {

std::vector<std::size_t> pareto_front(const std::vector<double>& resource,
                                      const std::vector<double>& performance) {
  std::vector<std::size_t> order(resource.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    if (resource[a] != resource[b]) return resource[a] < resource[b];
    return performance[a] > performance[b];
  });
  std::vector<std::size_t> front;
  double best_p = -INFINITY, best_r = NAN;
  for (std::size_t i : order) {
    double r = resource[i], p = performance[i];
    if (p > best_p) {
      front.push_back(i);
      best_p = p;
      best_r = r;
    } else if (p == best_p && r == best_r) {
      front.push_back(i);  // an exact duplicate of a front point
    }
  }
  return front;
}

std::optional<std::size_t> knee_point(const std::vector<std::size_t>& front,
                                      const std::vector<double>& resource,
                                      const std::vector<double>& performance) {
  if (front.size() < 3) return std::nullopt;
  double r0 = resource[front.front()], r1 = resource[front.back()];
  double p0 = performance[front.front()], p1 = performance[front.back()];
  if (r1 == r0 || p1 == p0) return std::nullopt;
  // In scaled coordinates the ends are (0, 0) and (1, 1): distance to the diagonal is
  // |x - y| / sqrt(2); a convex front bulges towards low R and high P, so y - x is maximal.
  std::optional<std::size_t> best;
  double best_d = 0;
  for (std::size_t k = 1; k + 1 < front.size(); ++k) {
    double x = (resource[front[k]] - r0) / (r1 - r0);
    double y = (performance[front[k]] - p0) / (p1 - p0);
    double d = y - x;
    if (d > best_d) {
      best_d = d;
      best = front[k];
    }
  }
  return best;
}

}  // namespace pepr
