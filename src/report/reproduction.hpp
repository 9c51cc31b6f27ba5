// The reproduction section: every quantitative claim of the PePR paper that its released data
// can check, with the paper's value, pepr's value on the table at hand, and whether it holds.
// Written for any results table with the paper's columns (model, num_param, type, efficient,
// energy, test_NN, dataset); a claim whose experiments or columns the table lacks is "not
// applicable", with why.
#pragma once

#include "report/data.hpp"
#include "report/tables.hpp"

namespace pepr::report {

// Columns: claim, where (the paper's figure, table or text), paper (its printed value), pepr
// (computed here), verdict (holds / does not hold / not applicable / information), how (what
// pepr computed).
ReportTable reproduction_table(const ReportData& d, const GroupTests& tests);

}  // namespace pepr::report
