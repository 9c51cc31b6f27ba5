// pepr's public API: PePR scores, curves, Pareto fronts and group tests on a results table.
//
//   pepr::Table t = pepr::Table::read_csv("results.csv");
//   pepr::ScoreOptions o;
//   o.performance = pepr::PerformanceSpec::parse("test_acc");
//   o.resources.push_back(pepr::ResourceSpec::parse("energy", t));
//   o.group_by = "dataset";
//   pepr::ScoreResult r = pepr::score_table(t, o);   // r.table gains E_n and pepr_e
//
// Link pepr::core. Errors are pepr::Error (ParseError names the file, line and column).
#pragma once

#include "core/comparisons.hpp"
#include "core/curve.hpp"
#include "core/error.hpp"
#include "core/pareto.hpp"
#include "core/score.hpp"
#include "core/stats.hpp"
#include "core/table.hpp"
