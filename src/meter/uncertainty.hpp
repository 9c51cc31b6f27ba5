// How wrong an energy figure may be: pepr's error model, one entry per measuring method, and the
// interval [lo, hi] it gives an interval's energy and CO2eq. docs/meters.md has the table with
// the basis of every figure.
//
// Each method's error has two parts:
//  - systematic: common to every run measured the same way on one machine (a sensor's calibration,
//    the TDP an estimate assumes). It scales every run alike, so it cancels in PePR's min-max and
//    E / E_max normalisations and in ratios between such runs: rankings need not fear it.
//  - per run: differs from run to run (workload-dependent power at the same utilisation, a
//    reading's update period against a short interval, other people's work on a loaded machine).
//    This part can reorder models.
// A relative error u bounds a figure x by [x / (1 + u), x * (1 + u)]: symmetric on a log scale,
// so u = 1 means "within a factor of 2".
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "meter/source.hpp"

namespace pepr::meter {

struct MethodError {
  std::string method;  // Component.method, or idle-baseline, pue, carbon-intensity
  std::string kind;    // the Component.kind it applies to; empty: any
  double systematic = 0;
  double per_run = 0;
  // The sensor's update period: a reading can miss up to one period of energy at each end of an
  // interval, so a short interval's per-run error grows by 2 x period / wall.
  double update_period_s = 0;
  std::string basis;   // where the figures come from (vendor documentation, validation studies)
  std::string widens;  // what widens them
  double total() const { return systematic + per_run; }
};

// The whole model, in the order of docs/meters.md's table.
const std::vector<MethodError>& error_model();
// The entry for a component (method and kind; RAPL on an AMD CPU has its own). An unknown method
// gets the estimate's (the widest).
const MethodError& method_error(const std::string& method, const std::string& kind,
                                bool amd_cpu = false);
// The idle baseline's and the carbon intensity's entries.
const MethodError& idle_baseline_error();
const MethodError& intensity_error();

// Whether the CPU is AMD's (/proc/cpuinfo's model name): its RAPL is a model, not a measurement.
bool amd_cpu();

// Relative errors of one figure.
struct RelativeError {
  double systematic = 0;
  double per_run = 0;
  double total() const { return systematic + per_run; }  // errors that may add up
};

inline double lower_bound(double x, double u) {
  return x / (1 + u);
}
inline double upper_bound(double x, double u) {
  return x * (1 + u);
}

// The bounds of an interval's energy (joules, before PUE) and their relative parts.
struct EnergyBounds {
  double lo_j = 0, hi_j = 0;         // all errors
  RelativeError relative;            // of the value: systematic and per run (hi / value - 1)
  std::vector<std::string> widened;  // what widened them in this interval (short, loaded)
};

struct BoundsInput {
  const std::vector<Component>* components = nullptr;
  const std::vector<double>* energy_j = nullptr;  // per component
  double wall_s = 0;
  std::optional<double> idle_j;  // subtracted from the total when measured
  // The job's share of the machine's CPU work over the run when others kept it busy: sensors that
  // read a whole package then include their energy, so the lower bound falls to that share.
  std::optional<double> own_cpu_share;
  bool amd_cpu = false;
};
EnergyBounds energy_bounds(const BoundsInput& in);

// A short text of an interval, e.g. "0.0123 kWh (0.0110-0.0137; +-5 % systematic, +-6 % per
// run)", for the summaries people read.
std::string bounds_text(double value, double lo, double hi, const RelativeError& rel,
                        const char* unit);

}  // namespace pepr::meter
