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

TEST(Rapl, TrackerUsesRaplAndHandlesWrap) {
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
  set_energy(tmp.path(), "intel-rapl:0", 399999000000ULL);  // far, but below the range
  set_energy(tmp.path(), "intel-rapl:0", 1000000);
  auto total = t.stop();
  // A reading below the previous one is a wrap, whether or not the sampler saw the value
  // between: (max - previous) + current.
  const double wrapped = (400000000000.0 - 10000000.0 + 1000000.0) * 1e-6;
  const double pkg2 = total.energy_j[0] - a.energy_j[0];
  EXPECT_NEAR(pkg2, wrapped, 1e-6);
  EXPECT_GE(pkg2, 0);
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
  EXPECT_NE(out.find("sudo chmod a+r"), std::string::npos) << out;
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
