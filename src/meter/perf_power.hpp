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
  bool disabled = false;  // PEPR_PERF=0
  bool pmu_exists = false;
  std::vector<PerfEventInfo> events;  // every energy-* event the PMU lists
  std::vector<int> cpus;              // one CPU per package (cpumask)
  std::string problem;                // why it cannot be used; empty when it can
};

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

 private:
  PerfSource() = default;
  struct Counter {
    int fd = -1;
    double scale = 0;
    unsigned long long start = 0, last = 0;
  };
  std::vector<Component> components_;
  std::vector<Counter> counters_;
};

}  // namespace pepr::meter
