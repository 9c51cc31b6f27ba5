// NVIDIA Jetson boards through fake INA3221 sysfs trees (both layouts) in a temporary folder.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "meter/jetson.hpp"
#include "meter/tracker.hpp"
#include "meter/uncertainty.hpp"
#include "meter_test_util.hpp"
#include "support/test_support.hpp"

namespace pepr::meter {
namespace {

namespace fs = std::filesystem;
using pepr::test::EnvGuard;
using pepr::test::put;
using json = nlohmann::json;

// Older L4T (Nano): NVIDIA's ina3221x IIO driver, one power file per rail in mW.
fs::path iio_tree(const fs::path& root) {
  const fs::path dev = root / "bus/i2c/drivers/ina3221x/6-0040/iio:device0";
  fs::create_directories(dev);
  put(dev / "rail_name_0", "POM_5V_IN\n");
  put(dev / "in_power0_input", "5000\n");
  put(dev / "rail_name_1", "POM_5V_GPU\n");
  put(dev / "in_power1_input", "1500\n");
  put(dev / "rail_name_2", "POM_5V_CPU\n");
  put(dev / "in_power2_input", "2000\n");
  return dev;
}

// A channel of an ina3221 hwmon device: label, bus voltage (mV) and current (mA).
void hwmon_channel(const fs::path& dir, int ch, const std::string& label, int mv, int ma) {
  put(dir / ("in" + std::to_string(ch) + "_label"), label + "\n");
  put(dir / ("in" + std::to_string(ch) + "_input"), std::to_string(mv) + "\n");
  put(dir / ("curr" + std::to_string(ch) + "_input"), std::to_string(ma) + "\n");
}

// L4T 34 and later (Orin): the ina3221 hwmon driver, beside another hwmon device.
fs::path hwmon_tree(const fs::path& root) {
  fs::create_directories(root / "class/hwmon/hwmon0");
  put(root / "class/hwmon/hwmon0/name", "acpitz\n");
  const fs::path dir = root / "class/hwmon/hwmon1";
  fs::create_directories(dir);
  put(dir / "name", "ina3221\n");
  hwmon_channel(dir, 1, "VDD_IN", 5000, 1200);         // 6 W
  hwmon_channel(dir, 2, "VDD_CPU_GPU_CV", 5000, 400);  // 2 W
  hwmon_channel(dir, 3, "VDD_SOC", 5000, 300);         // 1.5 W
  return dir;
}

SampleContext at(double t) {
  SampleContext c;
  c.t_s = t;
  return c;
}

// A tracker's options with no RAPL, NVML or amdsmi: the Jetson's rails under `jetson_root`.
TrackerOptions jetson_only(const std::string& jetson_root) {
  TrackerOptions o;
  o.powercap_root = "/nonexistent/powercap";
  o.nvml_lib = "/nonexistent/libnvidia-ml.so.1";
  o.amdsmi_lib = "/nonexistent/libamd_smi.so";
  o.jetson_root = jetson_root;
  return o;
}

std::string all(const std::vector<std::string>& notes) {
  std::string out;
  for (const auto& n : notes) out += n + "\n";
  return out;
}

TEST(Jetson, Ina3221xRailsGiveTheBoardTotalAndItsParts) {
  pepr::test::TempDir tmp;
  iio_tree(tmp.path());
  JetsonScan s = scan_jetson(tmp.path().string());
  ASSERT_EQ(s.rails.size(), 3u) << s.problem;
  EXPECT_EQ(s.layout, "ina3221x (iio)");
  EXPECT_NEAR(*s.rails[0].power_w, 5.0, 1e-12);
  JetsonSource src(s);
  ASSERT_EQ(src.components().size(), 3u);
  const auto& c = src.components();
  EXPECT_EQ(c[0].name, "jetson.POM_5V_IN");
  EXPECT_EQ(c[0].kind, "board");
  EXPECT_TRUE(c[0].in_total);
  EXPECT_EQ(c[1].kind, "gpu");
  EXPECT_FALSE(c[1].in_total);
  EXPECT_EQ(c[2].kind, "cpu-part");
  EXPECT_FALSE(c[2].in_total);
  EXPECT_EQ(c[0].method, "jetson-ina3221");
  EXPECT_TRUE(src.needs_periodic());
  src.begin(at(100));
  src.sample(at(105));
  src.sample(at(110));  // constant power for 10 s
  EXPECT_NEAR(src.joules()[0], 50.0, 1e-9);
  EXPECT_NEAR(src.joules()[1], 15.0, 1e-9);
  EXPECT_NEAR(src.joules()[2], 20.0, 1e-9);
  EXPECT_TRUE(src.notes().empty()) << all(src.notes());
}

TEST(Jetson, HwmonRailsAreVoltageTimesCurrent) {
  pepr::test::TempDir tmp;
  const fs::path dir = hwmon_tree(tmp.path());
  JetsonScan s = scan_jetson(tmp.path().string());
  ASSERT_EQ(s.rails.size(), 3u) << s.problem;
  EXPECT_EQ(s.layout, "ina3221 (hwmon)");
  JetsonSource src(s);
  const auto& c = src.components();
  ASSERT_EQ(c.size(), 3u);
  EXPECT_EQ(c[0].name, "jetson.VDD_IN");
  EXPECT_TRUE(c[0].in_total);
  EXPECT_EQ(c[1].kind, "cpu-part");  // CPU, GPU and CV on one rail
  EXPECT_EQ(c[2].kind, "board-part");
  EXPECT_FALSE(c[2].in_total);
  src.begin(at(0));
  src.sample(at(4));
  EXPECT_NEAR(src.joules()[0], 24.0, 1e-9);
  EXPECT_NEAR(src.joules()[1], 8.0, 1e-9);
  EXPECT_NEAR(src.joules()[2], 6.0, 1e-9);
  hwmon_channel(dir, 1, "VDD_IN", 5000, 1800);  // 9 W now
  src.sample(at(6));                            // trapezoid: (6 + 9) / 2 x 2 s
  EXPECT_NEAR(src.joules()[0], 39.0, 1e-9);
}

TEST(Jetson, WithoutABoardInputTheRailsAreAdded) {
  pepr::test::TempDir tmp;
  const fs::path dir = tmp / "class/hwmon/hwmon3";
  fs::create_directories(dir);
  put(dir / "name", "ina3221\n");
  hwmon_channel(dir, 1, "GPU", 1000, 1000);
  hwmon_channel(dir, 2, "CPU", 1000, 2000);
  hwmon_channel(dir, 3, "NC", 0, 0);  // not connected
  JetsonSource src(scan_jetson(tmp.path().string()));
  ASSERT_EQ(src.components().size(), 2u);
  EXPECT_EQ(src.components()[0].kind, "gpu");
  EXPECT_EQ(src.components()[1].kind, "cpu");
  EXPECT_TRUE(src.components()[0].in_total && src.components()[1].in_total);
}

TEST(Jetson, ImpossibleReadingsAreRejectedWithANote) {
  pepr::test::TempDir tmp;
  const fs::path dev = iio_tree(tmp.path());
  JetsonSource src(scan_jetson(tmp.path().string()));
  ASSERT_EQ(src.components().size(), 3u);
  src.begin(at(0));
  put(dev / "in_power0_input", "-4000\n");
  src.sample(at(1));
  put(dev / "in_power0_input", "nan\n");
  src.sample(at(2));
  put(dev / "in_power0_input", "900000\n");  // 900 W on a Jetson
  src.sample(at(3));
  EXPECT_NEAR(src.joules()[0], 0.0, 1e-12);
  put(dev / "in_power0_input", "5000\n");
  src.sample(at(4));  // 5 W across the rejected readings
  EXPECT_NEAR(src.joules()[0], 20.0, 1e-9);
  EXPECT_NE(all(src.notes())
                .find("Jetson rail POM_5V_IN: 3 impossible readings rejected (the "
                      "last: 900 W"),
            std::string::npos)
      << all(src.notes());
}

TEST(Jetson, UnreadableRailsSayWhatToDo) {
  pepr::test::TempDir tmp;
  const fs::path dev = iio_tree(tmp.path());
  for (const char* f : {"in_power0_input", "in_power1_input", "in_power2_input"}) {
    fs::remove(dev / f);
    fs::create_directories(dev / f);  // a read fails (EISDIR), as an unreadable file would
  }
  JetsonScan s = scan_jetson(tmp.path().string());
  EXPECT_EQ(s.readable(), 0u);
  EXPECT_NE(s.problem.find("INA3221 rails not readable ("), std::string::npos) << s.problem;
  EXPECT_NE(s.problem.find("run as root or add the user to the i2c group"), std::string::npos);
  JetsonScan none = scan_jetson((tmp / "empty").string());
  EXPECT_NE(none.problem.find("no INA3221 rails under"), std::string::npos) << none.problem;
}

TEST(Jetson, TrackerUsesTheRailsInsteadOfTheEstimate) {
  pepr::test::TempDir tmp;
  iio_tree(tmp.path());
  EnvGuard env{{"PEPR_PERF", std::string("0")}};
  TrackerOptions o = jetson_only(tmp.path().string());
  Tracker t(o);
  int in_total = 0;
  for (const auto& c : t.components()) {
    if (c.method == "estimate") {
      EXPECT_FALSE(c.in_total) << c.name;  // the rails include it
    }
    in_total += c.in_total;
  }
  EXPECT_EQ(in_total, 1);  // the board's input alone
  const json j = t.to_json();
  EXPECT_EQ(j["sensors"]["jetson"].get<std::string>().rfind("used: ina3221x (iio) under ", 0), 0u)
      << j["sensors"];
  EXPECT_NE(all(t.notes()).find("the CPU/DRAM estimate is reported but not added"),
            std::string::npos)
      << all(t.notes());
}

// The rails' energy carries the INA3221's error (docs/meters.md), not the estimate's: the
// estimate beside them is not in the total, so it does not widen the bounds either. 5 W for
// about 0.4 s: 2 J.
TEST(Jetson, TheRailsEnergyHasTheIna3221sInterval) {
  pepr::test::TempDir tmp;
  iio_tree(tmp.path());
  EnvGuard env{{"PEPR_PERF", std::string("0")}};
  TrackerOptions o = jetson_only(tmp.path().string());
  o.interval_s = 0.02;
  o.pue = 1.0;
  Tracker t(o);
  t.start();
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  const auto total = t.stop();
  EXPECT_NEAR(total.energy_kwh * 3.6e6, 5.0 * total.wall_s, 0.3);
  EXPECT_LT(total.energy_kwh_lo, total.energy_kwh);
  EXPECT_GT(total.energy_kwh_hi, total.energy_kwh);
  const auto& rails = method_error("jetson-ina3221", "board");
  EXPECT_NEAR(total.energy_error.systematic, rails.systematic, 1e-12);
  // The upper bound: the rails' own parts, the per-run one widened by the short interval against
  // their update period. (On a loaded machine the lower bound falls further, and per_run with it:
  // the rails read the whole board.)
  const double per_run = rails.per_run + 2 * rails.update_period_s / total.wall_s;
  EXPECT_NEAR(total.energy_kwh_hi / total.energy_kwh, 1 + rails.systematic + per_run, 1e-9);
  EXPECT_GE(total.energy_error.per_run, per_run - 1e-9);
  // The estimate's +-100 % is nowhere in it.
  EXPECT_LT(total.energy_kwh_hi / total.energy_kwh, 2.0);
}

// `pepr track` on a Jetson: the energy is the rails', and the summary does not call it an
// estimate (the CPU estimate is reported, not added).
TEST(Jetson, TrackSaysTheRailsNotTheEstimate) {
  pepr::test::TempDir tmp;
  iio_tree(tmp.path());
  EnvGuard env{PEPR_NO_SENSORS_ENV};
  EnvGuard root{{"PEPR_JETSON_SYSFS_ROOT", tmp.path().string()}};
  auto r = pepr::test::run_pepr({"track", "-o", (tmp / "r.json").string(), "--", "sleep", "0.3"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err.find("estimate (no sensor)"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("CPU estimate reported, not added"), std::string::npos) << r.err;
  const json rec = json::parse(pepr::test::read_file(tmp / "r.json"));
  EXPECT_EQ(rec["methods"]["energy"].get<std::string>().rfind("jetson-ina3221", 0), 0u)
      << rec["methods"];
}

TEST(Jetson, MetersListsTheRailsOrWhyNot) {
  pepr::test::TempDir tmp;
  const fs::path dev = iio_tree(tmp.path());
  EnvGuard env{PEPR_NO_SENSORS_ENV};
  EnvGuard root{{"PEPR_JETSON_SYSFS_ROOT", tmp.path().string()}};
  auto r = pepr::test::run_pepr({"meters", "--window", "0.05", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json p = json::parse(r.out);
  EXPECT_TRUE(p["jetson"]["usable"].get<bool>());
  ASSERT_EQ(p["jetson"]["rails"].size(), 3u);
  EXPECT_NEAR(p["jetson"]["rails"][1]["power_w"].get<double>(), 1.5, 1e-9);
  EXPECT_FALSE(p["jetson"]["rails"][1]["in_total"].get<bool>());
  EXPECT_EQ(p["selected"]["gpu"], "jetson-ina3221 (board rails)");
  EXPECT_EQ(p["selected"]["cpu_dram"].get<std::string>().rfind("jetson-ina3221", 0), 0u);

  fs::remove(dev / "in_power0_input");
  fs::create_directories(dev / "in_power0_input");
  auto t = pepr::test::run_pepr({"meters", "--window", "0.05"});
  EXPECT_NE(t.out.find("POM_5V_IN        unreadable: "), std::string::npos) << t.out;
  // Without the board's input the other rails are the total (the best there is, and noted).
  EXPECT_NE(t.out.find("1.50 W   counted in the total"), std::string::npos) << t.out;
  EnvGuard gone{{"PEPR_JETSON_SYSFS_ROOT", (tmp / "none").string()}};
  auto n = pepr::test::run_pepr({"meters", "--window", "0.05"});
  EXPECT_NE(n.out.find("Jetson INA3221 " + (tmp / "none").string() + "  NOT USABLE"),
            std::string::npos)
      << n.out;
  EXPECT_NE(n.out.find("reason: no INA3221 rails under"), std::string::npos);
}

}  // namespace
}  // namespace pepr::meter

namespace pepr::meter {
namespace {
namespace fs = std::filesystem;

// tegrastats' lines on L4T 32 (Nano: mW without a unit) and 34+ (Orin Nano: "mW"); everything
// that is not a rail is left alone.
TEST(Tegrastats, LinesOfBothReleasesGiveTheRails) {
  const auto nano = parse_tegrastats_line(
      "RAM 1552/3964MB (lfb 118x4MB) SWAP 0/1982MB (cached 0MB) IRAM 0/252kB(lfb 252kB) CPU "
      "[3%@102,2%@102,0%@102,0%@102] EMC_FREQ 0%@1600 GR3D_FREQ 0%@76 APE 25 PLL@21.5C "
      "CPU@24.5C PMIC@100C GPU@23C AO@31.5C thermal@23.75C POM_5V_IN 2048/2048 POM_5V_GPU 0/0 "
      "POM_5V_CPU 409/409");
  ASSERT_EQ(nano.size(), 3u);
  EXPECT_EQ(nano[0].first, "POM_5V_IN");
  EXPECT_DOUBLE_EQ(nano[0].second, 2.048);
  EXPECT_DOUBLE_EQ(nano[2].second, 0.409);
  const auto orin = parse_tegrastats_line(
      "12-06-2026 21:00:00 RAM 2232/7620MB (lfb 6x4MB) SWAP 0/3810MB (cached 0MB) CPU "
      "[2%@729,off,off] EMC_FREQ 0%@2133 GR3D_FREQ 0%@[305] VIC_FREQ 729 APE 174 CPU@48.8C "
      "tj@48.8C VDD_IN 4752mW/4000mW VDD_CPU_GPU_CV 557mW/600mW VDD_SOC 1354mW/1354mW");
  ASSERT_EQ(orin.size(), 3u);
  EXPECT_EQ(orin[0].first, "VDD_IN");
  EXPECT_DOUBLE_EQ(orin[0].second, 4.752);  // the current power, not the average
  EXPECT_EQ(orin[1].first, "VDD_CPU_GPU_CV");
  for (const char* junk : {"", "RAM 2000/3964MB", "VDD_IN 5000mW/5000", "VDD_IN x/y", "vdd_in 5/5",
                           "VDD_IN 99999999999/1", "\xff\xfe VDD_IN"})
    EXPECT_TRUE(parse_tegrastats_line(junk).empty()) << junk;
}

// A fake tegrastats: the Orin layout every 50 ms until stopped.
fs::path fake_tegrastats(const fs::path& dir, const std::string& line) {
  const fs::path f = dir / "tegrastats";
  put(f, "#!/bin/sh\n# fake tegrastats (pepr's tests): $1 $2 ignored\nwhile true; do echo '" +
             line + "'; sleep 0.05; done\n");
  fs::permissions(f, fs::perms::owner_all);
  return f;
}

// Whether a process runs `path` (its command line names it).
bool running(const fs::path& path) {
  for (const auto& e : fs::directory_iterator("/proc")) {
    std::ifstream in(e.path() / "cmdline");
    std::string cmd((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (cmd.find(path.string()) != std::string::npos) return true;
  }
  return false;
}

// No readable rail in sysfs: the tracker reads them from tegrastats, integrates the board's
// input (5 W), and stops tegrastats with itself.
TEST(Tegrastats, TrackerUsesItWhereSysfsHasNoRails) {
  pepr::test::TempDir tmp;
  const fs::path prog = fake_tegrastats(
      tmp.path(), "RAM 2000/3964MB VDD_IN 5000mW/5000mW VDD_CPU_GPU_CV 1000mW/1000mW");
  EnvGuard env{{"PEPR_PERF", std::string("0")}, {"PEPR_TEGRASTATS", prog.string()}};
  TrackerOptions o = jetson_only((tmp / "empty-sys").string());
  o.interval_s = 0.02;
  {
    Tracker t(o);
    int in_total = 0;
    for (const auto& c : t.components())
      if (c.in_total) {
        ++in_total;
        EXPECT_EQ(c.name, "jetson.VDD_IN");
        EXPECT_EQ(c.method, "jetson-tegrastats");
      }
    EXPECT_EQ(in_total, 1);
    EXPECT_EQ(t.to_json()["sensors"]["jetson"], "used: tegrastats (" + prog.string() + ")");
    t.start();
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    const auto total = t.stop();
    EXPECT_NEAR(total.energy_kwh * 3.6e6, 5.0 * total.wall_s, 0.3);
    EXPECT_NEAR(total.energy_error.systematic,
                method_error("jetson-tegrastats", "board").systematic, 1e-12);
    EXPECT_TRUE(running(prog));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_FALSE(running(prog)) << "tegrastats outlived the tracker";
}

// tegrastats that prints no rails (or is absent): the sysfs reason stands, with tegrastats' own.
TEST(Tegrastats, WithoutRailsTheReasonsAreBothSaid) {
  pepr::test::TempDir tmp;
  const fs::path prog = tmp / "tegrastats";
  put(prog, "#!/bin/sh\necho 'RAM 2000/3964MB CPU [1%@102]'\n");
  fs::permissions(prog, fs::perms::owner_all);
  EnvGuard env{{"PEPR_TEGRASTATS", prog.string()}};
  const JetsonScan s = scan_jetson_or_tegrastats((tmp / "empty-sys").string());
  EXPECT_EQ(s.readable(), 0u);
  EXPECT_NE(s.problem.find("no INA3221 rails under"), std::string::npos) << s.problem;
  EXPECT_NE(s.problem.find("tegrastats: " + prog.string() + " printed no power rails"),
            std::string::npos)
      << s.problem;
  EnvGuard off{{"PEPR_TEGRASTATS", std::string("off")}};
  EXPECT_EQ(scan_jetson_or_tegrastats((tmp / "empty-sys").string()).problem.find("tegrastats"),
            std::string::npos);
}

// `pepr meters` lists the rails tegrastats printed.
TEST(Tegrastats, MetersListsItsRails) {
  pepr::test::TempDir tmp;
  const fs::path prog =
      fake_tegrastats(tmp.path(), "VDD_IN 6000mW/6000mW VDD_CPU_GPU_CV 2000mW/2000mW");
  EnvGuard env{PEPR_NO_SENSORS_ENV};
  EnvGuard t{{"PEPR_TEGRASTATS", prog.string()}};
  auto r = pepr::test::run_pepr({"meters", "--window", "0.05", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json p = json::parse(r.out);
  EXPECT_EQ(p["jetson"]["layout"], "tegrastats");
  ASSERT_EQ(p["jetson"]["rails"].size(), 2u);
  EXPECT_NEAR(p["jetson"]["rails"][0]["power_w"].get<double>(), 6.0, 1e-9);
  EXPECT_EQ(p["selected"]["gpu"], "jetson-tegrastats (board rails)");
}

}  // namespace
}  // namespace pepr::meter
