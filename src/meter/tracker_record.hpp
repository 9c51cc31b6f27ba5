// The shape of a tracker record (`pepr track -o RUN.json`, Tracker::to_json): checked before a
// saved record is read back (`pepr track --recompute`), so that a damaged or foreign file is a
// located error rather than a crash.
#pragma once

#include <nlohmann/json.hpp>

namespace pepr::meter {

// Throws pepr::Error naming the first key (as a path, e.g. "total.energy_raw_j") that is missing
// or of the wrong type among those pepr reads: total (wall_s, cpu_s, energy_raw_j, energy_j,
// mem_peak_gb; optional idle_j, gpu_mem_peak_gb, energy_kwh, co2_g, car_km), intervals,
// methods.energy, components (name, in_total), and, when present, carbon, idle_baseline,
// estimate_reason, metrics, label and exit_code.
void check_tracker_record(const nlohmann::json& record);

}  // namespace pepr::meter
