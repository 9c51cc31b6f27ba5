// The Tracker: measures wall time, CPU time, energy per component, CO2eq and peak memory of this
// process or a child process, in intervals (mark) and in total, with the method behind each
// figure. A background thread samples the sensors.
//
//   pepr::meter::Tracker t({});
//   t.start();
//   ... epoch 1 ...  t.mark("epoch-1");
//   ... epoch 2 ...  t.mark("epoch-2");
//   t.stop();
//   nlohmann::json record = t.to_json();
#pragma once

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "meter/carbon.hpp"
#include "meter/source.hpp"
#include "meter/uncertainty.hpp"

struct rusage;

namespace pepr::meter {

struct TrackerOptions {
  double interval_s = 0.1;          // sampling interval (shortened if a RAPL counter needs it)
  std::optional<double> cpu_tdp_w;  // the estimate's CPU power at full load
  double pue = 1.0;
  Intensity intensity;        // resolve_intensity(...)
  std::string powercap_root;  // empty: $PEPR_POWERCAP_ROOT or /sys/class/powercap
  std::string nvml_lib;       // empty: $PEPR_NVML_LIB or libnvidia-ml.so.1
  bool use_nvml = true;
  std::string amdsmi_lib;  // empty: $PEPR_AMDSMI_LIB or libamd_smi.so
  bool use_amdsmi = true;
  std::string jetson_root;  // empty: $PEPR_JETSON_SYSFS_ROOT or /sys
  // The CUDA device the work runs on (its ordinal among the visible GPUs, as `cuda:N`): only that
  // GPU is metered. nullopt: every visible GPU.
  std::optional<int> cuda_device;
  bool keep_samples = false;  // keep the time series (samples_jsonl)
};

struct IntervalRecord {
  std::string label;
  double start_s = 0, end_s = 0;  // since start()
  double wall_s = 0;
  double cpu_s = 0;              // CPU time of the tracked process tree
  std::vector<double> energy_j;  // per component (components()), raw
  double energy_raw_j = 0;       // sum of the components counted in the total
  std::optional<double> idle_j;  // idle draw x wall, with measure_idle()
  double energy_kwh = 0;         // PUE x (net of idle when measured, else raw)
  double co2_g = 0;
  // The bounds of energy_kwh and co2_g under pepr's error model (meter/uncertainty.hpp), and the
  // relative errors: systematic (cancels between runs measured alike) and per run.
  double energy_kwh_lo = 0, energy_kwh_hi = 0, co2_g_lo = 0, co2_g_hi = 0;
  RelativeError energy_error;
  std::vector<std::string> error_widened;  // what widened them (a short interval, a loaded machine)
  double mem_peak_gb = 0;                  // peak RSS of the tracked tree
  std::optional<double> gpu_mem_peak_gb;
};

class Tracker {
 public:
  explicit Tracker(TrackerOptions options = {});
  ~Tracker();
  Tracker(const Tracker&) = delete;
  Tracker& operator=(const Tracker&) = delete;

  // Before start(): measure a child process (and its descendants) instead of this process.
  void set_target(pid_t pid);
  // Before start(): measures the machine's draw for `seconds` with nothing of ours running.
  void measure_idle(double seconds);
  void start();
  // Closes the current interval (e.g. at the end of an epoch) and returns it.
  IntervalRecord mark(const std::string& label);
  // Stops sampling; returns the total. Time since the last mark becomes an interval `label`.
  IntervalRecord stop(const std::string& label = "end");
  // For a child target: it has exec'd its program. Memory peaks seen so far were pepr's own
  // image it was forked from; they restart from the child's current RSS.
  void child_execed();
  // For a child target: its accounting from wait4 (CPU time and peak RSS after it exits).
  void child_exited(const struct rusage& ru);

  const std::vector<Component>& components() const;
  const std::vector<IntervalRecord>& intervals() const;
  const IntervalRecord& total() const;
  // The energy method(s) in use: "rapl-powercap", "perf-pmu", "estimate", "+nvml-...".
  std::string energy_method() const;
  // Why the estimate is used (empty when a sensor is).
  std::string estimate_reason() const;
  // Notes worth printing: unreadable RAPL domains with the fix, GPUs without a counter, ...
  std::vector<std::string> notes() const;
  double interval_s() const;     // the effective sampling interval
  double sampler_cpu_s() const;  // CPU time used by the sampler thread so far
  std::size_t sample_count() const;

  nlohmann::json to_json() const;
  std::string samples_jsonl() const;  // one JSON object per sample (keep_samples)
  std::string summary() const;        // a few lines for people

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// JSON of one interval (as in to_json()).
nlohmann::json interval_json(const IntervalRecord& r, const std::vector<Component>& components);

}  // namespace pepr::meter
