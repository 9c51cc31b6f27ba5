// NVIDIA GPUs through a fake NVML built by the test suite (tests/meter/fake_nvml).
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <thread>

#include <nlohmann/json.hpp>

#include "meter/nvml.hpp"
#include "meter/tracker.hpp"
#include "meter_test_util.hpp"
#include "support/test_support.hpp"

namespace pepr::meter {
namespace {

using pepr::test::EnvGuard;

const std::string kFake = PEPR_FAKE_NVML_PATH;

// A tracker measuring only the fake GPUs (CPU: an empty powercap tree would be the estimate;
// give a constant RAPL tree so CPU figures are zero and deterministic).
TrackerOptions gpu_options(const std::filesystem::path& root) {
  pepr::test::make_zone(root, "intel-rapl:0", "package-0", "1000");
  TrackerOptions o;
  o.powercap_root = root.string();
  o.nvml_lib = kFake;
  o.amdsmi_lib = "/nonexistent/libamd_smi.so";
  o.jetson_root = "/nonexistent/sys";
  return o;
}

// A tracker with options `o`, sampling every 20 ms, run for `ms` milliseconds and stopped.
std::unique_ptr<Tracker> tracked_for(TrackerOptions o, int ms) {
  o.interval_s = 0.02;
  auto t = std::make_unique<Tracker>(o);
  t->start();
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  t->stop();
  return t;
}

double energy_of(const nlohmann::json& iv, const std::string& name) {
  return iv["energy_j"].value(name, -1.0);
}

TEST(Nvml, MissingLibrary) {
  NvmlScan s = scan_nvml("/nonexistent/libnvidia-ml.so.1");
  EXPECT_FALSE(s.loaded);
  EXPECT_NE(s.problem.find("no NVML: cannot load /nonexistent/libnvidia-ml.so.1"),
            std::string::npos)
      << s.problem;
}

TEST(Nvml, InitialisationFails) {
  EnvGuard env{{"FAKE_NVML_MODE", std::string("initfail")}};
  NvmlScan s = scan_nvml(kFake);
  EXPECT_FALSE(s.loaded);
  EXPECT_NE(s.problem.find("NVML initialisation failed: Driver Not Loaded (NVML error 9)"),
            std::string::npos)
      << s.problem;
  pepr::test::TempDir tmp;
  Tracker t(gpu_options(tmp.path()));
  EXPECT_EQ(t.energy_method(), "rapl-powercap");
  auto j = t.to_json();
  EXPECT_NE(j["methods"]["gpu_energy"].get<std::string>().find("not measured: NVML "
                                                               "initialisation failed"),
            std::string::npos);
}

TEST(Nvml, NoGpu) {
  EnvGuard env{{"FAKE_NVML_MODE", std::string("nogpu")}, {"CUDA_VISIBLE_DEVICES", std::nullopt}};
  NvmlScan s = scan_nvml(kFake);
  EXPECT_TRUE(s.loaded);
  EXPECT_TRUE(s.gpus.empty());
  EXPECT_EQ(s.problem, "NVML found no GPU");
  pepr::test::TempDir tmp;
  Tracker t(gpu_options(tmp.path()));
  EXPECT_EQ(t.components().size(), 1u);  // the CPU package only
}

TEST(Nvml, EnergyCounter) {
  EnvGuard env{{"FAKE_NVML_MODE", std::string("energy")},
               {"FAKE_NVML_COUNT", std::string("2")},
               {"FAKE_NVML_POWER_W", std::string("100")},
               {"CUDA_VISIBLE_DEVICES", std::nullopt}};
  NvmlScan s = scan_nvml(kFake);
  ASSERT_TRUE(s.loaded) << s.problem;
  ASSERT_EQ(s.gpus.size(), 2u);
  EXPECT_TRUE(s.gpus[0].has_energy_counter);
  EXPECT_EQ(s.gpus[1].uuid, "GPU-fake-0001");
  EXPECT_EQ(s.gpus[0].name, "Fake GPU 0");
  EXPECT_NEAR(*s.gpus[1].power_w, 200, 1e-9);

  pepr::test::TempDir tmp;
  Tracker t(gpu_options(tmp.path()));
  ASSERT_EQ(t.components().size(), 3u);
  EXPECT_EQ(t.components()[1].name, "gpu.0");
  EXPECT_EQ(t.components()[1].method, "nvml-energy-counter");
  EXPECT_EQ(t.energy_method(), "rapl-powercap+nvml-energy-counter");
  t.start();
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  t.stop();
  auto j = t.to_json();
  const double wall = j["total"]["wall_s"].get<double>();
  // The fake's counter grows at 100 W and 200 W of real time.
  EXPECT_NEAR(energy_of(j["total"], "gpu.0") / wall, 100.0, 10.0);
  EXPECT_NEAR(energy_of(j["total"], "gpu.1") / wall, 200.0, 20.0);
  EXPECT_NEAR(j["total"]["energy_raw_j"].get<double>(),
              energy_of(j["total"], "gpu.0") + energy_of(j["total"], "gpu.1"), 1e-9);
}

// A job on cuda:N meters that GPU only (not every GPU of the machine), in CUDA's numbering:
// the order of CUDA_VISIBLE_DEVICES where it is set.
TEST(Nvml, OnlyTheCudaDeviceInUseIsMetered) {
  EnvGuard env{{"FAKE_NVML_MODE", std::string("energy")},
               {"FAKE_NVML_COUNT", std::string("3")},
               {"FAKE_NVML_POWER_W", std::string("100")},
               {"CUDA_VISIBLE_DEVICES", std::string("2,0")}};
  pepr::test::TempDir tmp;
  TrackerOptions o = gpu_options(tmp.path());
  o.cuda_device = 1;  // cuda:1 is NVML GPU 0 under CUDA_VISIBLE_DEVICES=2,0
  Tracker t(o);
  ASSERT_EQ(t.components().size(), 2u);  // the CPU package and one GPU
  EXPECT_EQ(t.components()[1].name, "gpu.0");
  auto j = t.to_json();
  EXPECT_NE(j["sensors"]["nvml"].get<std::string>().find("only cuda:1 (NVML GPU 0)"),
            std::string::npos)
      << j["sensors"]["nvml"];
  o.cuda_device = 0;
  Tracker t0(o);
  ASSERT_EQ(t0.components().size(), 2u);
  EXPECT_EQ(t0.components()[1].name, "gpu.2");
  o.cuda_device = 2;  // names no visible GPU: nothing of the GPUs is metered, and it says why
  Tracker none(o);
  EXPECT_EQ(none.components().size(), 1u);
  EXPECT_NE(
      none.to_json()["sensors"]["nvml"].get<std::string>().find("cuda:2 names no visible GPU"),
      std::string::npos);
}

TEST(Nvml, PowerOnlyIsIntegrated) {
  EnvGuard env{{"FAKE_NVML_MODE", std::string("power")},
               {"FAKE_NVML_COUNT", std::string("1")},
               {"FAKE_NVML_POWER_W", std::string("50")},
               {"CUDA_VISIBLE_DEVICES", std::nullopt}};
  NvmlScan s = scan_nvml(kFake);
  ASSERT_EQ(s.gpus.size(), 1u);
  EXPECT_FALSE(s.gpus[0].has_energy_counter);
  EXPECT_NE(s.gpus[0].problem.find("no total-energy counter"), std::string::npos);
  pepr::test::TempDir tmp;
  TrackerOptions o = gpu_options(tmp.path());
  o.interval_s = 0.02;
  Tracker t(o);
  EXPECT_EQ(t.components()[1].method, "nvml-power-sampling");
  t.start();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto iv = t.mark("a");
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  auto total = t.stop();
  // Constant 50 W integrated from start to stop: 50 x wall (trapezoids are exact here).
  EXPECT_NEAR(iv.energy_j[1], 50.0 * iv.wall_s, 0.5);
  EXPECT_NEAR(total.energy_j[1], 50.0 * total.wall_s, 0.5);
  // The GPU's note; besides it only the loaded-machine note, when the tests beside this one keep
  // the CPUs busy (ctest -j).
  int gpu_notes = 0;
  for (const auto& n : t.notes()) {
    if (n.find("GPU 0: no total-energy counter") != std::string::npos)
      ++gpu_notes;
    else
      EXPECT_EQ(n.rfind("loaded machine: ", 0), 0u) << n;
  }
  EXPECT_EQ(gpu_notes, 1);
}

TEST(Nvml, CudaVisibleDevicesSelection) {
  std::vector<GpuInfo> gpus(3);
  for (unsigned i = 0; i < 3; ++i) {
    gpus[i].index = i;
    gpus[i].uuid = "GPU-fake-000" + std::to_string(i);
  }
  std::string note;
  EXPECT_EQ(select_visible(std::nullopt, gpus, note), (std::vector<unsigned>{0, 1, 2}));
  EXPECT_EQ(select_visible("1", gpus, note), (std::vector<unsigned>{1}));
  EXPECT_EQ(select_visible("1,1,0", gpus, note), (std::vector<unsigned>{1, 0}));  // never twice
  EXPECT_EQ(select_visible("GPU-fake-0002,2", gpus, note), (std::vector<unsigned>{2}));
  EXPECT_EQ(select_visible("", gpus, note), (std::vector<unsigned>{}));
  EXPECT_EQ(select_visible("0,7,1", gpus, note), (std::vector<unsigned>{0}));
  EXPECT_NE(note.find("entry '7' names no GPU"), std::string::npos) << note;
  EXPECT_EQ(select_visible("-1", gpus, note), (std::vector<unsigned>{}));
  // Indices too large for any integer type name no GPU; they are not an internal error.
  EXPECT_EQ(select_visible("1,99999999999999999999", gpus, note), (std::vector<unsigned>{1}));
  EXPECT_NE(note.find("entry '99999999999999999999' names no GPU"), std::string::npos) << note;
  EXPECT_EQ(select_visible("4294967296", gpus, note), (std::vector<unsigned>{}));  // 2^32, not 0
  EXPECT_EQ(select_visible("0002", gpus, note), (std::vector<unsigned>{2}));
}

TEST(Nvml, TrackerCountsOnlyVisibleGpus) {
  EnvGuard env{{"FAKE_NVML_MODE", std::string("energy")},
               {"FAKE_NVML_COUNT", std::string("2")},
               {"FAKE_NVML_POWER_W", std::string("100")},
               {"CUDA_VISIBLE_DEVICES", std::string("1,1")}};
  pepr::test::TempDir tmp;
  Tracker t(gpu_options(tmp.path()));
  ASSERT_EQ(t.components().size(), 2u);
  EXPECT_EQ(t.components()[1].name, "gpu.1");
  t.start();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  auto total = t.stop();
  EXPECT_NEAR(total.energy_j[1] / total.wall_s, 200.0, 20.0);
}

TEST(Nvml, NoVisibleGpu) {
  EnvGuard env{{"FAKE_NVML_MODE", std::string("energy")},
               {"CUDA_VISIBLE_DEVICES", std::string("")}};
  NvmlScan s = scan_nvml(kFake);
  EXPECT_NE(s.problem.find("no GPU usable by this job"), std::string::npos) << s.problem;
}

TEST(Nvml, ProcessGpuMemory) {
  EnvGuard env{{"FAKE_NVML_MODE", std::string("energy")},
               {"FAKE_NVML_COUNT", std::string("1")},
               {"FAKE_NVML_PROC_MB", std::string("1500")},
               {"CUDA_VISIBLE_DEVICES", std::nullopt}};
  pepr::test::TempDir tmp;
  auto total = tracked_for(gpu_options(tmp.path()), 100)->total();
  ASSERT_TRUE(total.gpu_mem_peak_gb.has_value());
  EXPECT_NEAR(*total.gpu_mem_peak_gb, 1.5, 1e-9);
}

TEST(Nvml, GpuMemoryAbsentWhenNotListed) {
  EnvGuard env{{"FAKE_NVML_MODE", std::string("energy")},
               {"FAKE_NVML_PROC_MB", std::nullopt},
               {"CUDA_VISIBLE_DEVICES", std::nullopt}};
  pepr::test::TempDir tmp;
  Tracker t(gpu_options(tmp.path()));
  t.start();
  auto total = t.stop();
  EXPECT_FALSE(total.gpu_mem_peak_gb.has_value());
  EXPECT_TRUE(t.to_json()["total"]["gpu_mem_peak_gb"].is_null());
}

}  // namespace
}  // namespace pepr::meter

namespace pepr::meter {
namespace {

bool has_note(const std::vector<std::string>& notes, const std::string& part) {
  for (const auto& n : notes)
    if (n.find(part) != std::string::npos) return true;
  return false;
}

std::string joined(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += s + "\n";
  return out;
}

// Peak GPU memory of this process measured by a tracker on the fake library `lib`.
std::optional<double> gpu_memory_with(const std::string& lib) {
  pepr::test::TempDir tmp;
  TrackerOptions o = gpu_options(tmp.path());
  o.nvml_lib = lib;
  return tracked_for(o, 60)->total().gpu_mem_peak_gb;
}

// Issue: drivers 535.43-535.86 write 32-byte entries from _v3; read as 24-byte entries they were
// misread, and more than 48 processes overflowed the 64 x 24-byte buffer.
TEST(NvmlProcesses, Driver535WithSixtyProcessesIsReadRight) {
  EnvGuard env{{"FAKE_NVML_MODE", std::string("energy")},
               {"FAKE_NVML_DRIVER", std::string("535.54.03")},
               {"FAKE_NVML_PROCS", std::string("60")},
               {"FAKE_NVML_PROC_MB", std::string("1500")},
               {"CUDA_VISIBLE_DEVICES", std::nullopt}};
  auto gb = gpu_memory_with(kFake);  // _v2 is used: its layout never changed
  ASSERT_TRUE(gb.has_value());
  EXPECT_NEAR(*gb, 1.5, 1e-9);
  // Only _v3 (and v1): the entry size comes from the driver version.
  gb = gpu_memory_with(PEPR_FAKE_NVML_NO_V2_PATH);
  ASSERT_TRUE(gb.has_value());
  EXPECT_NEAR(*gb, 1.5, 1e-9);
}

TEST(NvmlProcesses, V3OnOtherDriversHasTheDocumentedLayout) {
  EXPECT_EQ(nvml_v3_entry_size("535.43.02"), 32u);
  EXPECT_EQ(nvml_v3_entry_size("535.86.10"), 32u);
  EXPECT_EQ(nvml_v3_entry_size("535.104.05"), 24u);
  EXPECT_EQ(nvml_v3_entry_size("550.54.15"), 24u);
  EXPECT_EQ(nvml_v3_entry_size("garbage"), 24u);
  EnvGuard env{{"FAKE_NVML_MODE", std::string("energy")},
               {"FAKE_NVML_DRIVER", std::string("550.54.15")},
               {"FAKE_NVML_PROCS", std::string("70")},
               {"FAKE_NVML_PROC_MB", std::string("900")},
               {"CUDA_VISIBLE_DEVICES", std::nullopt}};
  auto gb = gpu_memory_with(PEPR_FAKE_NVML_NO_V2_PATH);
  ASSERT_TRUE(gb.has_value());
  EXPECT_NEAR(*gb, 0.9, 1e-9);
}

TEST(NvmlProcesses, TheListIsQueriedAtMostOnceASecond) {
  EnvGuard env{{"FAKE_NVML_MODE", std::string("energy")},
               {"FAKE_NVML_PROC_MB", std::string("1500")},
               {"CUDA_VISIBLE_DEVICES", std::nullopt}};
  NvmlScan scan = scan_nvml(kFake);
  NvmlSource src(scan);
  const std::vector<pid_t> me{::getpid()};
  for (int i = 0; i < 10; ++i) {
    auto gb = src.process_memory_gb(me, 100.0 + 0.1 * i);  // ten samples in 0.9 s
    ASSERT_TRUE(gb.has_value());
    EXPECT_NEAR(*gb, 1.5, 1e-9);
  }
  EXPECT_EQ(src.process_queries(), 1u);
  src.process_memory_gb(me, 101.0);
  EXPECT_EQ(src.process_queries(), 2u);
}

// Issue: the GPU order warning was given only with more than one GPU selected.
TEST(NvmlSelection, DifferentModelsWarnAboutCudaOrderEvenForOneGpu) {
  EnvGuard env{{"FAKE_NVML_MODE", std::string("energy")},
               {"FAKE_NVML_COUNT", std::string("2")},
               {"FAKE_NVML_NAMES", std::string("NVIDIA A100-SXM4-40GB,Tesla V100-PCIE-16GB")},
               {"CUDA_VISIBLE_DEVICES", std::string("1")},
               {"CUDA_DEVICE_ORDER", std::nullopt}};
  NvmlScan s = scan_nvml(kFake);
  EXPECT_TRUE(has_note(s.notes,
                       "GPUs of different models (NVIDIA A100-SXM4-40GB, Tesla "
                       "V100-PCIE-16GB) and CUDA_DEVICE_ORDER is not PCI_BUS_ID"))
      << joined(s.notes);
  {
    EnvGuard pci{{"CUDA_DEVICE_ORDER", std::string("PCI_BUS_ID")}};
    EXPECT_TRUE(scan_nvml(kFake).notes.empty());
  }
  {
    EnvGuard by_uuid{{"CUDA_VISIBLE_DEVICES", std::string("GPU-fake-0001")}};
    EXPECT_TRUE(scan_nvml(kFake).notes.empty());  // a UUID is unambiguous
  }
  {
    // cuda:1 with every GPU visible: the ordinal is CUDA's.
    EnvGuard all{{"CUDA_VISIBLE_DEVICES", std::nullopt}};
    NvmlScan a = scan_nvml(kFake);
    EXPECT_TRUE(a.notes.empty());
    restrict_to_cuda_device(a, 1);
    EXPECT_TRUE(has_note(a.notes, "CUDA_DEVICE_ORDER is not PCI_BUS_ID")) << joined(a.notes);
  }
  EnvGuard same{{"FAKE_NVML_NAMES", std::string("NVIDIA H200,NVIDIA H200")}};
  EXPECT_TRUE(scan_nvml(kFake).notes.empty());
}

// Issue: a MIG instance got "names no GPU" instead of the documented MIG message.
TEST(NvmlSelection, MigInstanceMetersItsWholeGpuMarkedShared) {
  EnvGuard env{{"FAKE_NVML_MODE", std::string("energy")},
               {"FAKE_NVML_COUNT", std::string("2")},
               {"FAKE_NVML_MIG", std::string("2")},
               {"CUDA_VISIBLE_DEVICES", std::string("MIG-fake-0000-1")}};
  NvmlScan s = scan_nvml(kFake);
  ASSERT_EQ(s.gpus.size(), 2u);
  EXPECT_EQ(s.gpus[0].mig_uuids.size(), 2u);
  EXPECT_TRUE(s.gpus[0].visible);
  EXPECT_TRUE(s.gpus[0].shared);
  EXPECT_FALSE(s.gpus[1].visible);
  EXPECT_TRUE(has_note(s.notes,
                       "'MIG-fake-0000-1' is a MIG instance of GPU 0 (Fake GPU 0): "
                       "NVML cannot meter a MIG instance, so the whole GPU 0 is metered"))
      << joined(s.notes);
  pepr::test::TempDir tmp;
  Tracker t(gpu_options(tmp.path()));
  ASSERT_EQ(t.components().size(), 2u);
  EXPECT_NE(t.components()[1].source.find("[shared: whole GPU metered for a MIG instance]"),
            std::string::npos)
      << t.components()[1].source;

  EnvGuard unknown{{"CUDA_VISIBLE_DEVICES", std::string("MIG-0c9fa1b2-aaaa")}};
  NvmlScan u = scan_nvml(kFake);
  EXPECT_NE(u.visibility.find("names no MIG instance that NVML lists"), std::string::npos)
      << u.visibility;
}

// Issue: a selected GPU that could not be read was silently missing from the total.
TEST(NvmlSelection, AnUnreadableSelectedGpuIsANote) {
  EnvGuard env{{"FAKE_NVML_MODE", std::string("energy")},
               {"FAKE_NVML_COUNT", std::string("2")},
               {"FAKE_NVML_BROKEN", std::string("1")},
               {"CUDA_VISIBLE_DEVICES", std::nullopt}};
  pepr::test::TempDir tmp;
  Tracker t(gpu_options(tmp.path()));
  EXPECT_EQ(t.components().size(), 2u);  // package-0 and gpu.0
  EXPECT_TRUE(has_note(t.notes(), "GPU 1 (Fake GPU 1) is used by this job but cannot be read"))
      << joined(t.notes());
  EXPECT_TRUE(has_note(t.notes(), "its energy is missing from the total"));
  // Not selected: no note.
  EnvGuard only0{{"CUDA_VISIBLE_DEVICES", std::string("0")}};
  Tracker t0(gpu_options(tmp.path()));
  EXPECT_FALSE(has_note(t0.notes(), "cannot be read")) << joined(t0.notes());
}

// Issue: a counter that restarts (driver reload, GPU reset) must be noted, not silently skipped
// or counted.
TEST(NvmlResets, ACounterRestartIsDroppedAndNoted) {
  EnvGuard env{{"FAKE_NVML_MODE", std::string("energy")},
               {"FAKE_NVML_COUNT", std::string("1")},
               {"FAKE_NVML_POWER_W", std::string("100")},
               {"FAKE_NVML_RESET_S", std::string("0.15")},
               {"CUDA_VISIBLE_DEVICES", std::nullopt}};
  pepr::test::TempDir tmp;
  auto t = tracked_for(gpu_options(tmp.path()), 400);
  // 100 W for about 0.4 s, less the one interval around the restart.
  EXPECT_GT(t->total().energy_j[1], 100 * 0.25);
  EXPECT_LT(t->total().energy_j[1], 100 * 0.5);
  EXPECT_TRUE(has_note(t->notes(), "GPU 0: the energy counter was reset or jumped 1 time"))
      << joined(t->notes());
}

}  // namespace
}  // namespace pepr::meter
