#include <gtest/gtest.h>

#include "core/curve.hpp"
#include "core/error.hpp"
#include "core/pareto.hpp"
#include "core/table.hpp"
#include "support/test_support.hpp"

using namespace pepr;

TEST(Curve, MaximumAndTiesGoToTheSmallestR) {
  // PePR = P / (1 + R): 0.5/1, 0.8/1.25 = 0.64, 0.9/1.5 = 0.6, 0.96/1.5 = 0.64 (tie).
  std::vector<double> r{0.0, 0.25, 0.5, 0.5};
  std::vector<double> p{0.5, 0.8, 0.9, 0.96};
  auto m = curve_maximum(r, p);
  EXPECT_EQ(m.index, 1u);
  EXPECT_DOUBLE_EQ(m.p_star, 0.64);
  EXPECT_THROW(curve_maximum({}, {}), Error);
}

TEST(Curve, WideTableSpreadsTheTotalEvenly) {
  Table t = Table::parse_csv(
      "model,energy,test_00,test_01,test_02,test_03\n"
      "a,4,0.5,0.6,0.7,0.72\n"
      "b,2,0.6,0.65,0.66,0.67\n",
      "w.csv");
  CurveOptions o;
  o.wide = true;
  o.performance.column = "test_";
  o.resource = "energy";
  auto res = pepr_curves(t, o);
  ASSERT_EQ(res.summary.num_rows(), 2u);
  ASSERT_EQ(res.points.num_rows(), 8u);
  // zero-normalisation over all points: a's cumulative energy 1,2,3,4 -> R 0.25..1.
  // a: 0.5/1.25=0.4, 0.6/1.5=0.4, 0.7/1.75=0.4, 0.72/2=0.36 -> tie, smallest R: epoch 0.
  EXPECT_EQ(res.summary.cell(0, res.summary.require_column("epoch_star")), "0");
  EXPECT_DOUBLE_EQ(res.summary.number(0, res.summary.require_column("P_star")), 0.4);
  // b: cumulative 0.5,1,1.5,2 -> R 0.125..0.5; 0.6/1.125 = 0.5333 is the best.
  EXPECT_NEAR(res.summary.number(1, res.summary.require_column("P_star")), 0.6 / 1.125, 1e-15);
  EXPECT_EQ(res.summary.number(1, res.summary.require_column("energy_star")), 0.5);
  EXPECT_NE(res.notes[0].find("spread evenly"), std::string::npos);
}

TEST(Curve, LongTableOrdersByEpoch) {
  Table t = Table::parse_csv(
      "model,epoch,energy_kwh,acc\n"
      "a,2,2,0.9\n"
      "a,1,1,0.8\n",
      "l.csv");
  CurveOptions o;
  o.performance.column = "acc";
  o.resource = "energy";
  o.epoch = "epoch";
  auto res = pepr_curves(t, o);
  ASSERT_EQ(res.points.num_rows(), 2u);
  EXPECT_EQ(res.points.cell(0, res.points.require_column("epoch")), "1");
  // R = 0.5 and 1: 0.8/1.5 = 0.533 vs 0.9/2 = 0.45.
  EXPECT_EQ(res.summary.cell(0, res.summary.require_column("epoch_star")), "1");
}

TEST(Pareto, FrontAndKnee) {
  //            0    1    2    3    4    5
  std::vector<double> r{1.0, 2.0, 3.0, 2.5, 10.0, 1.0};
  std::vector<double> p{0.5, 0.8, 0.85, 0.7, 0.9, 0.4};
  auto front = pareto_front(r, p);
  EXPECT_EQ(front, (std::vector<std::size_t>{0, 1, 2, 4}));
  auto knee = knee_point(front, r, p);
  ASSERT_TRUE(knee);
  // Scaled to the front's ends: point 1 at (0.111, 0.75), point 2 at (0.222, 0.875);
  // distances above the diagonal 0.639 and 0.653: point 2 is the knee.
  EXPECT_EQ(*knee, 2u);
  EXPECT_FALSE(knee_point({0, 1}, r, p));
  // Duplicates of a front point stay on the front.
  EXPECT_EQ(pareto_front({1, 1}, {0.5, 0.5}).size(), 2u);
}

TEST(Pareto, NoFrontPointIsDominated) {
  std::vector<double> r, p;
  unsigned x = 7;
  for (int i = 0; i < 300; ++i) {
    x = x * 1664525u + 1013904223u;
    r.push_back((x >> 8) % 1000 / 10.0);
    x = x * 1664525u + 1013904223u;
    p.push_back((x >> 8) % 1000 / 1000.0);
  }
  auto front = pareto_front(r, p);
  std::vector<bool> on(r.size(), false);
  for (auto i : front) on[i] = true;
  for (std::size_t i = 0; i < r.size(); ++i) {
    bool dominated = false;
    for (std::size_t j = 0; j < r.size(); ++j)
      if (r[j] <= r[i] && p[j] >= p[i] && (r[j] < r[i] || p[j] > p[i])) dominated = true;
    EXPECT_EQ(on[i], !dominated) << i;
  }
}
