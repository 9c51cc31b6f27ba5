// The report's answer first: per experiment and resource, the model PePR ranks first against the
// most accurate one (core/findings.hpp), as sentences, a table and one figure at a glance.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/findings.hpp"
#include "report/data.hpp"
#include "report/figures.hpp"
#include "report/tables.hpp"

namespace pepr::report {

struct Findings {
  std::vector<Finding> all;          // every experiment x score (data scores left out)
  std::vector<std::size_t> primary;  // indices into `all`: the primary score's, in order
  ReportTable table;                 // tables/findings.*
  std::optional<Figure> figure;      // figures/findings.svg; none without a finding
  // Whether the measurement error could reorder each experiment's top by the primary score (a
  // sentence each, core/robustness.hpp), and where the bounds come from; empty when the table
  // has no error bounds (the paper's) or the primary score is not energy or CO2eq.
  std::vector<std::string> robustness;
  std::string robustness_basis;
  // With several seeds per model: per experiment, whether the best mean stays best under seed
  // noise (core/robustness.hpp's seed_sentences); empty without repeated runs.
  std::vector<std::string> seed_robustness;
};

// Findings of every score but PePR-D (its R compares data fractions, not models of an
// experiment).
Findings make_findings(const ReportData& d);

}  // namespace pepr::report
