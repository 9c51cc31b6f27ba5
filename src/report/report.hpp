// The whole report from a results table: tables (CSV, Markdown, LaTeX), SVG figures, a
// manifest and a self-contained index.html, computed in memory and then written at once.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "core/findings.hpp"
#include "core/table.hpp"
#include "report/data.hpp"
#include "report/figures.hpp"
#include "report/tables.hpp"

namespace pepr::report {

struct Report {
  std::vector<ReportTable> tables;
  FigureSet figures;
  std::vector<std::string> notes;
  // Per experiment and score, the PePR winner against the most accurate model (the report's
  // first section; tables/findings.csv).
  std::vector<Finding> findings;
  // Per experiment, whether the measurement error could reorder its top (report/findings.hpp).
  std::vector<std::string> robustness;
  // With several seeds per model: whether each experiment's best mean stays best.
  std::vector<std::string> seed_robustness;
  // Every file, by path relative to the report folder; index.html is last.
  std::vector<std::pair<std::string, std::string>> files;
};

// Everything, in memory. Throws pepr::Error for bad input; writes nothing.
Report build_report(const Table& table, const ReportOptions& options);

// Writes the report's files under `dir`. A folder that does not exist (or is empty) is filled in
// a temporary sibling folder and renamed into place, so it appears complete or not at all. A
// folder holding a previous report and nothing else is replaced whole the same way (no figure of
// the old report survives). A folder holding anything else is refused (pepr::Error naming what it
// holds) unless `force`: then the user's files are kept, a previous report's files removed, and
// each new file written atomically (pepr::write_file_atomic), index.html last. Throws
// pepr::Error when `dir` cannot be written (nothing is left behind then).
void write_report(const Report& report, const std::string& dir, bool force = false);

}  // namespace pepr::report
