#include "meter/tracker_record.hpp"

#include <string>

#include "core/error.hpp"
#include "core/json_check.hpp"

namespace pepr::meter {

namespace {

using nlohmann::json;

// One interval (the total or an entry of intervals): what carbon recomputation and the summary
// read. `full` for the total, which the summary reads in full.
void check_interval(const json& iv, const std::string& path, bool full) {
  check_member(iv, path, "energy_raw_j", kJsonNumber, full);
  check_member(iv, path, "idle_j", kJsonNumber, false);
  for (const char* k : {"wall_s", "cpu_s", "mem_peak_gb"})
    check_member(iv, path, k, kJsonNumber, full);
  for (const char* k : {"energy_kwh", "co2_g", "car_km", "energy_raw_kwh", "energy_kwh_lo",
                        "energy_kwh_hi", "co2_g_lo", "co2_g_hi"})
    check_member(iv, path, k, kJsonNumber, false);
  check_member(iv, path, "gpu_mem_peak_gb", kJsonNumber | kJsonNull, false);
  if (const json* e = check_member(iv, path, "energy_j", kJsonObject, full)) {
    const std::string epath = json_path(path, "energy_j");
    for (auto it = e->begin(); it != e->end(); ++it) check_member(*e, epath, it.key(), kJsonNumber);
  }
}

}  // namespace

void check_tracker_record(const json& record) {
  if (!record.is_object())
    throw Error("expected a JSON object (a pepr track record), found " + json_type_name(record));
  check_interval(*check_member(record, "", "total", kJsonObject), "total", true);
  if (const json* ivs = check_member(record, "", "intervals", kJsonArray, false))
    for (std::size_t i = 0; i < ivs->size(); ++i) {
      const std::string p = json_path("intervals", i);
      check_type((*ivs)[i], p, kJsonObject);
      check_interval((*ivs)[i], p, false);
    }
  check_member(*check_member(record, "", "methods", kJsonObject), "methods", "energy", kJsonString);
  const json& comps = *check_member(record, "", "components", kJsonArray);
  for (std::size_t i = 0; i < comps.size(); ++i) {
    const std::string p = json_path("components", i);
    check_type(comps[i], p, kJsonObject);
    check_member(comps[i], p, "name", kJsonString);
    check_member(comps[i], p, "in_total", kJsonBool);
  }
  if (const json* c = check_member(record, "", "carbon", kJsonObject | kJsonNull, false);
      c && c->is_object()) {
    check_member(*c, "carbon", "intensity_g_per_kwh", kJsonNumber, false);
    check_member(*c, "carbon", "pue", kJsonNumber, false);
    check_member(*c, "carbon", "country", kJsonString | kJsonNull, false);
    check_member(*c, "carbon", "why", kJsonString, false);
  }
  const json* idle = check_member(record, "", "idle_baseline", kJsonObject | kJsonNull, false);
  if (record.at("total").contains("idle_j")) {
    if (!idle || !idle->is_object())
      throw Error("idle_baseline: expected an object (total.idle_j is given), found " +
                  (idle ? json_type_name(*idle) : std::string("nothing")));
    check_member(*idle, "idle_baseline", "power_w", kJsonNumber);
  }
  check_member(record, "", "estimate_reason", kJsonString | kJsonNull, false);
  check_member(record, "", "metrics", kJsonObject | kJsonNull, false);
  check_member(record, "", "label", kJsonString, false);
  check_member(record, "", "exit_code", kJsonNumber | kJsonNull, false);
}

}  // namespace pepr::meter
