// pepr's public API: meter any region of code (energy from RAPL, perf, NVML or an estimate;
// CO2eq; peak memory; wall and CPU time).
//
//   pepr::Tracker t;               // pepr::TrackerOptions: interval, country, PUE, GPU...
//   t.start();
//   ... work ...
//   pepr::IntervalRecord r = t.stop();
//   r.energy_kwh, r.co2_g, r.mem_peak_gb, r.wall_s;  t.to_json() is the whole account
//
// Link pepr::meter.
#pragma once

#include "meter/tracker.hpp"

namespace pepr {
using meter::IntervalRecord;
using meter::Tracker;
using meter::TrackerOptions;
}  // namespace pepr
