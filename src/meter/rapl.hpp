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
// A counter that gained more than this power x the time since its last reading (plus
// kRaplResetSlackJ: a reset shows as a wrap of up to max_energy_range_uj, hundreds of kJ, so the
// slack only hides resets within 100 J of the top) was reset (suspend/resume, driver reload) or
// misread: the jump is dropped and noted, never counted as a wrap.
inline constexpr double kRaplResetWatts = 2 * kRaplMaxPlausibleWatts;
inline constexpr double kRaplResetSlackJ = 100.0;
// Two zones of one package (package-X-die-Y, or one name listed twice) whose readings stay within
// this many joules of each other read the same socket counter (multi-die AMD CPUs): counted once.
inline constexpr double kRaplMirrorToleranceJ = 1.0;

// The package number in a zone name: "package-3" and "package-3-die-1" give 3; else -1.
int rapl_package_number(const std::string& name);

// Components: each package (cpu.package-N, in the total), its DRAM (dram.package-N, in the
// total), core/uncore (cpu.package-N.core, contained in the package: not in the total) and psys
// (platform, contains the packages: not in the total). Zones that mirror another zone's counter
// (see kRaplMirrorToleranceJ) are reported but not in the total.
class RaplSource final : public EnergySource {
 public:
  // Uses the readable domains. Zones of one package are read `mirror_rounds` times, 1 ms apart,
  // to find mirrors (only when a package has more than one zone of a kind).
  explicit RaplSource(const RaplScan& scan, int mirror_rounds = 3);
  const std::vector<Component>& components() const override { return components_; }
  void begin(const SampleContext& ctx) override;
  void sample(const SampleContext& ctx) override;
  std::vector<double> joules() const override;
  double max_interval_s() const override;
  std::vector<std::string> notes() const override;

 private:
  struct Counter {
    std::string path, zone, name;
    std::uint64_t max_range_uj = 0;
    std::uint64_t last_uj = 0;
    double last_t = 0;
    double joules = 0;
    bool have_last = false;
    int mirror_of = -1;  // index of the counter this one mirrors
    int resets = 0;      // implausible jumps dropped
    double dropped_j = 0;
    std::string first_reset;  // the first one, described
  };
  void read_into(Counter& c, bool reset, double t);
  std::vector<Component> components_;
  std::vector<Counter> counters_;
  std::vector<std::string> mirror_notes_;
};

}  // namespace pepr::meter
