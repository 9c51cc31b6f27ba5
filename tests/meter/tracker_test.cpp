// The Tracker on the estimate path (no sensor), intervals, memory and the idle baseline.
#include <fcntl.h>
#include <gtest/gtest.h>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <ctime>

#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "meter/estimate.hpp"
#include "meter/tracker.hpp"
#include "meter/util.hpp"
#include "meter_test_util.hpp"
#include "support/test_support.hpp"

namespace pepr::meter {
namespace {

using pepr::test::EnvGuard;

// Spends `seconds` of this thread's CPU time (not wall time: on a loaded machine a wall-clock
// burn gets less CPU than it asks for, and a test of CPU-time accounting would flake).
void burn(double seconds) {
  auto cpu_now = [] {
    timespec ts{};
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
  };
  const double end = cpu_now() + seconds;
  volatile double x = 0;
  while (cpu_now() < end)
    for (int i = 0; i < 1000; ++i) x = x + i * 0.5;
}

TEST(Estimate, TdpTable) {
  int cpus = 80;
  CpuPower p = cpu_power(std::nullopt, "Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz", cpus);
  EXPECT_DOUBLE_EQ(p.full_load_w, 300.0);  // two 150 W packages of 40 threads
  EXPECT_NE(p.why.find("TDP table"), std::string::npos);
  // 6248R is another part: not matched by "Gold 6248".
  CpuPower r = cpu_power(std::nullopt, "Intel(R) Xeon(R) Gold 6248R CPU @ 3.00GHz", 4);
  EXPECT_DOUBLE_EQ(r.full_load_w, 4 * kDefaultWattsPerCpu);
  EXPECT_NE(r.why.find("not in the TDP table"), std::string::npos);
  CpuPower o = cpu_power(65.0, "anything", 4);
  EXPECT_DOUBLE_EQ(o.full_load_w, 65.0);
  EXPECT_NE(o.why.find("--cpu-tdp 65 W"), std::string::npos);
}

TEST(Tracker, EstimateScalesTdpByCpuTime) {
  EnvGuard env{PEPR_NO_SENSORS_ENV};
  TrackerOptions o;
  o.cpu_tdp_w = 40.0;
  o.interval_s = 0.02;
  Tracker t(o);
  EXPECT_EQ(t.energy_method(), "estimate");
  EXPECT_NE(t.estimate_reason().find("no readable RAPL powercap (no powercap tree at "
                                     "/nonexistent/powercap) and no perf power PMU (perf PMU "
                                     "disabled by PEPR_PERF=0)"),
            std::string::npos)
      << t.estimate_reason();
  const double per_cpu = 40.0 / online_cpus();
  t.start();
  burn(0.3);
  auto a = t.mark("busy");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto b = t.mark("idle");
  auto total = t.stop();
  EXPECT_GT(a.cpu_s, 0.2);
  EXPECT_LT(b.cpu_s, 0.1);
  // cpu.estimate = TDP / CPUs x CPU seconds, exactly.
  EXPECT_NEAR(a.energy_j[0], per_cpu * a.cpu_s, 1e-9);
  EXPECT_NEAR(b.energy_j[0], per_cpu * b.cpu_s, 1e-9);
  EXPECT_GT(a.energy_j[0], 5 * b.energy_j[0]);
  // Intervals add up to the total.
  const auto& ivs = t.intervals();
  ASSERT_GE(ivs.size(), 2u);
  double e = 0, w = 0;
  for (const auto& iv : ivs) e += iv.energy_raw_j, w += iv.wall_s;
  EXPECT_NEAR(e, total.energy_raw_j, 1e-9);
  EXPECT_NEAR(w, total.wall_s, 1e-6);
  EXPECT_EQ(ivs[0].label, "busy");
  EXPECT_EQ(ivs[1].label, "idle");
  auto j = t.to_json();
  EXPECT_EQ(j["methods"]["energy"], "estimate");
  EXPECT_EQ(j["components"][0]["method"], "estimate");
  EXPECT_FALSE(j["estimate_reason"].is_null());
  EXPECT_EQ(j["intervals"][0]["label"], "busy");
}

TEST(Tracker, PeakMemoryPerInterval) {
  EnvGuard env{PEPR_NO_SENSORS_ENV};
  TrackerOptions o;
  o.interval_s = 0.01;
  Tracker t(o);
  t.start();
  auto a = t.mark("small");
  std::vector<char> big(300u << 20);
  std::memset(big.data(), 1, big.size());
  auto b = t.mark("big");
  big.clear();
  big.shrink_to_fit();
  auto total = t.stop();
  EXPECT_GT(b.mem_peak_gb, a.mem_peak_gb + 0.25);
  EXPECT_GE(total.mem_peak_gb, b.mem_peak_gb);
  // DRAM estimate: 0.375 W/GB integrated over the resident memory.
  EXPECT_GT(total.energy_j[1], 0);
}

TEST(Tracker, ChildPeakMemoryStartsAtExec) {
  // A child holds 200 MB of the image it was forked from, then execs sleep: its peak is sleep's.
  // (pepr's own children hold only the image they were forked with; this one grows it first, so
  // the test waits until it has, else under load no sample would see the 200 MB before the exec
  // and nothing could tell them from sleep's own peak.)
  EnvGuard env{PEPR_NO_SENSORS_ENV};
  pepr::test::GrownChildBeforeExec child("0.3");
  const pid_t pid = child.pid();
  ASSERT_GE(pid, 0);
  TrackerOptions o;
  o.interval_s = 0.01;
  Tracker t(o);
  t.set_target(pid);
  t.start();
  ASSERT_TRUE(child.wait_grown());                              // the 200 MB are resident
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // samples of the forked image
  ASSERT_TRUE(child.release_and_wait_exec());
  t.child_execed();
  int status = 0;
  struct rusage ru {};
  ASSERT_EQ(::wait4(pid, &status, 0, &ru), pid);
  t.child_exited(ru);
  const auto total = t.stop();
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  // Linux keeps the pre-exec 200 MB in ru_maxrss; pepr reports sleep's few MB.
  EXPECT_GT(static_cast<double>(ru.ru_maxrss) * 1024 / 1e9, 0.15);
  EXPECT_LT(total.mem_peak_gb, 0.05);
  EXPECT_GT(total.mem_peak_gb, 0.0);
}

TEST(Tracker, DramEstimateIntegratesRss) {
  EnvGuard env{PEPR_NO_SENSORS_ENV};
  TrackerOptions o;
  o.interval_s = 0.01;
  o.keep_samples = true;
  Tracker t(o);
  t.start();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  auto total = t.stop();
  // About sampled RSS x 0.375 W/GB x wall (the RSS of the test process hardly moves).
  std::string s = t.samples_jsonl();
  const double rss = nlohmann::json::parse(s.substr(0, s.find('\n')))["rss_gb"].get<double>();
  ASSERT_GT(rss, 0);
  const double expect = rss * kDramWattsPerGb * total.wall_s;
  EXPECT_NEAR(total.energy_j[1], expect, 0.1 * expect);
}

TEST(Tracker, IdleBaselineGivesNetEnergy) {
  // A fake package that draws 10 W all along, and 30 W while the "job" runs.
  pepr::test::TempDir tmp;
  pepr::test::make_zone(tmp.path(), "intel-rapl:0", "package-0", "0");
  std::atomic<double> watts{10.0};
  std::atomic<bool> done{false};
  std::thread writer([&] {
    double uj = 0;
    auto last = std::chrono::steady_clock::now();
    while (!done) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
      auto now = std::chrono::steady_clock::now();
      uj += watts * std::chrono::duration<double>(now - last).count() * 1e6;
      last = now;
      pepr::test::set_energy(tmp.path(), "intel-rapl:0", static_cast<unsigned long long>(uj));
    }
  });
  EnvGuard env{{"PEPR_PERF", std::string("0")}};
  TrackerOptions o;
  o.powercap_root = tmp.path().string();
  o.use_nvml = false;
  o.intensity = {100, "", "test"};
  Tracker t(o);
  t.measure_idle(0.5);
  watts = 30.0;
  t.start();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  auto total = t.stop();
  done = true;
  writer.join();
  ASSERT_TRUE(total.idle_j.has_value());
  EXPECT_NEAR(*total.idle_j / total.wall_s, 10.0, 2.0);
  EXPECT_NEAR(total.energy_raw_j / total.wall_s, 30.0, 4.0);
  const double net_kwh = (total.energy_raw_j - *total.idle_j) / 3.6e6;
  EXPECT_NEAR(total.energy_kwh, net_kwh, 1e-15);
  EXPECT_NEAR(total.co2_g, net_kwh * 100, 1e-12);
  auto j = t.to_json();
  EXPECT_NEAR(j["idle_baseline"]["power_w"].get<double>(), 10.0, 2.0);
  EXPECT_NEAR(j["total"]["energy_gross_kwh"].get<double>(), total.energy_raw_j / 3.6e6, 1e-15);
}

TEST(Tracker, PueAndIntensityInRecord) {
  EnvGuard env{PEPR_NO_SENSORS_ENV};
  TrackerOptions o;
  o.pue = 1.58;
  o.intensity = {200, "XX", "test"};
  o.cpu_tdp_w = 100;
  Tracker t(o);
  t.start();
  burn(0.1);
  auto total = t.stop();
  auto j = t.to_json();
  const double raw = j["total"]["energy_raw_kwh"].get<double>();
  EXPECT_NEAR(raw, total.energy_raw_j / 3.6e6, 1e-18);
  EXPECT_NEAR(j["total"]["energy_kwh"].get<double>(), raw * 1.58, 1e-15);
  EXPECT_NEAR(j["total"]["co2_g"].get<double>(), raw * 200 * 1.58, 1e-12);
  EXPECT_EQ(j["carbon"]["pue"].get<double>(), 1.58);
}

TEST(Tracker, RejectsBadOptions) {
  EnvGuard env{PEPR_NO_SENSORS_ENV};
  TrackerOptions o;
  o.pue = 0.5;
  EXPECT_THROW(Tracker{o}, pepr::Error);
  o.pue = 1;
  o.interval_s = 0;
  EXPECT_THROW(Tracker{o}, pepr::Error);
  o.interval_s = 0.1;
  o.cpu_tdp_w = -3;
  EXPECT_THROW(Tracker{o}, pepr::Error);
}

TEST(Tracker, SamplesTimeSeries) {
  EnvGuard env{PEPR_NO_SENSORS_ENV};
  TrackerOptions o;
  o.interval_s = 0.02;
  o.keep_samples = true;
  Tracker t(o);
  t.start();
  burn(0.2);
  t.stop();
  std::string s = t.samples_jsonl();
  std::size_t lines = std::count(s.begin(), s.end(), '\n');
  EXPECT_GE(lines, 5u);
  auto first = nlohmann::json::parse(s.substr(0, s.find('\n')));
  EXPECT_TRUE(first["power_w"].contains("cpu.estimate"));
  EXPECT_TRUE(first.contains("rss_gb"));
  EXPECT_GT(t.sampler_cpu_s(), 0.0);
}

}  // namespace
}  // namespace pepr::meter
