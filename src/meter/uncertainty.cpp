#include "meter/uncertainty.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "meter/estimate.hpp"

namespace pepr::meter {

namespace {

const char* const kRaplWidens =
    "intervals shorter than about 0.1 s (the counters update every ~1 ms); other work on the same "
    "package (a loaded machine: the lower bound falls to the job's share of the CPU work)";

std::vector<MethodError> make_model() {
  std::vector<MethodError> m;
  m.push_back({"rapl-powercap", "cpu", 0.05, 0.02, 0.001,
               "Intel RAPL measures package power since Haswell (Hackenberg et al., An Energy "
               "Efficiency Feature Survey of the Intel Haswell Processor, IPDPSW 2015) and tracks "
               "a wall-power meter closely (Khan et al., RAPL in Action, ACM TOMPECS 2018); "
               "pepr's bound: 5 % systematic, 2 % per run",
               kRaplWidens});
  m.push_back({"rapl-powercap", "dram", 0.10, 0.05, 0.001,
               "DRAM RAPL is accurate on Haswell servers, less so on desktop parts (Desrochers, "
               "Paradis and Weaver, A Validation of DRAM RAPL Power Measurements, MEMSYS 2016); "
               "pepr's bound: 10 % systematic, 5 % per run",
               kRaplWidens});
  m.push_back({"rapl-powercap", "cpu-amd", 0.15, 0.05, 0.001,
               "on AMD Zen the RAPL figure is modelled from activity, not measured (Schoene et "
               "al., Energy Efficiency Aspects of the AMD Zen 2 Architecture, IEEE Cluster 2021); "
               "pepr's bound: 15 % systematic, 5 % per run",
               kRaplWidens});
  m.push_back({"perf-pmu", "cpu", 0.05, 0.02, 0.001,
               "the same RAPL counters read through perf's power PMU: as rapl-powercap",
               kRaplWidens});
  m.push_back({"perf-pmu", "dram", 0.10, 0.05, 0.001,
               "the same DRAM RAPL counter read through perf: as rapl-powercap's dram",
               kRaplWidens});
  m.push_back({"nvml-energy-counter", "gpu", 0.05, 0.05, 0.1,
               "NVML documents its power readings to within +-5 % of the draw; the counter "
               "integrates sampled power, and on A100/H100 the samples cover about a quarter of "
               "the runtime (Yang, Adamek and Armour, Part-time Power Measurements: nvidia-smi's "
               "Lack of Attention, arXiv 2312.02741); pepr's bound: 5 % systematic, 5 % per run",
               "short intervals and bursty work against the ~100 ms sampling"});
  m.push_back({"nvml-power-sampling", "gpu", 0.05, 0.10, 1.0,
               "NVML's +-5 % power readings, averaged by the driver over up to a second and "
               "sampled by pepr: bursts between samples are missed (arXiv 2312.02741); pepr's "
               "bound: 5 % systematic, 10 % per run",
               "intervals of a few seconds (the driver's ~1 s averaging window); bursty work"});
  m.push_back({"amdsmi-energy-counter", "gpu", 0.10, 0.05, 0.1,
               "AMD documents no accuracy for its energy counter; pepr's bound: 10 % systematic, "
               "5 % per run (twice NVML's systematic)",
               "short intervals against the counter's update period"});
  m.push_back({"amdsmi-power-sampling", "gpu", 0.10, 0.10, 1.0,
               "AMD documents no accuracy for its power readings; pepr's bound: 10 % systematic, "
               "10 % per run, as NVML's power sampling",
               "intervals of a few seconds; bursty work"});
  m.push_back({"jetson-ina3221", "", 0.05, 0.05, 0.1,
               "the INA3221 monitor's gain error is a fraction of a percent (TI datasheet); the "
               "shunt resistors' tolerance and the board's rail layout dominate: pepr's bound "
               "5 % systematic, 5 % per run",
               "short intervals against pepr's sampling of the rails"});
  m.push_back({"jetson-tegrastats", "", 0.05, 0.10, 0.5,
               "the same INA3221 rails as jetson-ina3221, read from tegrastats' lines at its "
               "500 ms interval and held between them: bursts between lines are missed; pepr's "
               "bound 5 % systematic, 10 % per run",
               "short intervals against tegrastats' 500 ms interval"});
  m.push_back({"estimate", "", 1.0, 0.25, 0.1,
               "a TDP x utilisation model: a TDP is a thermal design figure, not a measured draw, "
               "and such estimates disagree with other tools by up to 2x (CodeCarbon issue 788); "
               "pepr's bound: a factor of 2 systematic; power at one utilisation varies with the "
               "work (vector-heavy convolutions against memory-bound layers): 25 % per run, "
               "pepr's assumption",
               "intervals shorter than a few sampling periods (CPU time is read every 0.1 s)"});
  m.push_back(
      {"idle-baseline", "", 0.0, 0.10, 0,
       "the idle draw measured before the job drifts with temperature, clocks and "
       "background services over the run: 10 % of the subtracted energy, pepr's "
       "assumption",
       "long runs after a short idle measurement; a machine whose background load changes"});
  m.push_back({"pue", "", 0.0, 0.0, 0,
               "the PUE is the user's statement (the paper's 1.58 is a survey average): pepr "
               "applies it as given, records it, and adds no error of its own",
               "a PUE that was assumed rather than known for the site"});
  m.push_back({"carbon-intensity", "", 0.25, 0.10, 0,
               "an annual country average (Our World in Data) applied to a run at one hour; a "
               "grid's intensity changes through the day and the year (Dodge et al., Measuring "
               "the Carbon Intensity of AI in Cloud Instances, FAccT 2022): pepr's bound 25 % "
               "systematic, 10 % per run (runs of one sweep at different hours)",
               "a grid with much wind or solar; runs spread over days"});
  return m;
}

const MethodError& find(const std::string& method, const std::string& kind) {
  const auto& m = error_model();
  for (const auto& e : m)
    if (e.method == method && (e.kind.empty() || e.kind == kind)) return e;
  for (const auto& e : m)
    if (e.method == "estimate") return e;
  return m.front();
}

}  // namespace

const std::vector<MethodError>& error_model() {
  static const std::vector<MethodError> model = make_model();
  return model;
}

const MethodError& method_error(const std::string& method, const std::string& kind, bool amd) {
  // A power-plane reading (psys) or a whole-package one counts as the CPU package.
  const std::string k = kind == "psys" ? "cpu" : kind;
  if (method == "rapl-powercap" && k == "cpu" && amd) return find(method, "cpu-amd");
  return find(method, k);
}

const MethodError& idle_baseline_error() {
  return find("idle-baseline", "");
}
const MethodError& intensity_error() {
  return find("carbon-intensity", "");
}

bool amd_cpu() {
  return cpu_model_name().find("AMD") != std::string::npos;
}

namespace {

// Methods that read a whole package or GPU (others' work included), not the job's own share.
bool reads_whole_device(const std::string& method) {
  return method != "estimate";
}

}  // namespace

EnergyBounds energy_bounds(const BoundsInput& in) {
  EnergyBounds b;
  const auto& comps = *in.components;
  const auto& joules = *in.energy_j;
  double raw = 0, sys_j = 0, run_j = 0, lo = 0, hi = 0;
  bool short_interval = false, loaded = false;
  for (std::size_t i = 0; i < comps.size() && i < joules.size(); ++i) {
    if (!comps[i].in_total) continue;
    const MethodError& e = method_error(comps[i].method, comps[i].kind, in.amd_cpu);
    const double x = std::max(0.0, joules[i]);
    double per_run = e.per_run;
    if (e.update_period_s > 0 && in.wall_s > 0) {
      const double widen = 2 * e.update_period_s / in.wall_s;
      if (widen > 0.01) short_interval = true;
      per_run += widen;
    }
    const double u = e.systematic + per_run;
    raw += x;
    sys_j += e.systematic * x;
    run_j += per_run * x;
    double c_lo = lower_bound(x, u);
    if (in.own_cpu_share && *in.own_cpu_share < 1 && reads_whole_device(comps[i].method)) {
      c_lo *= std::clamp(*in.own_cpu_share, 0.0, 1.0);
      loaded = true;
    }
    lo += c_lo;
    hi += upper_bound(x, u);
  }
  double value = raw;
  if (in.idle_j) {
    const double idle = std::max(0.0, *in.idle_j), ui = idle_baseline_error().per_run;
    value = std::max(0.0, raw - idle);
    lo = std::max(0.0, lo - upper_bound(idle, ui));
    hi = std::max(0.0, hi - lower_bound(idle, ui));
    run_j += ui * idle;
  }
  b.lo_j = std::min(lo, value);
  b.hi_j = std::max(hi, value);
  // The relative parts, of the scored value (an idle baseline's error weighs on the net figure).
  if (value > 0) {
    b.relative.systematic = sys_j / value;
    b.relative.per_run = run_j / value;
    if (loaded && b.lo_j > 0) b.relative.per_run = std::max(b.relative.per_run, value / b.lo_j - 1);
  }
  if (short_interval) b.widened.emplace_back("short interval against the sensor's update period");
  if (loaded) b.widened.emplace_back("loaded machine: the sensors read others' work too");
  return b;
}

std::string bounds_text(double value, double lo, double hi, const RelativeError& rel,
                        const char* unit) {
  return fmt::format("{:.3g} {} ({:.3g}-{:.3g}; +-{:.0f} % systematic, +-{:.0f} % per run)", value,
                     unit, lo, hi, 100 * rel.systematic, 100 * rel.per_run);
}

}  // namespace pepr::meter
