// CPU package and DRAM energy from RAPL through the powercap sysfs tree
// (/sys/class/powercap/intel-rapl:*, also used for AMD Zen on recent kernels).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "meter/source.hpp"

namespace pepr::meter {

struct RaplDomain {
  std::string zone;     // "intel-rapl:0:1"
  std::string dir;      // full path of the zone folder
  std::string name;     // contents of `name`: "package-0", "core", "uncore", "dram", "psys"
  std::string package;  // the package it belongs to: "package-0" (the zone's own name for psys)
  std::string kind;     // package, core, uncore, dram, psys, other
  std::uint64_t max_range_uj = 0;
  std::uint64_t energy_uj = 0;  // the reading at scan time
  bool readable = false;
  std::string problem;  // why it cannot be used (permission, missing or garbage file)
  bool permission_denied = false;
};

struct RaplScan {
  std::string root;
  bool root_exists = false;
  std::vector<RaplDomain> domains;
  // True when at least one package domain can be read.
  bool usable() const;
  // Why RAPL cannot be used (empty when usable): no powercap tree, permission (with the fix), ...
  std::string problem() const;
};

// The powercap root: $PEPR_POWERCAP_ROOT or /sys/class/powercap.
std::string powercap_root();
// Finds every RAPL zone under `root` and checks that it can be read.
RaplScan scan_rapl(const std::string& root);

// Energy between two readings of a counter that wraps to 0 after `max_range_uj`.
std::uint64_t rapl_delta(std::uint64_t prev, std::uint64_t cur, std::uint64_t max_range_uj);

// Highest power assumed when choosing how often to read the counters so none wraps unseen.
inline constexpr double kRaplMaxPlausibleWatts = 500.0;

// Components: each package (cpu.package-N, in the total), its DRAM (dram.package-N, in the
// total), core/uncore (cpu.package-N.core, contained in the package: not in the total) and psys
// (platform, contains the packages: not in the total).
class RaplSource final : public EnergySource {
 public:
  explicit RaplSource(const RaplScan& scan);  // uses the readable domains
  const std::vector<Component>& components() const override { return components_; }
  void begin(const SampleContext& ctx) override;
  void sample(const SampleContext& ctx) override;
  std::vector<double> joules() const override;
  double max_interval_s() const override;

 private:
  struct Counter {
    std::string path;
    std::uint64_t max_range_uj = 0;
    std::uint64_t last_uj = 0;
    double joules = 0;
    bool have_last = false;
  };
  void read_into(Counter& c, bool reset);
  std::vector<Component> components_;
  std::vector<Counter> counters_;
};

}  // namespace pepr::meter
