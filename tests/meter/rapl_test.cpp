// RAPL through fake powercap trees: packages and sub-domains, wraparound, permission denied,
// missing and garbage files.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "meter/perf_power.hpp"
#include "meter/rapl.hpp"
#include "meter/tracker.hpp"
#include "meter_test_util.hpp"
#include "support/test_support.hpp"

namespace pepr::meter {
namespace {

using pepr::test::EnvGuard;
using pepr::test::make_zone;
using pepr::test::set_energy;

// Two packages, each with DRAM; package 0 also has core; plus entries that are not RAPL zones.
void two_packages(const std::filesystem::path& root) {
  make_zone(root, "intel-rapl:0", "package-0", "1000000");
  make_zone(root, "intel-rapl:0:0", "core", "500000");
  make_zone(root, "intel-rapl:0:1", "dram", "2000000");
  make_zone(root, "intel-rapl:1", "package-1", "1000000");
  make_zone(root, "intel-rapl:1:0", "dram", "0");
  make_zone(root, "intel-rapl-mmio:0", "package-0", "7");    // MMIO duplicate: must be skipped
  std::filesystem::create_directories(root / "intel-rapl");  // the control type, not a zone
}

double joules_of(const EnergySource& s, const std::string& name) {
  auto j = s.joules();
  for (std::size_t i = 0; i < s.components().size(); ++i)
    if (s.components()[i].name == name) return j[i];
  ADD_FAILURE() << "no component " << name;
  return -1;
}

TEST(Rapl, DeltaHandlesWraparound) {
  EXPECT_EQ(rapl_delta(1000000, 3000000, 4000000), 2000000u);
  EXPECT_EQ(rapl_delta(3000000, 1000000, 4000000), (4000000u - 3000000u) + 1000000u);
  EXPECT_EQ(rapl_delta(5, 5, 10), 0u);
}

TEST(Rapl, TwoPackagesWithDram) {
  pepr::test::TempDir tmp;
  two_packages(tmp.path());
  RaplScan scan = scan_rapl(tmp.path().string());
  ASSERT_TRUE(scan.usable()) << scan.problem();
  ASSERT_EQ(scan.domains.size(), 5u);
  EXPECT_EQ(scan.domains[0].zone, "intel-rapl:0");
  EXPECT_EQ(scan.domains[0].kind, "package");
  EXPECT_EQ(scan.domains[1].kind, "core");
  EXPECT_EQ(scan.domains[2].kind, "dram");
  EXPECT_EQ(scan.domains[2].package, "package-0");
  EXPECT_EQ(scan.domains[4].package, "package-1");

  RaplSource src(scan);
  const auto& c = src.components();
  ASSERT_EQ(c.size(), 5u);
  EXPECT_EQ(c[0].name, "cpu.package-0");
  EXPECT_TRUE(c[0].in_total);
  EXPECT_EQ(c[1].name, "cpu.package-0.core");
  EXPECT_FALSE(c[1].in_total);  // contained in the package
  EXPECT_EQ(c[2].name, "dram.package-0");
  EXPECT_TRUE(c[2].in_total);
  EXPECT_EQ(c[3].name, "cpu.package-1");
  EXPECT_EQ(c[4].name, "dram.package-1");
  EXPECT_EQ(c[0].method, "rapl-powercap");

  src.begin({});
  set_energy(tmp.path(), "intel-rapl:0", 3000000);    // +2 J
  set_energy(tmp.path(), "intel-rapl:0:0", 1500000);  // +1 J (part of the package)
  set_energy(tmp.path(), "intel-rapl:0:1", 2500000);  // +0.5 J
  set_energy(tmp.path(), "intel-rapl:1", 5000000);    // +4 J
  set_energy(tmp.path(), "intel-rapl:1:0", 1000000);  // +1 J
  src.sample({});
  EXPECT_DOUBLE_EQ(joules_of(src, "cpu.package-0"), 2.0);
  EXPECT_DOUBLE_EQ(joules_of(src, "cpu.package-0.core"), 1.0);
  EXPECT_DOUBLE_EQ(joules_of(src, "dram.package-0"), 0.5);
  EXPECT_DOUBLE_EQ(joules_of(src, "cpu.package-1"), 4.0);
  EXPECT_DOUBLE_EQ(joules_of(src, "dram.package-1"), 1.0);
}

TEST(Rapl, WraparoundMidMeasurement) {
  pepr::test::TempDir tmp;
  make_zone(tmp.path(), "intel-rapl:0", "package-0", "3000000", "4000000");
  RaplScan scan = scan_rapl(tmp.path().string());
  RaplSource src(scan);
  // 4 J range at 500 W x 2: read at least every 4 ms.
  EXPECT_NEAR(src.max_interval_s(), 4.0 / (2 * kRaplMaxPlausibleWatts), 1e-12);
  src.begin({});
  set_energy(tmp.path(), "intel-rapl:0", 3900000);  // +0.9 J
  src.sample({});
  set_energy(tmp.path(), "intel-rapl:0", 500000);  // wrapped: +0.1 J + 0.5 J
  src.sample({});
  EXPECT_NEAR(src.joules()[0], 1.5, 1e-9);
  set_energy(tmp.path(), "intel-rapl:0", 1000000);  // +0.5 J
  src.sample({});
  EXPECT_NEAR(src.joules()[0], 2.0, 1e-9);
}

TEST(Rapl, TrackerUsesRaplPerInterval) {
  pepr::test::TempDir tmp;
  make_zone(tmp.path(), "intel-rapl:0", "package-0", "3000000", "400000000000");
  make_zone(tmp.path(), "intel-rapl:0:0", "dram", "1000000", "400000000000");
  EnvGuard env{{"PEPR_PERF", std::string("0")}};
  TrackerOptions o;
  o.powercap_root = tmp.path().string();
  o.use_nvml = false;
  Tracker t(o);
  EXPECT_EQ(t.energy_method(), "rapl-powercap");
  EXPECT_TRUE(t.estimate_reason().empty());
  t.start();
  set_energy(tmp.path(), "intel-rapl:0", 10000000);   // +7 J
  set_energy(tmp.path(), "intel-rapl:0:0", 2000000);  // +1 J
  auto a = t.mark("epoch-1");
  EXPECT_NEAR(a.energy_raw_j, 8.0, 1e-9);
  set_energy(tmp.path(), "intel-rapl:0", 12000000);  // +2 J
  auto total = t.stop();
  EXPECT_NEAR(total.energy_j[0] - a.energy_j[0], 2.0, 1e-9);
  // (Wraps: WraparoundMidMeasurement, WrapSeenByTrackerCountsFullRange; resets: RaplResets.)
  auto j = t.to_json();
  EXPECT_EQ(j["components"][0]["method"], "rapl-powercap");
  EXPECT_EQ(j["methods"]["energy"], "rapl-powercap");
  EXPECT_TRUE(j["estimate_reason"].is_null());
}

TEST(Rapl, WrapSeenByTrackerCountsFullRange) {
  pepr::test::TempDir tmp;
  make_zone(tmp.path(), "intel-rapl:0", "package-0", "3000000", "4000000");
  EnvGuard env{{"PEPR_PERF", std::string("0")}};
  TrackerOptions o;
  o.powercap_root = tmp.path().string();
  o.use_nvml = false;
  o.interval_s = 0.05;
  Tracker t(o);
  EXPECT_LE(t.interval_s(), 0.004 + 1e-12);  // shortened so a wrap is never missed
  t.start();
  set_energy(tmp.path(), "intel-rapl:0", 1000000);  // wrapped: (4e6 - 3e6) + 1e6 = 2 J
  auto total = t.stop();
  EXPECT_NEAR(total.energy_raw_j, 2.0, 1e-9);
}

TEST(Rapl, GarbageAndMissingFiles) {
  pepr::test::TempDir tmp;
  make_zone(tmp.path(), "intel-rapl:0", "package-0", "garbage");
  make_zone(tmp.path(), "intel-rapl:1", "package-1", "");  // no energy_uj
  make_zone(tmp.path(), "intel-rapl:2", "package-2", "100", "oops");
  make_zone(tmp.path(), "intel-rapl:3", "package-3", "100", "");  // no max range
  RaplScan scan = scan_rapl(tmp.path().string());
  ASSERT_EQ(scan.domains.size(), 4u);
  EXPECT_FALSE(scan.usable());
  EXPECT_NE(scan.domains[0].problem.find("energy_uj is not a counter: 'garbage'"),
            std::string::npos)
      << scan.domains[0].problem;
  EXPECT_NE(scan.domains[1].problem.find("intel-rapl:1/energy_uj: missing"), std::string::npos)
      << scan.domains[1].problem;
  EXPECT_NE(scan.domains[2].problem.find("wraparound cannot be handled"), std::string::npos);
  EXPECT_NE(scan.domains[3].problem.find("max_energy_range_uj: missing"), std::string::npos);

  // The tracker falls back to the estimate and says why.
  EnvGuard env{{"PEPR_PERF", std::string("0")}};
  TrackerOptions o;
  o.powercap_root = tmp.path().string();
  o.use_nvml = false;
  Tracker t(o);
  EXPECT_EQ(t.energy_method(), "estimate");
  EXPECT_NE(t.estimate_reason().find("not a counter"), std::string::npos) << t.estimate_reason();
  EXPECT_NE(t.estimate_reason().find("PEPR_PERF=0"), std::string::npos);
}

TEST(Rapl, BrokenDramStillUsesPackages) {
  pepr::test::TempDir tmp;
  make_zone(tmp.path(), "intel-rapl:0", "package-0", "1000");
  make_zone(tmp.path(), "intel-rapl:0:0", "dram", "x1");
  EnvGuard env{{"PEPR_PERF", std::string("0")}};
  TrackerOptions o;
  o.powercap_root = tmp.path().string();
  o.use_nvml = false;
  Tracker t(o);
  EXPECT_EQ(t.energy_method(), "rapl-powercap");
  ASSERT_EQ(t.components().size(), 1u);
  ASSERT_EQ(t.notes().size(), 1u);
  EXPECT_NE(t.notes()[0].find("intel-rapl:0:0 (dram) skipped"), std::string::npos);
}

TEST(Rapl, NoTree) {
  RaplScan scan = scan_rapl("/nonexistent/powercap");
  EXPECT_FALSE(scan.usable());
  EXPECT_EQ(scan.problem(), "no powercap tree at /nonexistent/powercap");
  pepr::test::TempDir tmp;
  scan = scan_rapl(tmp.path().string());
  EXPECT_NE(scan.problem().find("no RAPL zones"), std::string::npos);
}

TEST(Rapl, AmdNaming) {
  pepr::test::TempDir tmp;
  make_zone(tmp.path(), "amd-rapl:0", "package-0", "100");
  RaplScan scan = scan_rapl(tmp.path().string());
  EXPECT_TRUE(scan.usable());
}

TEST(Rapl, PermissionDeniedNamesFileAndFix) {
  pepr::test::TempDir tmp;
  auto dir = make_zone(tmp.path(), "intel-rapl:0", "package-0", "1000");
  std::filesystem::permissions(dir / "energy_uj", std::filesystem::perms::owner_read,
                               std::filesystem::perm_options::replace);
  // Root reads any file: check as an unprivileged user in a child process.
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(fds[0]);
    if (::geteuid() == 0 && (::setgid(65534) != 0 || ::setuid(65534) != 0)) ::_exit(3);
    std::string out;
    RaplScan scan = scan_rapl(tmp.path().string());
    out += scan.problem() + "\n";
    ::setenv("PEPR_PERF", "0", 1);
    TrackerOptions o;
    o.powercap_root = tmp.path().string();
    o.use_nvml = false;
    Tracker t(o);
    out += t.energy_method() + "\n" + t.estimate_reason() + "\n";
    (void)!::write(fds[1], out.data(), out.size());
    ::_exit(0);
  }
  ::close(fds[1]);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fds[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 3) GTEST_SKIP() << "cannot drop root";
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  const std::string file = (dir / "energy_uj").string();
  EXPECT_NE(out.find("permission denied reading " + file), std::string::npos) << out;
  EXPECT_NE(out.find("udev rule, not chmod a+r"), std::string::npos) << out;
  EXPECT_NE(out.find("\nestimate\n"), std::string::npos) << out;
  EXPECT_NE(out.find("no readable RAPL powercap (permission denied"), std::string::npos) << out;
}

}  // namespace
}  // namespace pepr::meter

TEST(PerfPower, AnUnknownPeprPerfValueIsAnError) {
  pepr::test::EnvGuard env{{"PEPR_PERF", std::string("maybe")}};
  try {
    pepr::meter::scan_perf();
    FAIL() << "PEPR_PERF=maybe was accepted";
  } catch (const pepr::Error& e) {
    EXPECT_NE(std::string(e.what()).find("PEPR_PERF='maybe'"), std::string::npos) << e.what();
  }
  pepr::test::EnvGuard off{{"PEPR_PERF", std::string("off")}};
  EXPECT_TRUE(pepr::meter::scan_perf().disabled);
}

namespace pepr::meter {
namespace {

TrackerOptions rapl_only(const std::filesystem::path& root) {
  TrackerOptions o;
  o.powercap_root = root.string();
  o.use_nvml = false;
  return o;
}

// Issue: two die zones of one AMD socket read the same counter; summing them doubled the energy.
TEST(RaplMirrors, DieZonesOfOneSocketAreCountedOnce) {
  pepr::test::TempDir tmp;
  make_zone(tmp.path(), "intel-rapl:0", "package-0-die-0", "5000000");
  make_zone(tmp.path(), "intel-rapl:1", "package-0-die-1", "5000000");
  EnvGuard env{{"PEPR_PERF", std::string("0")}};
  Tracker t(rapl_only(tmp.path()));
  ASSERT_EQ(t.components().size(), 2u);
  EXPECT_TRUE(t.components()[0].in_total);
  EXPECT_FALSE(t.components()[1].in_total);
  EXPECT_NE(t.components()[1].source.find("mirror of intel-rapl:0"), std::string::npos);
  t.start();
  set_energy(tmp.path(), "intel-rapl:0", 90000000);  // +85 J
  set_energy(tmp.path(), "intel-rapl:1", 90000000);  // the same counter
  auto total = t.stop();
  EXPECT_NEAR(total.energy_raw_j, 85.0, 1e-9);  // not 170
  EXPECT_NEAR(total.energy_j[1], 85.0, 1e-9);   // reported all the same
  const auto notes = t.notes();
  ASSERT_FALSE(notes.empty());
  EXPECT_NE(notes[0].find("intel-rapl:1 (package-0-die-1) reads the same counter as "
                          "intel-rapl:0"),
            std::string::npos)
      << notes[0];
}

TEST(RaplMirrors, OneSocketListedTwiceGetsDistinctNamesAndItsDramOnce) {
  pepr::test::TempDir tmp;
  make_zone(tmp.path(), "intel-rapl:0", "package-0", "7000000");
  make_zone(tmp.path(), "intel-rapl:0:0", "dram", "3000000");
  make_zone(tmp.path(), "intel-rapl:1", "package-0", "7000000");
  make_zone(tmp.path(), "intel-rapl:1:0", "dram", "3000000");
  RaplSource src(scan_rapl(tmp.path().string()));
  const auto& c = src.components();
  ASSERT_EQ(c.size(), 4u);
  EXPECT_EQ(c[0].name, "cpu.package-0");
  EXPECT_EQ(c[2].name, "cpu.package-0@intel-rapl:1");
  EXPECT_EQ(c[3].name, "dram.package-0@intel-rapl:1:0");
  EXPECT_TRUE(c[0].in_total && c[1].in_total);
  EXPECT_FALSE(c[2].in_total || c[3].in_total);
}

TEST(RaplMirrors, DiesWithTheirOwnCountersAndSeparateSocketsAreAllCounted) {
  pepr::test::TempDir tmp;
  // Cascade Lake-AP: a counter per die, reading differently.
  make_zone(tmp.path(), "intel-rapl:0", "package-0-die-0", "1000000");
  make_zone(tmp.path(), "intel-rapl:1", "package-0-die-1", "900000000");
  // Two sockets that happen to read the same: different package numbers, never mirrors.
  make_zone(tmp.path(), "intel-rapl:2", "package-1", "5000000");
  make_zone(tmp.path(), "intel-rapl:3", "package-2", "5000000");
  RaplSource src(scan_rapl(tmp.path().string()));
  for (const auto& c : src.components()) EXPECT_TRUE(c.in_total) << c.name;
  EXPECT_TRUE(src.notes().empty());
}

TEST(RaplMirrors, MirrorsThatDriftApartAreNoted) {
  pepr::test::TempDir tmp;
  make_zone(tmp.path(), "intel-rapl:0", "package-0-die-0", "5000000");
  make_zone(tmp.path(), "intel-rapl:1", "package-0-die-1", "5000000");
  RaplSource src(scan_rapl(tmp.path().string()));
  src.begin({0.0, 0, 0});
  set_energy(tmp.path(), "intel-rapl:0", 45000000);  // +40 J
  set_energy(tmp.path(), "intel-rapl:1", 25000000);  // +20 J
  src.sample({1.0, 0, 0});
  const auto notes = src.notes();
  ASSERT_EQ(notes.size(), 2u);
  EXPECT_NE(notes[1].find("looked like one counter at the start but measured 40.0 J and 20.0 J"),
            std::string::npos)
      << notes[1];
}

// Issue: a counter restarting from 0 (suspend/resume, driver reload) was counted as a wrap of up
// to max_energy_range_uj (262 kJ).
TEST(RaplResets, AResetIsNotAWrap) {
  pepr::test::TempDir tmp;
  make_zone(tmp.path(), "intel-rapl:0", "package-0", "200000000000");  // 200 kJ
  RaplSource src(scan_rapl(tmp.path().string()));
  src.begin({10.0, 0, 0});
  set_energy(tmp.path(), "intel-rapl:0", 200010000000);  // +10 J in 0.1 s: counted
  src.sample({10.1, 0, 0});
  set_energy(tmp.path(), "intel-rapl:0", 3000000);  // restarted from 0: 3 J since
  src.sample({10.2, 0, 0});
  EXPECT_NEAR(src.joules()[0], 13.0, 1e-9);  // today: 10 + 62133 J
  const auto notes = src.notes();
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_NE(notes[0].find("1 counter reset dropped, not counted as wraps"), std::string::npos)
      << notes[0];
  // A genuine wrap at a plausible rate is still counted.
  set_energy(tmp.path(), "intel-rapl:0", 262143328850ULL - 1000000);
  src.sample({10.2 + 400.0, 0, 0});  // 262 kJ in 400 s: 655 W, below the 1000 W bound
  const double before = src.joules()[0];
  set_energy(tmp.path(), "intel-rapl:0", 4000000);
  src.sample({10.2 + 400.1, 0, 0});
  EXPECT_NEAR(src.joules()[0] - before, 5.0, 1e-6);  // 1 J to the top + 4 J
}

TEST(RaplResets, AnImpossibleJumpUpIsDropped) {
  pepr::test::TempDir tmp;
  make_zone(tmp.path(), "intel-rapl:0", "package-0", "1000000");
  RaplSource src(scan_rapl(tmp.path().string()));
  src.begin({0.0, 0, 0});
  set_energy(tmp.path(), "intel-rapl:0", 100001000000ULL);  // +100 kJ in 1 s
  src.sample({1.0, 0, 0});
  set_energy(tmp.path(), "intel-rapl:0", 100003000000ULL);  // +2 J
  src.sample({2.0, 0, 0});
  EXPECT_NEAR(src.joules()[0], 2.0, 1e-9);
  ASSERT_EQ(src.notes().size(), 1u);
  EXPECT_NE(src.notes()[0].find("100000 J in 1 s"), std::string::npos) << src.notes()[0];
}

TEST(RaplResets, TrackerDropsAResetAndSaysSo) {
  pepr::test::TempDir tmp;
  make_zone(tmp.path(), "intel-rapl:0", "package-0", "10000000");
  EnvGuard env{{"PEPR_PERF", std::string("0")}};
  Tracker t(rapl_only(tmp.path()));
  t.start();
  set_energy(tmp.path(), "intel-rapl:0", 1000000);  // below: a reset, not a 262 kJ wrap
  auto total = t.stop();
  EXPECT_NEAR(total.energy_raw_j, 1.0, 1e-9);
  auto j = t.to_json();
  bool noted = false;
  for (const auto& n : j["notes"])
    noted |= n.get<std::string>().find("counter reset") != std::string::npos;
  EXPECT_TRUE(noted) << j["notes"].dump();
}

}  // namespace
}  // namespace pepr::meter

namespace pepr::meter {
namespace {

// A perf power PMU and a CPU topology in sysfs form: cpumask lists `cpumask`; each pair of
// `cpu_socket` is a CPU and its physical_package_id.
void fake_perf(const std::filesystem::path& root, const std::string& cpumask,
               const std::vector<std::pair<int, int>>& cpu_socket) {
  using pepr::test::put;
  std::filesystem::create_directories(root / "power" / "events");
  put(root / "power" / "type", "23\n");
  put(root / "power" / "cpumask", cpumask + "\n");
  put(root / "power" / "events" / "energy-pkg", "event=0x02\n");
  put(root / "power" / "events" / "energy-pkg.scale", "2.3283064365386962890625e-10\n");
  put(root / "power" / "events" / "energy-pkg.unit", "Joules\n");
  for (const auto& [cpu, socket] : cpu_socket) {
    auto dir = root / "cpu" / ("cpu" + std::to_string(cpu)) / "topology";
    std::filesystem::create_directories(dir);
    put(dir / "physical_package_id", std::to_string(socket) + "\n");
  }
}

// Issue: on AMD, perf's cpumask can list a CPU per die while the package counter is per socket:
// each die's event read the same counter and was summed.
TEST(PerfMirrors, AmdDiesOfOneSocketAreReadOnce) {
  pepr::test::TempDir tmp;
  fake_perf(tmp.path(), "0,8,16", {{0, 0}, {8, 0}, {16, 1}});
  EnvGuard env{{"PEPR_PERF", std::nullopt},
               {"PEPR_PERF_ROOT", (tmp.path() / "power").string()},
               {"PEPR_CPU_SYSFS_ROOT", (tmp.path() / "cpu").string()},
               {"PEPR_CPU_VENDOR", std::string("AuthenticAMD")}};
  PerfScan s = scan_perf();
  EXPECT_EQ(s.cpus, (std::vector<int>{0, 16}));
  ASSERT_EQ(s.notes.size(), 1u);
  EXPECT_NE(s.notes[0].find("CPU 8 is on socket 0 like CPU 0"), std::string::npos) << s.notes[0];
}

TEST(PerfMirrors, IntelDiesKeepTheirOwnCounters) {
  pepr::test::TempDir tmp;
  fake_perf(tmp.path(), "0,8", {{0, 0}, {8, 0}});
  EnvGuard env{{"PEPR_PERF", std::nullopt},
               {"PEPR_PERF_ROOT", (tmp.path() / "power").string()},
               {"PEPR_CPU_SYSFS_ROOT", (tmp.path() / "cpu").string()},
               {"PEPR_CPU_VENDOR", std::string("GenuineIntel")}};
  PerfScan s = scan_perf();
  EXPECT_EQ(s.cpus, (std::vector<int>{0, 8}));
  EXPECT_TRUE(s.notes.empty());
}

TEST(PerfMirrors, UnknownTopologyKeepsEveryCpu) {
  std::vector<std::string> notes;
  EXPECT_EQ(perf_package_cpus({0, 8}, {-1, -1}, "AuthenticAMD", notes), (std::vector<int>{0, 8}));
  EXPECT_EQ(perf_package_cpus({0, 8}, {0, 1}, "HygonGenuine", notes), (std::vector<int>{0, 8}));
  EXPECT_EQ(perf_package_cpus({0, 8}, {1, 1}, "HygonGenuine", notes), (std::vector<int>{0}));
  EXPECT_EQ(notes.size(), 1u);
}

}  // namespace
}  // namespace pepr::meter
