// The sweep's ETA bookkeeping (sweep/work.hpp): probes count, continued runs count their rest.
#include <gtest/gtest.h>

#include "sweep/work.hpp"

namespace pepr::sweep {
namespace {

// Issue 31: during the probes of a pruned sweep the ETA read 43 min and 1 h 07 min for a 3-minute
// sweep, because a probe's epoch counted as no work done. Four runs of 2 epochs on half the data
// (4 units): after the four probes half the work is done, so the time left equals the time spent.
TEST(SweepWork, ProbesCountAndContinuedRunsCountOnlyTheirRest) {
  const SweepWork::Run r{2, 0.5};
  SweepWork w;
  for (int i = 0; i < 4; ++i) w.plan(r);
  EXPECT_DOUBLE_EQ(w.total(), 4.0);
  EXPECT_FALSE(w.eta_s(10, 0).has_value()) << "nothing done yet";
  for (int i = 0; i < 4; ++i) w.probed(r);
  EXPECT_DOUBLE_EQ(w.done(), 2.0);
  EXPECT_DOUBLE_EQ(*w.eta_s(100, 0), 100.0);
  // Halfway through the first continuation (its epoch 2 of 2 half done: 0.25 units).
  EXPECT_DOUBLE_EQ(*w.eta_s(110, 0.25), 110.0 / 2.25 * 1.75);
  w.finished(r, /*epochs_before=*/1);  // continued from its checkpoint: epoch 2 only
  w.skip(r, /*epochs_done=*/1);        // pruned before it started, after its probe
  w.redo_first_epoch(r);               // continued without a checkpoint: epoch 1 again
  w.finished(r, 0);
  w.finished(r, 1);
  EXPECT_DOUBLE_EQ(w.total(), 4.0);
  EXPECT_DOUBLE_EQ(w.done(), 4.0);
  EXPECT_DOUBLE_EQ(*w.eta_s(200, 0), 0.0);
}

TEST(SweepWork, RunsDoneElsewhereLeaveTheWork) {
  SweepWork w;
  w.plan({10, 1.0});
  w.plan({10, 0.1});
  w.skip({10, 1.0});  // running elsewhere
  EXPECT_DOUBLE_EQ(w.total(), 1.0);
  w.finished({10, 0.1});
  EXPECT_DOUBLE_EQ(*w.eta_s(30, 0), 0.0);
}

}  // namespace
}  // namespace pepr::sweep
