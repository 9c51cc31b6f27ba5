// CPU package and DRAM energy from the perf "power" PMU (power/energy-pkg/, power/energy-ram/)
// through perf_event_open: works without root when kernel.perf_event_paranoid <= 0.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "meter/source.hpp"

namespace pepr::meter {

struct PerfEventInfo {
  std::string event;  // energy-pkg, energy-ram, energy-cores, energy-psys, ...
  std::string config;
  double scale = 0;  // joules per count
};

struct PerfScan {
  std::string root;       // /sys/bus/event_source/devices/power ($PEPR_PERF_ROOT)
  std::string cpu_root;   // /sys/devices/system/cpu ($PEPR_CPU_SYSFS_ROOT): the CPU topology
  bool disabled = false;  // PEPR_PERF=0
  bool pmu_exists = false;
  std::vector<PerfEventInfo> events;  // every energy-* event the PMU lists
  std::vector<int> cpus;              // one CPU per package (cpumask, mirrors dropped)
  std::string problem;                // why it cannot be used; empty when it can
  std::vector<std::string> notes;     // e.g. CPUs of cpumask dropped as mirrors
};

// The CPUs of the PMU's cpumask to open. The package energy counter of AMD and Hygon CPUs is
// per socket, but some kernels list one CPU per die in cpumask: every CPU whose socket
// (`package_of`, physical_package_id; -1 unknown) is already listed reads the same counter and is
// dropped, with a note. On other vendors (Intel Cascade Lake-AP has a counter per die) all stay.
std::vector<int> perf_package_cpus(const std::vector<int>& cpus, const std::vector<int>& package_of,
                                   const std::string& vendor, std::vector<std::string>& notes);

// "AuthenticAMD", "GenuineIntel", ...: $PEPR_CPU_VENDOR or /proc/cpuinfo's vendor_id.
std::string cpu_vendor();

// Looks at the PMU and tries to open energy-pkg (and energy-ram) on every package.
PerfScan scan_perf();

class PerfSource final : public EnergySource {
 public:
  // nullptr (and scan.problem set) when the events cannot be opened.
  static std::unique_ptr<PerfSource> open(PerfScan& scan);
  ~PerfSource() override;
  const std::vector<Component>& components() const override { return components_; }
  void begin(const SampleContext& ctx) override;
  void sample(const SampleContext& ctx) override;
  std::vector<double> joules() const override;
  std::vector<std::string> notes() const override { return notes_; }

 private:
  PerfSource() = default;
  std::vector<std::string> notes_;
  struct Counter {
    int fd = -1;
    double scale = 0;
    unsigned long long start = 0, last = 0;
  };
  std::vector<Component> components_;
  std::vector<Counter> counters_;
};

}  // namespace pepr::meter
