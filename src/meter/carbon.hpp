// Carbon: grid intensity per country, PUE, the car-km equivalent, and recomputing a record.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace pepr::meter {

struct CountryIntensity {
  const char* code;  // ISO 3166-1 alpha-2
  const char* name;
  double g_per_kwh;
  int year;
};
// Annual average carbon intensity of electricity generation, Our World in Data (data from Ember
// and the Energy Institute), year 2023 (2022 where 2023 was not published). See docs/meters.md.
const std::vector<CountryIntensity>& intensity_table();
inline constexpr double kWorldIntensity = 480.0;  // Ember, Global Electricity Review 2024 (2023)
inline constexpr const char* kIntensitySource =
    "Our World in Data, carbon intensity of electricity generation (Ember; Energy Institute)";

// The PUE the paper's tracker (carbontracker) applied to every kWh without saying so.
inline constexpr double kPaperPue = 1.58;
// g CO2 per km of an average new passenger car in the EU, 2020 (EEA; carbontracker's factor).
inline constexpr double kCarGramsPerKm = 107.5;

struct Intensity {
  double g_per_kwh = kWorldIntensity;
  std::string country;  // ISO code, empty when given directly or the world average
  std::string why;      // which option or variable chose it, and its source
};

// --intensity, else --country, else $PEPR_CARBON_INTENSITY, else $PEPR_COUNTRY, else the world
// average. Throws pepr::Error for an unknown country or a negative intensity.
Intensity resolve_intensity(const std::optional<std::string>& country,
                            const std::optional<double>& intensity);

double co2_grams(double energy_kwh, double g_per_kwh, double pue);

// Rewrites every CO2 and PUE-adjusted figure of a run record (pepr track -o) for another
// intensity and PUE, from the raw energy it keeps.
void recompute_carbon(nlohmann::json& record, const Intensity& intensity, double pue);

}  // namespace pepr::meter
