// The sensor inventory behind `pepr meters`: every sensor found, readable or not, its current
// reading, and for each one missing the reason.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json_fwd.hpp>

namespace pepr::meter {

// Reads every sensor; power figures are averages over `window_s` seconds.
nlohmann::json probe_sensors(double window_s, std::optional<double> cpu_tdp_w);
// The inventory as text for people.
std::string format_probe(const nlohmann::json& probe);

}  // namespace pepr::meter
