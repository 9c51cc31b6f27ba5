// The report's tables: the paper's Table 1 (per experiment the top K models by a PePR score with
// their resources, plus the best model by performance alone), the group tests with p-values,
// and every row with its scores.
#pragma once

#include <string>
#include <vector>

#include "core/stats.hpp"
#include "core/table.hpp"
#include "report/data.hpp"

namespace pepr::report {

struct ReportTable {
  std::string name;  // file stem under tables/
  std::string title;
  std::string caption;        // what it shows, for the HTML report
  std::string normalisation;  // how its R is normalised, in words (never empty)
  std::string paper;          // the paper's table it reproduces ("" for pepr's own)
  Table data;                 // for programs (CSV): machine names, every digit
  Table view;                 // for people (Markdown, LaTeX, HTML): display names, fewer columns
  std::vector<std::string> notes;
};

// Per experiment the top `top` rows by scores[score] (ties keep input order), then the row with
// the best performance. Columns: experiment, rank (by the score within the experiment),
// selected_by (the score name or "P"), model, type, efficient, params_m, memory_gb, energy_wh,
// time_s (those the table has), the score's own resource when it is none of those, P, score.
ReportTable top_table(const ReportData& d, std::size_t score, std::size_t top);

// The group comparisons behind the tests table and the small-vs-large figure.
struct GroupTests {
  std::vector<Comparison> comparisons;
  std::vector<std::string> notes;  // comparisons left out, with why
};
// Per experiment, for P and every score: small vs large (params <= the experiment's median),
// CNN vs Other (type), efficient vs not; across experiments, for P and every score: each
// pretrained-vs-scratch and 10 %-vs-100 % pair (unpaired tests over all rows, and a paired t-test
// over the models present once in both). Comparison::group is the experiment (or "A vs B"),
// Comparison::value the compared column.
// The pairs compare P and every score with R normalised jointly over the pair
// (ReportData::joint_score; Comparison::value joint_value_name). With two or more 10 %-vs-100 %
// pairs, one more comparison (name kPooledFractionTest, group pooled_fraction_group): each
// model's P averaged over the 10 % experiments vs over the 100 % ones (the paper's Fig. 5b).
GroupTests group_tests(const ReportData& d);
inline constexpr const char* kPooledFractionTest = "10% vs 100% data, averaged";
std::string joint_value_name(const ScoreSeries& s);  // pepr_e_joint
std::string pooled_fraction_group(const ReportData& d);
ReportTable tests_table(const ReportData& d, const GroupTests& tests);

// Every row: experiment, model, P, and per score the resource, R and the score.
ReportTable scores_table(const ReportData& d);

}  // namespace pepr::report
