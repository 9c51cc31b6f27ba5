// PePR-aware early stopping and budget prediction.
#include <gtest/gtest.h>

#include "sweep/stopping.hpp"

namespace sw = pepr::sweep;

TEST(SweepStopping, StopsAfterPatienceEpochsWithoutANewMaximum) {
  // Energy 1 per epoch, reference 4 (predicted total): R = 0.25, 0.5, 0.75, 1.
  std::vector<double> cum{1, 2, 3, 4};
  // PePR: 0.5/1.25 = 0.4, 0.8/1.5 = 0.533, 0.8/1.75 = 0.457, 0.9/2 = 0.45.
  std::vector<double> acc{0.5, 0.8, 0.8, 0.9};
  auto upto = [](const std::vector<double>& v, std::size_t n) {
    return std::vector<double>(v.begin(), v.begin() + n);
  };
  EXPECT_FALSE(sw::should_stop_pepr(upto(acc, 2), upto(cum, 2), 4, 1));
  EXPECT_TRUE(sw::should_stop_pepr(upto(acc, 3), upto(cum, 3), 4, 1));
  EXPECT_FALSE(sw::should_stop_pepr(upto(acc, 3), upto(cum, 3), 4, 2));
  EXPECT_TRUE(sw::should_stop_pepr(acc, cum, 4, 2));
  EXPECT_FALSE(sw::should_stop_pepr(acc, cum, 4, 3));
  EXPECT_FALSE(sw::should_stop_pepr(acc, cum, 4, 0));  // off
  // Ties go to the earlier epoch: a flat PePR counts as fallen.
  EXPECT_TRUE(sw::should_stop_pepr({0.5, 0.5}, {0, 0}, 0, 1));
  // Rising PePR never stops.
  EXPECT_FALSE(sw::should_stop_pepr({0.5, 0.9, 1.0}, {1, 2, 3}, 30, 1));
}

TEST(SweepStopping, BudgetPrediction) {
  auto p = sw::predict_after_first_epoch(0.002, 30, 10);
  EXPECT_DOUBLE_EQ(p.energy_kwh, 0.02);
  EXPECT_DOUBLE_EQ(p.time_s, 300);
  // Epoch 1 ran 80 % at the steady rate: the 9 later epochs cost 0.8 of it each.
  auto steady = sw::predict_after_first_epoch(0.002, 30, 10, 0.8);
  EXPECT_DOUBLE_EQ(steady.time_s, 30 * (1 + 9 * 0.8));
  EXPECT_DOUBLE_EQ(steady.energy_kwh, 0.002 * (1 + 9 * 0.8));
  EXPECT_DOUBLE_EQ(sw::predict_after_first_epoch(1, 1, 1, 0.5).time_s, 1);  // one epoch: itself
  EXPECT_EQ(sw::budget_stop_reason(p, 25, -1), "");
  EXPECT_EQ(sw::budget_stop_reason(p, 10, -1), "max-energy-wh: predicted 20 Wh > 10 Wh");
  EXPECT_EQ(sw::budget_stop_reason(p, -1, 200), "max-time-s: predicted 300 s > 200 s");
  EXPECT_DOUBLE_EQ(*sw::relative_error(110, 100), 0.1);
  EXPECT_FALSE(sw::relative_error(1, 0));
}

TEST(SweepStopping, SteadyTrainTimeLeavesOutOneOffSteps) {
  // Batch 32, 80 images: a slow first step, one steady full batch, a slow partial last batch.
  EXPECT_DOUBLE_EQ(sw::steady_train_seconds({0.09, 0.04, 0.07}, {32, 32, 16}, 32), 0.04 * 80 / 32);
  // Many steps: the median of the full batches after the first, so one slow step changes nothing.
  std::vector<double> t(10, 0.1);
  std::vector<int64_t> n(10, 32);
  t[0] = 0.5;
  t[6] = 0.9;
  EXPECT_DOUBLE_EQ(sw::steady_train_seconds(t, n, 32), 0.1 * 10);
  // An even count of full batches: the mean of the middle two.
  EXPECT_DOUBLE_EQ(sw::steady_train_seconds({1.0, 0.2, 0.4}, {32, 32, 32}, 32), 0.3 * 3);
  // Nothing after the first full batch to learn the steady rate from: the measured sum.
  EXPECT_DOUBLE_EQ(sw::steady_train_seconds({0.09, 0.05}, {32, 10}, 32), 0.14);
  EXPECT_DOUBLE_EQ(sw::steady_train_seconds({}, {}, 32), 0);
}
