// The energy error model: every source's interval, what widens it, and the bounds in records.
#include <gtest/gtest.h>

#include <cmath>

#include <nlohmann/json.hpp>

#include "meter/carbon.hpp"
#include "meter/tracker.hpp"
#include "meter/uncertainty.hpp"
#include "meter_test_util.hpp"
#include "support/test_support.hpp"

namespace pepr::meter {
namespace {

Component comp(const std::string& method, const std::string& kind, bool in_total = true) {
  return Component{kind + ".0", kind, method, "test", in_total};
}

EnergyBounds bounds(const std::vector<Component>& cs, const std::vector<double>& j, double wall,
                    std::optional<double> idle = std::nullopt,
                    std::optional<double> share = std::nullopt, bool amd = false) {
  BoundsInput in;
  in.components = &cs;
  in.energy_j = &j;
  in.wall_s = wall;
  in.idle_j = idle;
  in.own_cpu_share = share;
  in.amd_cpu = amd;
  return energy_bounds(in);
}

TEST(Uncertainty, EveryMethodHasAnEntryWithItsBasis) {
  for (const char* m : {"rapl-powercap", "perf-pmu", "nvml-energy-counter", "nvml-power-sampling",
                        "amdsmi-energy-counter", "amdsmi-power-sampling", "jetson-ina3221",
                        "estimate", "idle-baseline", "pue", "carbon-intensity"}) {
    bool found = false;
    for (const auto& e : error_model())
      if (e.method == m) {
        found = true;
        EXPECT_FALSE(e.basis.empty()) << m;
        EXPECT_FALSE(e.widens.empty()) << m;
      }
    EXPECT_TRUE(found) << m;
  }
  // An unknown method is not trusted more than the estimate.
  EXPECT_EQ(method_error("some-new-sensor", "cpu").method, "estimate");
  // AMD's RAPL is a model: wider than Intel's.
  EXPECT_GT(method_error("rapl-powercap", "cpu", true).systematic,
            method_error("rapl-powercap", "cpu", false).systematic);
}

TEST(Uncertainty, RaplOverALongIntervalIsTight) {
  // 1000 J on an Intel package over 100 s: +-5 % systematic, +-2 % per run (+ 2 ms / 100 s).
  const auto b = bounds({comp("rapl-powercap", "cpu")}, {1000.0}, 100.0);
  EXPECT_NEAR(b.relative.systematic, 0.05, 1e-12);
  EXPECT_NEAR(b.relative.per_run, 0.02 + 2 * 0.001 / 100, 1e-12);
  const double u = 0.05 + 0.02 + 0.00002;
  EXPECT_NEAR(b.lo_j, 1000.0 / (1 + u), 1e-9);
  EXPECT_NEAR(b.hi_j, 1000.0 * (1 + u), 1e-9);
  EXPECT_TRUE(b.widened.empty());
}

TEST(Uncertainty, TheEstimateIsWithinAFactorOfTwoAndMore) {
  const auto b = bounds({comp("estimate", "cpu"), comp("estimate", "dram")}, {800.0, 200.0}, 100);
  EXPECT_LE(b.lo_j, 1000.0 / 2);
  EXPECT_GE(b.hi_j, 1000.0 * 2);
  EXPECT_NEAR(b.relative.systematic, 1.0, 1e-12);
  EXPECT_GT(b.relative.per_run, 0.25);
}

TEST(Uncertainty, AShortIntervalWidensThePerRunPart) {
  // NVML power sampling: the driver's ~1 s averaging window against a 2 s interval.
  const auto longer = bounds({comp("nvml-power-sampling", "gpu")}, {500.0}, 200.0);
  const auto short_ = bounds({comp("nvml-power-sampling", "gpu")}, {5.0}, 2.0);
  EXPECT_NEAR(longer.relative.per_run, 0.10 + 0.01, 1e-12);
  EXPECT_NEAR(short_.relative.per_run, 0.10 + 1.0, 1e-12);
  ASSERT_EQ(short_.widened.size(), 1u);
  EXPECT_NE(short_.widened[0].find("short interval"), std::string::npos);
}

TEST(Uncertainty, PartsContainedInTheTotalAreNotCountedTwice) {
  const auto b = bounds({comp("rapl-powercap", "cpu"), comp("rapl-powercap", "cpu-part", false)},
                        {1000.0, 900.0}, 100.0);
  EXPECT_NEAR(b.hi_j, 1000.0 * (1 + 0.07002), 1e-9);
}

TEST(Uncertainty, TheIdleBaselineWidensTheNetFigure) {
  // 3000 J raw, 1000 J idle: net 2000 J; the idle draw's 10 % adds +-100 J.
  const auto b = bounds({comp("rapl-powercap", "cpu")}, {3000.0}, 100.0, 1000.0);
  const double u = 0.07002;
  EXPECT_NEAR(b.lo_j, 3000.0 / (1 + u) - 1000.0 * 1.1, 1e-9);
  EXPECT_NEAR(b.hi_j, 3000.0 * (1 + u) - 1000.0 / 1.1, 1e-9);
  EXPECT_LT(b.lo_j, 2000.0);
  EXPECT_GT(b.hi_j, 2000.0);
  // Relative to the net figure: the raw error weighs 1.5x, plus the idle's.
  EXPECT_NEAR(b.relative.systematic, 0.05 * 3000 / 2000, 1e-12);
  EXPECT_NEAR(b.relative.per_run, (0.02002 * 3000 + 0.1 * 1000) / 2000, 1e-12);
}

TEST(Uncertainty, ALoadedMachineLowersThePackageSensorsBoundOnly) {
  // The job did half the machine's CPU work: RAPL's package figure may be up to half others'.
  const auto rapl = bounds({comp("rapl-powercap", "cpu")}, {1000.0}, 100.0, std::nullopt, 0.5);
  EXPECT_NEAR(rapl.lo_j, 1000.0 / 1.07002 * 0.5, 1e-9);
  EXPECT_NEAR(rapl.hi_j, 1000.0 * 1.07002, 1e-9);
  ASSERT_FALSE(rapl.widened.empty());
  EXPECT_NE(rapl.widened.back().find("loaded"), std::string::npos);
  EXPECT_GT(rapl.relative.per_run, 1.0);  // the value may be twice the job's own
  // The estimate counts the job's own CPU time: others' work does not enter it.
  const auto est = bounds({comp("estimate", "cpu")}, {1000.0}, 100.0, std::nullopt, 0.5);
  const auto est_idle = bounds({comp("estimate", "cpu")}, {1000.0}, 100.0);
  EXPECT_DOUBLE_EQ(est.lo_j, est_idle.lo_j);
}

TEST(Uncertainty, TheTrackerRecordsTheBoundsOfEveryInterval) {
  pepr::test::EnvGuard env{PEPR_NO_SENSORS_ENV};
  TrackerOptions o;
  o.pue = 1.5;
  o.intensity = {200, "XX", "test"};
  o.cpu_tdp_w = 100;
  Tracker t(o);
  t.start();
  volatile double x = 0;
  for (int i = 0; i < 20000000; ++i) x = x + i * 0.5;
  t.mark("a");
  auto total = t.stop();
  ASSERT_GT(total.energy_kwh, 0);
  EXPECT_LT(total.energy_kwh_lo, total.energy_kwh);
  EXPECT_GT(total.energy_kwh_hi, total.energy_kwh);
  EXPECT_LE(total.energy_kwh_lo, total.energy_kwh / 2);  // the estimate: within a factor of 2+
  EXPECT_LT(total.co2_g_lo, total.co2_g);
  EXPECT_GT(total.co2_g_hi, total.co2_g);
  // CO2eq adds the grid intensity's error to the energy's.
  EXPECT_LT(total.co2_g_lo / total.co2_g, total.energy_kwh_lo / total.energy_kwh);
  auto j = t.to_json();
  for (const auto* iv : {&j["total"], &j["intervals"][0]}) {
    EXPECT_LE((*iv)["energy_kwh_lo"].get<double>(), (*iv)["energy_kwh"].get<double>());
    EXPECT_GE((*iv)["energy_kwh_hi"].get<double>(), (*iv)["energy_kwh"].get<double>());
    EXPECT_NEAR((*iv)["energy_error"]["systematic"].get<double>(), 1.0, 1e-12);
  }
  EXPECT_NE(t.summary().find("systematic"), std::string::npos) << t.summary();
  // Recomputed under another PUE, the bounds follow it.
  const double lo = j["total"]["energy_kwh_lo"].get<double>();
  recompute_carbon(j, {400, "", "test"}, 1.0);
  EXPECT_NEAR(j["total"]["energy_kwh_lo"].get<double>(), lo / 1.5, 1e-15);
  EXPECT_LT(j["total"]["co2_g_lo"].get<double>(), j["total"]["co2_g"].get<double>());
  EXPECT_GT(j["total"]["co2_g_hi"].get<double>(), j["total"]["co2_g"].get<double>());
}

TEST(Uncertainty, DocsTableIsTheModel) {
  // docs/meters.md's table: one row per entry, with the code's figures.
  const std::string doc = pepr::test::read_file(pepr::test::source_dir() / "docs" / "meters.md");
  for (const auto& e : error_model()) {
    const std::string kind = e.kind == "cpu-amd" ? "cpu (AMD)" : e.kind.empty() ? "any" : e.kind;
    const std::string row = "| `" + e.method + "` | " + kind + " | " +
                            std::to_string(std::lround(100 * e.systematic)) + " % | " +
                            std::to_string(std::lround(100 * e.per_run)) + " % |";
    EXPECT_NE(doc.find(row), std::string::npos) << "docs/meters.md lacks the row " << row;
  }
}

}  // namespace
}  // namespace pepr::meter
