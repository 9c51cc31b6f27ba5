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

// How models are split into small-scale and large-scale by their parameter count.
// The paper's split (the default) is a fixed threshold: small means fewer than 24.6 M parameters
// (the median of its 131-model space; its code tests num_param < 24.6e6), 65 small and 66 large
// there. A user's own threshold works the same way; `median` splits each group at the median of
// its own models (small means at most the median). `auto` (the default) is the paper's split
// when every group has two models or more on each side of 24.6 M, else the median (a sweep of
// the user's own small models would otherwise have no large ones).
struct SizeSplit {
  enum class Mode { Threshold, Median, Auto };
  static constexpr double kPaperThreshold = 24.6e6;
  Mode mode = Mode::Auto;
  double threshold = kPaperThreshold;
  bool fell_back = false;  // resolved from auto to the median

  // "auto", "paper" (24.6e6), "median", or a positive number of parameters (e.g. 10e6).
  static SizeSplit parse(const std::string& text);
  // Auto made concrete for these groups' parameter counts (NaN entries ignored); the others
  // as they are.
  SizeSplit resolved(const std::vector<std::vector<double>>& groups) const;
  // The cut for one group's parameter counts (NaN entries ignored): the threshold, or their
  // median (NaN when there is none).
  double cut(const std::vector<double>& params) const;
  bool is_small(double params, double cut) const {
    return mode == Mode::Median ? params <= cut : params < cut;
  }
  // "< 24.6M" or "<= 21.3M", for labels.
  std::string label(double cut) const;
  // One sentence: what small means, e.g. "small: fewer than 24.6 M parameters (the paper's
  // split)".
  std::string describe() const;
};

struct ComparisonOptions {
  std::string value;                // the compared column
  std::vector<std::string> splits;  // size, type, efficient (empty: those the table supports)
  std::string params_column;        // size split: default num_param, else params
  SizeSplit size_split;             // size split: the paper's 24.6 M unless told otherwise
  std::vector<std::pair<std::string, std::string>> experiments;  // pairs of group values
  std::string id = "model";                                      // matches rows of two experiments
};

// Runs the splits within each group and the experiment pairs across groups.
std::vector<Comparison> run_comparisons(const Table& table, const Grouping& groups,
                                        const ComparisonOptions& options);

// One row per comparison with sizes, means, medians, statistics and p-values.
Table comparisons_table(const std::vector<Comparison>& comparisons);

}  // namespace pepr
