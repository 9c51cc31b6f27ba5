// The ready-made group comparisons of the PePR paper over a results table: small vs large
// models, CNN vs Other, efficient vs not, and one experiment against another.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/score.hpp"
#include "core/stats.hpp"
#include "core/table.hpp"

namespace pepr {

struct ComparisonOptions {
  std::string value;             // the compared column
  std::vector<std::string> splits;  // size, type, efficient (empty: those the table supports)
  std::string params_column;     // size split: default num_param, else params
  std::optional<double> threshold;  // size split: small means params <= threshold (default median)
  std::vector<std::pair<std::string, std::string>> experiments;  // pairs of group values
  std::string id = "model";      // matches rows of two experiments
};

// Runs the splits within each group and the experiment pairs across groups.
std::vector<Comparison> run_comparisons(const Table& table, const Grouping& groups,
                                        const ComparisonOptions& options);

// One row per comparison with sizes, means, medians, statistics and p-values.
Table comparisons_table(const std::vector<Comparison>& comparisons);

}  // namespace pepr
