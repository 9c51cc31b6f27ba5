// PePR scores: P / (1 + R), the scaled form alpha * P / (alpha + R), and the normalisation of
// resource costs R within groups of a results table.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/table.hpp"

namespace pepr {

// PePR(R, P) = alpha * P / (alpha + R); alpha = 1 gives P / (1 + R).
inline double pepr_score(double performance, double resource, double alpha = 1.0) {
  return alpha * performance / (alpha + resource);
}

// Chance level: the accuracy of always answering the largest class (the test split's largest
// class share). An accuracy no more than kChanceMargin above it means the model learnt nothing
// usable, whatever its PePR: train, collect, score and the report say so.
inline constexpr double kChanceMargin = 0.01;
inline bool at_chance_level(double accuracy, double chance) {
  return accuracy <= chance + kChanceMargin;
}
// The warning printed beside such a run.
std::string chance_level_note(double accuracy, double chance);

// How absolute resource costs become R in [0, 1] within a group.
struct Normalization {
  enum class Kind { MinMax, Zero, Fixed };
  Kind kind = Kind::MinMax;
  double lo = 0, hi = 1;  // bounds for Fixed
  bool clip = false;      // Fixed: clamp values outside [lo, hi] instead of failing

  // "minmax", "zero" or "fixed:LO,HI".
  static Normalization parse(const std::string& text);
  std::string describe() const;
};

// Normalises `values` within each group (group_of[i] is the group index of values[i]).
// MinMax: (v - min) / (max - min); Zero: v / max; Fixed: (v - lo) / (hi - lo).
// A group whose values are all equal gets R = 0 (a single model: PePR equals P).
std::vector<double> normalize(const std::vector<double>& values,
                              const std::vector<std::size_t>& group_of, std::size_t num_groups,
                              const Normalization& norm);

// A resource to score by: its kind, the column it is read from and the output column names.
struct ResourceSpec {
  std::string kind;        // energy, co2, memory, time, data, params, or a column name
  std::string column;      // the input column
  std::string norm_name;   // e.g. E_n
  std::string score_name;  // e.g. pepr_e

  // Parses "energy", "KIND=COLUMN" or "COLUMN" against the table's columns. A bare kind reads
  // the column of that name, else pepr's own unit-suffixed column (energy_kwh, co2_g, ...).
  static ResourceSpec parse(const std::string& text, const Table& table);
};

// The resource kinds with a letter of their own in the paper's naming.
std::vector<std::string> resource_kinds();

// Where the performance P comes from.
struct PerformanceSpec {
  enum class Mode { Column, Last, Best };
  Mode mode = Mode::Column;
  std::string column;  // the column, or the prefix of per-epoch columns for Last / Best
  double scale = 1.0;  // multiply raw values (0.01 for percentages)

  // "COL", "last:PREFIX" or "best:PREFIX".
  static PerformanceSpec parse(const std::string& text);
  std::string describe() const;
};

// Per-epoch columns PREFIX<number>, sorted by that number (test_00, test_01, ...).
std::vector<std::size_t> epoch_columns(const Table& table, const std::string& prefix);

// P for every row, checked to lie in [0, 1] after scaling (ParseError with the cell otherwise).
std::vector<double> performance_values(const Table& table, const PerformanceSpec& spec);

// Group index of every row by the values of `column` (all rows in group 0 when empty).
struct Grouping {
  std::vector<std::size_t> group_of;
  std::vector<std::string> names;  // in order of first appearance
  std::size_t column = static_cast<std::size_t>(-1);
};
Grouping group_rows(const Table& table, const std::string& column);

// The experiment at 100 % of the training data that an experiment trained on a fraction of it
// belongs with, so that PePR-D compares the fractions of one dataset (R_data would be 0 for every
// row if each experiment were normalised on its own). A name ending in a fraction suffix,
// `_small` (10 %), `_smallest` or `_f<F>` (pepr collect's), is taken without it; when the table
// also has that name with `_pt` appended, that one (the paper's derma_small is derma_pt on 10 %).
// Every other name is its own full-data experiment.
std::string full_data_experiment(const std::string& name, const std::vector<std::string>& names);

// The experiments of `experiments` merged by full_data_experiment: the groups within which the
// data resource is normalised. Group names are the full-data experiments.
Grouping data_fraction_groups(const Grouping& experiments);

// The merged groups of data_fraction_groups as text, e.g. "derma_pt: derma_pt, derma_small,
// derma_smallest; lidc: lidc, lidc_small"; empty when no two experiments were merged.
std::string merged_groups_text(const Grouping& experiments, const Grouping& within);

struct ScoreOptions {
  PerformanceSpec performance;
  std::vector<ResourceSpec> resources;
  std::string group_by;
  Normalization norm;
  double alpha = 1.0;
  // Resource values are costs, >= 0: a negative one is an error naming its cell (FILE:LINE:
  // COLUMN) unless this is set (e.g. net energy below an idle baseline).
  bool allow_negative = false;
};

// The table with, for every resource, the normalised value and the score appended.
struct ScoreResult {
  Table table;
  Grouping groups;
  std::vector<double> performance;
  std::vector<std::vector<double>> normalized;  // per resource
  std::vector<std::vector<double>> scores;      // per resource
  // Per resource, the groups R was normalised within: the experiments, except for the data
  // resource (kind "data") with a group_by column, normalised across the data fractions of each
  // dataset (data_fraction_groups).
  std::vector<Grouping> normalized_within;
  std::string performance_column;  // "P" when computed from several columns
};
ScoreResult score_table(Table table, const ScoreOptions& options);

// Row indices ordered by group (first appearance), then by `key` descending (ties keep input
// order); at most `top` rows per group when top > 0.
std::vector<std::size_t> rank_rows(const std::vector<double>& key, const Grouping& groups,
                                   std::size_t top);

}  // namespace pepr
