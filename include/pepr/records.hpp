// pepr's public API: read the run records `pepr train` and `pepr bench` write (pepr.run/1 JSON)
// and collect a folder of them into a results table (the paper's columns and pepr's own).
//
//   auto rec = pepr::read_record("runs/resnet18-derma.json");      // nullopt when unreadable
//   if (rec) for (const auto& e : rec->epoch_list()) use(e.test_acc.value_or(0));
//   pepr::CollectResult c = pepr::collect_runs("runs", {});       // c.table: one row per run
//
// Link pepr::sweep.
#pragma once

#include "run/record.hpp"
#include "sweep/collect.hpp"

namespace pepr {
using run::RunRecord;
using run::RunStatus;
using sweep::collect_runs;
using sweep::CollectOptions;
using sweep::CollectResult;
using sweep::read_record;
}  // namespace pepr
