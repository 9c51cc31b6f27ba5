// Carbon: grid intensity per country, PUE, the car-km equivalent, and recomputing a record.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace pepr::meter {

struct CountryIntensity {
  const char* code;    // ISO 3166-1 alpha-2 (what records keep as carbon.country)
  const char* alpha3;  // ISO 3166-1 alpha-3 (accepted by --country too, as CodeCarbon takes it)
  const char* name;
  double g_per_kwh;
  int year;  // the data year of g_per_kwh
};
// Annual average lifecycle carbon intensity of electricity generation (g CO2eq/kWh), Our World in
// Data (data from Ember and the Energy Institute), the latest year each country has. Generated
// into carbon_table.cpp by scripts/gen_carbon_table.py, which names the source file and its data
// years; see docs/meters.md.
const std::vector<CountryIntensity>& intensity_table();
extern const char* const kIntensitySource;        // the table's source, as carbon.why cites it
inline constexpr double kWorldIntensity = 480.0;  // Ember, Global Electricity Review 2024 (2023)

// The PUE the paper's tracker applied to every kWh, stated only in its log file: carbontracker's
// default since v2.0.0 (constants.PUE_2023); v1.1.7 to v1.2.x used 1.55. See docs/meters.md.
inline constexpr double kPaperPue = 1.58;
// g CO2 per km of an average new passenger car in the EU, 2020 (EEA; carbontracker's factor).
inline constexpr double kCarGramsPerKm = 107.5;

struct Intensity {
  double g_per_kwh = kWorldIntensity;
  std::string country;  // ISO alpha-2 code, empty when given directly or the world average
  std::string why;      // which option or variable chose it, and its source
};

// --intensity, else --country, else $PEPR_CARBON_INTENSITY, else $PEPR_COUNTRY, else the world
// average. A country is an ISO 3166-1 alpha-2 or alpha-3 code of intensity_table(), in any case
// (FR, fra), or WORLD. Throws pepr::Error for an unknown country or a negative intensity.
Intensity resolve_intensity(const std::optional<std::string>& country,
                            const std::optional<double>& intensity);

double co2_grams(double energy_kwh, double g_per_kwh, double pue);

// Rewrites every CO2 and PUE-adjusted figure of a run record (pepr track -o) for another
// intensity and PUE, from the raw energy it keeps.
void recompute_carbon(nlohmann::json& record, const Intensity& intensity, double pue);

}  // namespace pepr::meter
