#include "core/findings.hpp"

#include <cmath>
#include <limits>

#include <fmt/format.h>

namespace pepr {

double Finding::saved_share() const {
  if (!(most_accurate_resource != 0)) return std::numeric_limits<double>::quiet_NaN();
  return saved() / most_accurate_resource;
}

std::string format_quantity(double value, const std::string& unit) {
  const double a = std::abs(value);
  if (unit == "kWh" && a < 1) return fmt::format("{:.3g} Wh", value * 1000);
  if (unit == "g" && a >= 1000) return fmt::format("{:.3g} kg", value / 1000);
  if (unit == "s" && a >= 7200) return fmt::format("{:.3g} h", value / 3600);
  if (unit == "s" && a >= 120) return fmt::format("{:.3g} min", value / 60);
  return unit.empty() ? fmt::format("{:.3g}", value) : fmt::format("{:.3g} {}", value, unit);
}

std::string Finding::sentence() const {
  if (same_model())
    return fmt::format(
        "In {}, the most accurate model, {} (P {:.4f}), is also the {} winner: choosing by {} "
        "gives up nothing.",
        experiment, winner_id, winner_p, score_name, resource_name);
  const double share = saved_share();
  const std::string less = std::isfinite(share)
                               ? fmt::format("{:.0f} % less {}", 100 * share, resource_name)
                               : fmt::format("less {}", resource_name);
  const double given = p_given_up();
  return fmt::format(
      "In {}, {} picks {} (P {:.4f}): {} than the most accurate model, {} (P {:.4f}; {} less), "
      "{}.",
      experiment, score_name, winner_id, winner_p, less, most_accurate_id, most_accurate_p,
      format_quantity(saved(), unit),
      given > 0 ? fmt::format("for {:.3f} lower P", given) : std::string("at no cost in P"));
}

std::vector<Finding> pepr_findings(const FindingsInput& in) {
  const std::size_t n_groups = in.groups.names.size();
  constexpr auto none = static_cast<std::size_t>(-1);
  std::vector<std::size_t> best(n_groups, none), top(n_groups, none), count(n_groups, 0);
  for (std::size_t r = 0; r < in.groups.group_of.size(); ++r) {
    if (!std::isfinite(in.performance[r]) || !std::isfinite(in.resource[r]) ||
        !std::isfinite(in.score[r]))
      continue;
    const std::size_t g = in.groups.group_of[r];
    ++count[g];
    if (best[g] == none || in.score[r] > in.score[best[g]]) best[g] = r;
    const std::size_t t = top[g];
    if (t == none || in.performance[r] > in.performance[t] ||
        (in.performance[r] == in.performance[t] && in.resource[r] < in.resource[t]))
      top[g] = r;
  }
  std::vector<Finding> out;
  for (std::size_t g = 0; g < n_groups; ++g) {
    if (best[g] == none) continue;
    Finding f;
    f.experiment = in.groups.names[g];
    f.score_name = in.score_name;
    f.resource_name = in.resource_name;
    f.unit = in.unit;
    f.winner = best[g];
    f.most_accurate = top[g];
    // The most accurate model may score as high as the winner: then it is the winner.
    if (in.score[f.most_accurate] >= in.score[f.winner]) f.winner = f.most_accurate;
    f.winner_id = in.ids[f.winner];
    f.most_accurate_id = in.ids[f.most_accurate];
    f.winner_p = in.performance[f.winner];
    f.most_accurate_p = in.performance[f.most_accurate];
    f.winner_resource = in.resource[f.winner];
    f.most_accurate_resource = in.resource[f.most_accurate];
    f.rows = count[g];
    out.push_back(std::move(f));
  }
  return out;
}

}  // namespace pepr
