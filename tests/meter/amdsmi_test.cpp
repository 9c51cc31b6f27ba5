// AMD GPUs through a fake amdsmi built by the test suite (tests/meter/fake_amdsmi).
#include <dlfcn.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>

#include <nlohmann/json.hpp>

#include "meter/amdsmi.hpp"
#include "meter/tracker.hpp"
#include "meter_test_util.hpp"
#include "support/test_support.hpp"

namespace pepr::meter {
namespace {

using pepr::test::EnvGuard;
using json = nlohmann::json;

const std::string kFake = PEPR_FAKE_AMDSMI_PATH;

// The fake's test controls, in the copy of the library that pepr loaded (dlopen of the same path
// returns it). Valid while a scan or source holds the library.
class FakeAmdsmi {
 public:
  FakeAmdsmi() : dl_(::dlopen(kFake.c_str(), RTLD_NOW | RTLD_NOLOAD)) {
    if (!dl_) return;
    count_ =
        reinterpret_cast<void (*)(unsigned, std::uint64_t)>(::dlsym(dl_, "fake_amdsmi_set_count"));
    power_ =
        reinterpret_cast<void (*)(unsigned, std::uint64_t)>(::dlsym(dl_, "fake_amdsmi_set_power"));
    resolution_ = reinterpret_cast<void (*)(float)>(::dlsym(dl_, "fake_amdsmi_set_resolution"));
  }
  ~FakeAmdsmi() {
    if (dl_) ::dlclose(dl_);
  }
  FakeAmdsmi(const FakeAmdsmi&) = delete;
  FakeAmdsmi& operator=(const FakeAmdsmi&) = delete;
  bool ok() const { return count_ && power_ && resolution_; }
  void count(unsigned gpu, std::uint64_t c) { count_(gpu, c); }
  void power(unsigned gpu, std::uint64_t w) { power_(gpu, w); }
  void resolution(float uj) { resolution_(uj); }

 private:
  void* dl_ = nullptr;
  void (*count_)(unsigned, std::uint64_t) = nullptr;
  void (*power_)(unsigned, std::uint64_t) = nullptr;
  void (*resolution_)(float) = nullptr;
};

bool has_note(const std::vector<std::string>& notes, const std::string& part) {
  for (const auto& n : notes)
    if (n.find(part) != std::string::npos) return true;
  return false;
}

std::string all(const std::vector<std::string>& notes) {
  std::string out;
  for (const auto& n : notes) out += n + "\n";
  return out;
}

SampleContext at(double t) {
  SampleContext c;
  c.t_s = t;
  return c;
}

TEST(Amdsmi, MissingLibraryGivesTheFix) {
  AmdsmiScan s = scan_amdsmi("/nonexistent/libamd_smi.so");
  EXPECT_FALSE(s.loaded);
  EXPECT_NE(s.problem.find("/nonexistent/libamd_smi.so not found"), std::string::npos) << s.problem;
  EXPECT_NE(s.problem.find("install amd-smi-lib (ROCm) or set PEPR_AMDSMI_LIB"), std::string::npos)
      << s.problem;
  EnvGuard env{{"PEPR_AMDSMI_LIB", std::nullopt}};
  EXPECT_EQ(amdsmi_library(), "libamd_smi.so");
}

TEST(Amdsmi, InitialisationFails) {
  EnvGuard env{{"FAKE_AMDSMI_MODE", std::string("initfail")}};
  AmdsmiScan s = scan_amdsmi(kFake);
  EXPECT_FALSE(s.loaded);
  EXPECT_NE(s.problem.find("amdsmi initialisation failed: AMDSMI_STATUS_INIT_ERROR: "
                           "Initialization error (amdsmi status 18)"),
            std::string::npos)
      << s.problem;
}

TEST(Amdsmi, ScanFindsACounterGpuAndAPowerOnlyGpu) {
  EnvGuard env{{"FAKE_AMDSMI_GPUS", std::string("counter,power")},
               {"FAKE_AMDSMI_POWER_W", std::string("150")},
               {"FAKE_AMDSMI_COUNT", std::string("2000000")},
               {"FAKE_AMDSMI_RES", std::string("0.5")}};
  AmdsmiScan s = scan_amdsmi(kFake);
  ASSERT_TRUE(s.loaded) << s.problem;
  ASSERT_EQ(s.gpus.size(), 2u);
  EXPECT_EQ(s.gpus[1].name, "Fake AMD GPU 1");
  EXPECT_TRUE(s.gpus[0].has_energy_counter);
  EXPECT_NEAR(*s.gpus[0].energy_j, 1.0, 1e-12);  // 2e6 x 0.5 uJ
  EXPECT_NEAR(*s.gpus[0].power_w, 150.0, 1e-12);
  EXPECT_FALSE(s.gpus[1].has_energy_counter);
  EXPECT_TRUE(s.gpus[1].readable);
  EXPECT_NE(s.gpus[1].problem.find("no energy counter (AMDSMI_STATUS_NOT_SUPPORTED"),
            std::string::npos)
      << s.gpus[1].problem;
  AmdsmiSource src(s);
  ASSERT_EQ(src.components().size(), 2u);
  EXPECT_EQ(src.components()[0].name, "gpu.amd.0");
  EXPECT_EQ(src.components()[0].method, "amdsmi-energy-counter");
  EXPECT_EQ(src.components()[1].name, "gpu.amd.1");
  EXPECT_EQ(src.components()[1].method, "amdsmi-power-sampling");
  EXPECT_EQ(src.components()[1].kind, "gpu");
  EXPECT_TRUE(src.needs_periodic());  // the power-only GPU
}

TEST(Amdsmi, EnergyFromTheCounterTimesItsResolution) {
  EnvGuard env{{"FAKE_AMDSMI_GPUS", std::string("counter")},
               {"FAKE_AMDSMI_COUNT", std::string("1000000")},
               {"FAKE_AMDSMI_RES", std::string("0.5")}};
  AmdsmiScan s = scan_amdsmi(kFake);
  AmdsmiSource src(s);
  FakeAmdsmi fake;
  ASSERT_TRUE(fake.ok());
  EXPECT_FALSE(src.needs_periodic());
  src.begin(at(10));
  fake.count(0, 1000000 + 200000000);  // 2e8 ticks of 0.5 uJ: 100 J
  src.sample(at(11));
  EXPECT_NEAR(src.joules()[0], 100.0, 1e-9);
  fake.count(0, 1000000 + 300000000);  // 50 J more
  src.sample(at(12));
  EXPECT_NEAR(src.joules()[0], 150.0, 1e-9);
  EXPECT_TRUE(src.notes().empty()) << all(src.notes());
}

TEST(Amdsmi, PowerSamplesAreIntegrated) {
  EnvGuard env{{"FAKE_AMDSMI_GPUS", std::string("power")},
               {"FAKE_AMDSMI_POWER_W", std::string("100")}};
  AmdsmiScan s = scan_amdsmi(kFake);
  AmdsmiSource src(s);
  FakeAmdsmi fake;
  ASSERT_TRUE(fake.ok());
  src.begin(at(0));
  fake.power(0, 200);
  src.sample(at(2));  // trapezoid: (100 + 200) / 2 x 2 s
  EXPECT_NEAR(src.joules()[0], 300.0, 1e-9);
  src.sample(at(3));  // 200 W for 1 s
  EXPECT_NEAR(src.joules()[0], 500.0, 1e-9);
}

TEST(Amdsmi, OlderPowerInfoLayoutReadsTheSameWatts) {
  EnvGuard env{{"FAKE_AMDSMI_GPUS", std::string("power")},
               {"FAKE_AMDSMI_POWER_W", std::string("120")},
               {"FAKE_AMDSMI_LAYOUT", std::string("old")}};
  AmdsmiScan s = scan_amdsmi(kFake);
  ASSERT_EQ(s.gpus.size(), 1u);
  ASSERT_TRUE(s.gpus[0].power_w);
  EXPECT_NEAR(*s.gpus[0].power_w, 120.0, 1e-12);  // average_socket_power, not gfx_voltage
}

TEST(Amdsmi, ImpossiblePowerIsRejectedWithANote) {
  EnvGuard env{{"FAKE_AMDSMI_GPUS", std::string("power")},
               {"FAKE_AMDSMI_POWER_W", std::string("100")}};
  AmdsmiScan s = scan_amdsmi(kFake);
  AmdsmiSource src(s);
  FakeAmdsmi fake;
  ASSERT_TRUE(fake.ok());
  src.begin(at(0));
  fake.power(0, 5000);  // no GPU draws 5 kW
  src.sample(at(1));
  EXPECT_NEAR(src.joules()[0], 0.0, 1e-12);
  fake.power(0, 100);
  src.sample(at(2));  // 100 W from 0 to 2 s, across the rejected reading
  EXPECT_NEAR(src.joules()[0], 200.0, 1e-9);
  EXPECT_TRUE(has_note(src.notes(),
                       "AMD GPU 0: 1 impossible reading rejected (the last: socket "
                       "power 5000 W"))
      << all(src.notes());
}

TEST(Amdsmi, ImpossibleCounterReadingsAreRejectedWithANote) {
  EnvGuard env{{"FAKE_AMDSMI_GPUS", std::string("counter")},
               {"FAKE_AMDSMI_COUNT", std::string("1000000")},
               {"FAKE_AMDSMI_RES", std::string("0.5")}};
  AmdsmiScan s = scan_amdsmi(kFake);
  AmdsmiSource src(s);
  FakeAmdsmi fake;
  ASSERT_TRUE(fake.ok());
  src.begin(at(0));
  fake.resolution(std::numeric_limits<float>::quiet_NaN());
  fake.count(0, 1000000 + 2000000);
  src.sample(at(1));
  fake.resolution(-1.0f);
  src.sample(at(2));
  EXPECT_NEAR(src.joules()[0], 0.0, 1e-12);
  EXPECT_TRUE(has_note(src.notes(),
                       "AMD GPU 0: 2 impossible readings rejected (the last: counter "
                       "resolution -1 uJ"))
      << all(src.notes());
  fake.resolution(0.5f);
  src.sample(at(3));  // the counter covers the rejected readings: 2e6 x 0.5 uJ
  EXPECT_NEAR(src.joules()[0], 1.0, 1e-9);
  // A gain no GPU could draw in 1 s (5e5 J): a jump, dropped and noted.
  fake.count(0, 3000000 + 1000000000000ULL);
  src.sample(at(4));
  EXPECT_NEAR(src.joules()[0], 1.0, 1e-9);
  EXPECT_TRUE(has_note(src.notes(), "reset or jumped 1 time (500000.0 J in all"))
      << all(src.notes());
}

TEST(Amdsmi, CounterResetIsDroppedNotCounted) {
  EnvGuard env{{"FAKE_AMDSMI_GPUS", std::string("counter")},
               {"FAKE_AMDSMI_COUNT", std::string("1000000000")},
               {"FAKE_AMDSMI_RES", std::string("0.5")}};
  AmdsmiScan s = scan_amdsmi(kFake);
  AmdsmiSource src(s);
  FakeAmdsmi fake;
  ASSERT_TRUE(fake.ok());
  src.begin(at(0));
  fake.count(0, 1000000000 + 2000000);  // 1 J
  src.sample(at(1));
  fake.count(0, 1000);  // the driver reloaded: the counter restarted
  src.sample(at(2));
  EXPECT_NEAR(src.joules()[0], 1.0, 1e-9);
  fake.count(0, 1000 + 4000000);  // 2 J since the restart
  src.sample(at(3));
  EXPECT_NEAR(src.joules()[0], 3.0, 1e-9);
  EXPECT_TRUE(has_note(src.notes(), "AMD GPU 0: the energy counter was reset or jumped 1 time"))
      << all(src.notes());
}

TEST(Amdsmi, PermissionDeniedSaysWhatToDo) {
  EnvGuard env{{"FAKE_AMDSMI_MODE", std::string("noperm")}};
  AmdsmiScan s = scan_amdsmi(kFake);
  ASSERT_EQ(s.gpus.size(), 1u);
  EXPECT_FALSE(s.gpus[0].readable);
  EXPECT_NE(s.problem.find("no AMD GPU can be read"), std::string::npos) << s.problem;
  EXPECT_NE(s.problem.find("add the user to the render and video groups"), std::string::npos)
      << s.problem;
  EXPECT_TRUE(AmdsmiSource(s).empty());
}

TrackerOptions amd_options(const std::filesystem::path& root) {
  pepr::test::make_zone(root, "intel-rapl:0", "package-0", "1000");
  TrackerOptions o;
  o.powercap_root = root.string();
  o.nvml_lib = "/nonexistent/libnvidia-ml.so.1";
  o.amdsmi_lib = kFake;
  o.jetson_root = "/nonexistent/sys";
  return o;
}

TEST(Amdsmi, TrackerMetersTheAmdGpus) {
  EnvGuard env{{"FAKE_AMDSMI_GPUS", std::string("counter,power")}};
  pepr::test::TempDir tmp;
  Tracker t(amd_options(tmp.path()));
  ASSERT_EQ(t.components().size(), 3u);
  EXPECT_EQ(t.components()[1].name, "gpu.amd.0");
  EXPECT_EQ(t.components()[2].method, "amdsmi-power-sampling");
  EXPECT_EQ(t.energy_method(), "rapl-powercap+amdsmi-energy-counter+amdsmi-power-sampling");
  const json j = t.to_json();
  EXPECT_EQ(j["sensors"]["amdsmi"].get<std::string>().rfind("used: " + kFake + " (2 GPUs", 0), 0u)
      << j["sensors"];
  EXPECT_NE(j["sensors"]["jetson"].get<std::string>().find("no INA3221 rails under "
                                                           "/nonexistent/sys"),
            std::string::npos)
      << j["sensors"];
  EXPECT_TRUE(has_note(t.notes(), "AMD GPU 1: no energy counter")) << all(t.notes());
  TrackerOptions off = amd_options(tmp.path());
  off.use_amdsmi = false;
  Tracker none(off);
  EXPECT_EQ(none.components().size(), 1u);
  EXPECT_EQ(none.to_json()["sensors"]["amdsmi"], "not tried");
}

TEST(Amdsmi, MetersListsTheGpusOrWhyNot) {
  EnvGuard env{PEPR_NO_SENSORS_ENV};
  auto missing = pepr::test::run_pepr({"meters", "--window", "0.05"});
  ASSERT_EQ(missing.exit_code, 0) << missing.err;
  EXPECT_NE(missing.out.find("amdsmi         /nonexistent/libamd_smi.so  NOT LOADED"),
            std::string::npos)
      << missing.out;
  EXPECT_NE(missing.out.find("install amd-smi-lib (ROCm) or set PEPR_AMDSMI_LIB"),
            std::string::npos);

  EnvGuard fake{{"PEPR_AMDSMI_LIB", kFake}, {"FAKE_AMDSMI_GPUS", std::string("counter,power")}};
  auto r = pepr::test::run_pepr({"meters", "--window", "0.05", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json p = json::parse(r.out);
  ASSERT_EQ(p["amdsmi"]["gpus"].size(), 2u);
  EXPECT_TRUE(p["amdsmi"]["gpus"][0]["energy_counter"].get<bool>());
  EXPECT_NEAR(p["amdsmi"]["gpus"][1]["power_w"].get<double>(), 100.0, 1e-9);
  EXPECT_EQ(p["selected"]["gpu"], "amdsmi (2 GPUs)");

  EnvGuard denied{{"FAKE_AMDSMI_MODE", std::string("noperm")}};
  auto d = pepr::test::run_pepr({"meters", "--window", "0.05"});
  EXPECT_NE(d.out.find("gpu.amd.0   Fake AMD GPU 0 (unreadable)"), std::string::npos) << d.out;
  EXPECT_NE(d.out.find("add the user to the render and video groups"), std::string::npos) << d.out;
}

}  // namespace
}  // namespace pepr::meter
