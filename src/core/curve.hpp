// PePR curves (the paper's eq. 2): PePR at every point of a performance curve f(R) over the
// cumulative resource R, its maximum P* and the R where it is reached.
#pragma once

#include <string>
#include <vector>

#include "core/score.hpp"
#include "core/table.hpp"

namespace pepr {

// The point of a curve with the largest PePR; ties go to the smallest R.
struct CurveMax {
  std::size_t index = 0;
  double p_star = 0;
};
CurveMax curve_maximum(const std::vector<double>& r_norm, const std::vector<double>& performance,
                       double alpha = 1.0);

struct CurveOptions {
  PerformanceSpec performance;  // Column: a long table; Last/Best ignored (prefix used as wide)
  std::string resource;         // "KIND", "KIND=COLUMN" or "COLUMN" as for score
  std::string id = "model";     // what identifies one curve (with the group)
  std::string group_by;
  std::string epoch;            // long tables: the epoch column (rows sorted by it); may be empty
  bool wide = false;            // per-epoch performance columns PREFIX<N>, resource spread evenly
  Normalization norm{Normalization::Kind::Zero};
  double alpha = 1.0;
};

struct CurveResult {
  Table summary;  // one row per curve
  Table points;   // one row per point
  std::vector<std::string> notes;
};

// Long table: each row one point; the resource column is cumulative. Wide table: each row one
// curve; point k of K has performance PREFIX<k> and resource (k + 1) / K of the row's total.
// R is normalised over all points of a group.
CurveResult pepr_curves(const Table& table, const CurveOptions& options);

}  // namespace pepr
