// The report's inputs, prepared once: the scored table, per-row model names, performance,
// scores, parameters, type and efficiency, the experiments and their pairs.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/comparisons.hpp"
#include "core/score.hpp"
#include "core/table.hpp"
#include "report/experiments.hpp"
#include "run/record.hpp"

namespace pepr::report {

struct ReportOptions {
  ScoreOptions score;         // performance, resources, group_by (the experiments), norm, alpha
  std::string id_column;      // names models; empty: model, label, else the first text column
  std::string params_column;  // empty: num_param, else params
  SizeSplit size_split;       // small vs large: the paper's 24.6 M unless told otherwise
  std::size_t top = 5;        // rows per experiment in the Table 1 style tables
  std::string title = "PePR report";
  std::string input_name;            // the input as shown in the report
  std::string command_line;          // shown in the report when not empty
  std::vector<run::RunRecord> runs;  // run records (pepr.run/1), e.g. from --runs
  std::string runs_dir;              // where they came from
};

// One resource score: PePR-E, PePR-C, ...
struct ScoreSeries {
  ResourceSpec spec;
  std::vector<double> raw, norm, score;
  std::string name;      // PePR-E, PePR-C, PePR-M, PePR-T, PePR-D, else PePR-<column>
  std::string resource;  // energy, CO2eq, memory, time, data, else the column
  std::string unit;      // kWh, g, GB, s, samples, else ""
  std::string symbol;    // E, C, M, T, D, else x: for formulas
  std::string merged;    // data: the experiments normalised together (merged_groups_text)
  std::string note;      // what the resource's numbers are worth, when said (also in notes)
};

struct Experiment {
  std::string name;
  std::vector<std::size_t> rows;
  double size_cut = 0;  // small-scale below (or, median split, at most) this; NaN: no counts
};

struct ReportData {
  ScoreResult scored;
  std::string source;
  std::string group_by;  // empty: one experiment "all"
  std::string id_column;
  std::vector<std::string> ids;
  std::vector<double> performance;
  std::string performance_label;   // what P is, e.g. "test_09" or "last test_*"
  std::string performance_column;  // the column of the scored table holding P
  std::vector<ScoreSeries> scores;
  std::size_t primary = 0;     // the score tables are ranked by first (PePR-E if present)
  std::string params_column;   // empty: none
  std::vector<double> params;  // NaN where missing or not positive
  SizeSplit size_split;
  std::vector<int> efficient;     // empty: no usable column; else 1 / 0
  std::vector<std::string> type;  // empty: no type column
  std::vector<Experiment> experiments;
  std::vector<ExperimentPair> pretrain_pairs, fraction_pairs;
  std::string epoch_prefix;  // per-epoch performance columns PREFIX<N>; empty: none
  std::vector<std::size_t> epoch_cols;
  double performance_scale = 1;  // applied to the per-epoch columns too
  Normalization norm;
  double alpha = 1;
  std::vector<std::string> notes;
  // What each row is worth (core/caveats.hpp): "" or e.g. "energy estimate; loaded machine";
  // empty when no row has a caveat. Their notes are in `notes` too.
  std::vector<std::string> caveats;
  std::vector<std::string> caveat_notes;

  const ScoreSeries& primary_score() const { return scores[primary]; }
  std::size_t experiment_index(const std::string& name) const;  // npos when absent
  bool has_params() const { return !params_column.empty(); }
  bool is_small(std::size_t row) const {
    return size_split.is_small(params[row], experiments[scored.groups.group_of[row]].size_cut);
  }
  // What small-scale means here, for legends and captions: "fewer than 24.6M parameters (the
  // paper's split)", "at most the experiment's median parameter count", ...
  std::string small_text() const;
  // How R of a score is normalised, in words, for every table and figure that shows it: the
  // formula, the groups and which of the paper's conventions it is.
  std::string norm_text(const ScoreSeries& s) const;
  // The same for every score of the report at once.
  std::string norm_text() const;
  // In a few words, for labels that link to the full statement: "min-max within each
  // experiment", "R = x / x_max over the whole table", "fixed bounds [0, 2]".
  std::string norm_label() const;
  // A score with R normalised jointly over the rows of two experiments (the same convention,
  // one set of bounds), so that the two can be compared: NaN for the other rows. Scores
  // normalised within each experiment cannot be compared across experiments (each has its own
  // R_max).
  std::vector<double> joint_score(const ScoreSeries& s, const ExperimentPair& pair) const;
};

// Scores the table (pepr::score_table) and gathers everything the report draws.
// Throws pepr::Error for bad input (no rows, missing columns, performance outside [0, 1]).
ReportData prepare_data(const Table& table, const ReportOptions& options);

// The resources a report scores by when none are named: energy, and co2, memory and time when
// the table has a column for them (co2 / co2_g, memory / mem_peak_gb / memR, time / time_s /
// train_time), as --resource arguments; and data (train_samples) when `group_by` names
// experiments of which some are a fraction of another's training data (PePR-D then compares
// the fractions of each dataset).
std::vector<std::string> default_resources(const Table& table, const std::string& group_by = "");

}  // namespace pepr::report
