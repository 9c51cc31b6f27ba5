// The estimate used when no sensor can be read: CPU power from a TDP scaled by the measured CPU
// utilisation, DRAM power from a watts-per-GB rule applied to the resident memory.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "meter/source.hpp"

namespace pepr::meter {

// DRAM power per GB of resident memory: 3 W per 8 GB (0.375 W/GB), the rule of CodeCarbon and
// close to Green Algorithms' 0.3725 W/GB (Lannelongue et al., Adv. Sci. 2021). See docs/meters.md.
inline constexpr double kDramWattsPerGb = 0.375;
// CPU power per logical CPU at full load when the model is not in the table and --cpu-tdp is
// not given (the table's server parts draw 2-6 W per hardware thread; 5 W errs high).
inline constexpr double kDefaultWattsPerCpu = 5.0;

struct TdpEntry {
  const char* pattern;  // a substring of /proc/cpuinfo's "model name"
  double tdp_w;         // per package (vendor specification)
  int threads;          // hardware threads per package
};
const std::vector<TdpEntry>& tdp_table();

// The CPU model name (/proc/cpuinfo "model name", or $PEPR_CPU_MODEL for tests).
std::string cpu_model_name();

// The power of this machine's logical CPUs all at full load, and how it was chosen.
struct CpuPower {
  double full_load_w = 0;
  int cpus = 1;
  std::string model;
  std::string why;  // "--cpu-tdp 65 W", "table: Xeon Gold 6248 150 W / 40 threads x 2 CPUs", ...
};
CpuPower cpu_power(std::optional<double> tdp_override_w, const std::string& model, int cpus);

// cpu.estimate: full_load_w x (CPU seconds of the tracked processes / (wall x cpus)) per
// interval = full_load_w / cpus x CPU seconds. dram.estimate: kDramWattsPerGb x RSS (GB)
// integrated over time (trapezoids between samples).
class EstimateSource final : public EnergySource {
 public:
  EstimateSource(const CpuPower& cpu, std::string reason);
  const std::vector<Component>& components() const override { return components_; }
  void begin(const SampleContext& ctx) override;
  void sample(const SampleContext& ctx) override;
  std::vector<double> joules() const override;
  bool needs_periodic() const override { return true; }

 private:
  CpuPower cpu_;
  std::vector<Component> components_;
  double cpu0_ = 0, cpu_last_ = 0;
  double rss_last_ = 0, t_last_ = 0;
  double dram_j_ = 0;
};

}  // namespace pepr::meter
