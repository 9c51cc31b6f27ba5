// Pareto fronts over (minimise R, maximise P) and their knee point.
#pragma once

#include <optional>
#include <vector>

namespace pepr {

// Indices of the non-dominated points, ordered by R ascending. A point is dominated when another
// has R <= and P >= with at least one strict. Exact duplicates are all kept.
std::vector<std::size_t> pareto_front(const std::vector<double>& resource,
                                      const std::vector<double>& performance);

// The knee of a front (indices as returned by pareto_front): the point farthest from the straight
// line joining the front's two ends, measured after scaling R and P of the front to [0, 1].
// Fronts of one or two points have no knee.
std::optional<std::size_t> knee_point(const std::vector<std::size_t>& front,
                                      const std::vector<double>& resource,
                                      const std::vector<double>& performance);

}  // namespace pepr
