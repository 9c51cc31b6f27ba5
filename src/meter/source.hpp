// One energy source (RAPL, perf, NVML, the estimate) and the components it measures.
#pragma once

#include <limits>
#include <memory>
#include <string>
#include <vector>

namespace pepr::meter {

// What one energy figure measures and how.
struct Component {
  std::string name;      // e.g. "cpu.package-0", "dram.package-0", "cpu.package-0.core", "gpu.0"
  std::string kind;      // cpu, dram, gpu, cpu-part (core/uncore, contained in cpu), psys,
                         // board (a board's input: everything on it), board-part
  std::string method;    // rapl-powercap, perf-pmu, nvml-energy-counter, nvml-power-sampling,
                         // amdsmi-energy-counter, amdsmi-power-sampling, jetson-ina3221,
                         // estimate
  std::string source;    // the file, event or device behind it
  bool in_total = true;  // false for parts already contained in another component
};

// Readings the tracker hands to every source at each sample.
struct SampleContext {
  double t_s = 0;     // steady clock
  double cpu_s = 0;   // CPU time of the tracked process tree so far
  double rss_gb = 0;  // resident memory of the tracked process tree now
};

class EnergySource {
 public:
  virtual ~EnergySource() = default;
  virtual const std::vector<Component>& components() const = 0;
  // Resets the cumulative energy to zero at this moment.
  virtual void begin(const SampleContext& ctx) = 0;
  // Reads the sensors and adds to the cumulative energy.
  virtual void sample(const SampleContext& ctx) = 0;
  // Cumulative joules since begin(), one per component.
  virtual std::vector<double> joules() const = 0;
  // Longest safe time between two samples (counter wraparound); infinity when none.
  virtual double max_interval_s() const { return std::numeric_limits<double>::infinity(); }
  // True when the figures are only right if sample() runs at the tracker's interval.
  virtual bool needs_periodic() const { return false; }
  // What went wrong or was decided while measuring (a counter reset dropped, mirrored zones
  // counted once, a GPU that stopped answering), for the record and stderr.
  virtual std::vector<std::string> notes() const { return {}; }
};

// A source the tracker may use (besides the CPU's): the source when it can measure something,
// else null, and why, for the record's `sensors` and `pepr meters`.
struct SourceChoice {
  std::unique_ptr<EnergySource> source;
  std::string status;              // "used: ..." or why not, with the fix
  std::vector<std::string> notes;  // for the record and stderr
  bool covers_cpu = false;         // its figures include the CPU and memory (a board's rails)
};

}  // namespace pepr::meter
