// `pepr report` as a function, for commands that end with a report (pepr bench --default).
#pragma once

#include <cstddef>
#include <string>

#include "cli/common.hpp"

namespace pepr::cli {

struct ReportArgs {
  TableArgs table;
  std::string output;
  std::size_t top = 5;
  std::string title = "PePR report";
  std::string id;
  std::string params_column;
  std::string size_split = "auto";  // auto, paper, median or a parameter count
  std::string runs;                 // folder of run records, or ""
  bool force = false;               // write into a folder that holds other files than a report
};

// Reads the table, builds the report and writes it into `output`; prints where it is.
void run_report(const ReportArgs& a);

}  // namespace pepr::cli
