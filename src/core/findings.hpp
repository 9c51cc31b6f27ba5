// The answer first: per experiment and resource, what choosing by PePR saves against choosing by
// performance alone. The model PePR ranks first against the most accurate model: how much less
// of the resource it uses (in % and in the resource's unit) and how much performance it gives up.
// `pepr report` opens with these, `pepr bench` ends its ranking with them.
//
//   auto f = pepr_findings({groups, ids, performance, energy_kwh, pepr_e, "PePR-E", "energy",
//                           "kWh"});
//   for (const auto& x : f) fmt::print("{}\n", x.sentence());
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "core/score.hpp"

namespace pepr {

struct FindingsInput {
  const Grouping& groups;                  // the experiments
  const std::vector<std::string>& ids;     // each row's model
  const std::vector<double>& performance;  // P
  const std::vector<double>& resource;     // in its unit, not normalised
  const std::vector<double>& score;        // the PePR of that resource
  std::string score_name;                  // "PePR-E"
  std::string resource_name;               // "energy"
  std::string unit;                        // "kWh" ("" for none)
};

struct Finding {
  std::string experiment;
  std::string score_name, resource_name, unit;
  std::size_t winner = 0, most_accurate = 0;  // rows
  std::string winner_id, most_accurate_id;
  double winner_p = 0, most_accurate_p = 0;
  double winner_resource = 0, most_accurate_resource = 0;
  std::size_t rows = 0;  // rows of the experiment with P, resource and score

  bool same_model() const { return winner == most_accurate; }
  // The resource the PePR winner does without: most accurate's minus the winner's (in the unit),
  // and as a share of the most accurate's (NaN when that is 0).
  double saved() const { return most_accurate_resource - winner_resource; }
  double saved_share() const;
  double p_given_up() const { return most_accurate_p - winner_p; }
  // One plain sentence: "In derma_pt, PePR-E picks ghostnet_100: 65 % less energy than the most
  // accurate model, resnet50 (0.81 kWh less), for 0.008 lower P."
  std::string sentence() const;
};

// One finding per experiment that has a row with P, resource and score all finite; the winner is
// the highest score, the most accurate the highest P (ties: the lower resource, then the first
// row).
std::vector<Finding> pepr_findings(const FindingsInput& in);

// A quantity with its unit, scaled to read well: kWh below 1 as Wh, g above 1000 as kg, seconds
// above 120 as minutes or hours; others with 3 significant digits.
std::string format_quantity(double value, const std::string& unit);

}  // namespace pepr
