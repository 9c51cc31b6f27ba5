#include "meter/carbon.hpp"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/json_check.hpp"
#include "meter/uncertainty.hpp"
#include "meter/util.hpp"

namespace pepr::meter {

namespace {

std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

Intensity from_country(const std::string& code, const std::string& via) {
  std::string c = upper(code);
  if (c == "WORLD" || c == "WORLD-AVERAGE") {
    return {kWorldIntensity, "",
            fmt::format("{}: world average {:g} g/kWh (Ember, Global Electricity Review 2024, "
                        "year 2023)",
                        via, kWorldIntensity)};
  }
  // ISO 3166-1 alpha-2 or alpha-3, as CodeCarbon takes it; the record keeps the alpha-2 code.
  for (const auto& e : intensity_table()) {
    if (c == e.code || c == e.alpha3) {
      return {e.g_per_kwh, e.code,
              fmt::format("{} {} ({}): {:g} g/kWh, {}, data year {}", via, e.code, e.name,
                          e.g_per_kwh, kIntensitySource, e.year)};
    }
  }
  std::string known;
  for (const auto& e : intensity_table()) known += std::string(known.empty() ? "" : " ") + e.code;
  throw Error(
      fmt::format("{} '{}': no built-in carbon intensity for this country (known: {}, their "
                  "ISO 3166-1 alpha-3 codes, or WORLD); give --intensity G_PER_KWH instead",
                  via, code, known));
}

double check_intensity(double v, const std::string& via) {
  if (!(v >= 0) || v > 5000)
    throw Error(fmt::format("{} {:g}: expected grams CO2eq per kWh between 0 and 5000", via, v));
  return v;
}

}  // namespace

Intensity resolve_intensity(const std::optional<std::string>& country,
                            const std::optional<double>& intensity) {
  if (intensity)
    return {check_intensity(*intensity, "--intensity"), "",
            fmt::format("--intensity {:g} g/kWh (given)", *intensity)};
  if (country) return from_country(*country, "--country");
  if (auto v = env("PEPR_CARBON_INTENSITY")) {
    auto d = parse_double(*v);
    if (!d) throw Error(fmt::format("PEPR_CARBON_INTENSITY='{}' is not a number", *v));
    return {check_intensity(*d, "PEPR_CARBON_INTENSITY"), "",
            fmt::format("PEPR_CARBON_INTENSITY={:g} g/kWh (given)", *d)};
  }
  if (auto c = env("PEPR_COUNTRY")) return from_country(*c, "PEPR_COUNTRY");
  return {kWorldIntensity, "",
          fmt::format("no --country, --intensity, PEPR_COUNTRY or PEPR_CARBON_INTENSITY: world "
                      "average {:g} g/kWh (Ember, Global Electricity Review 2024, year 2023); "
                      "location is never guessed",
                      kWorldIntensity)};
}

double co2_grams(double energy_kwh, double g_per_kwh, double pue) {
  return energy_kwh * pue * g_per_kwh;
}

namespace {

// The bounds of energy_kwh (lo/hi, recorded under `old_pue`) under a new PUE, and of co2_g.
void apply_bounds(nlohmann::json& iv, const Intensity& in, double pue, double old_pue,
                  const std::string& path) {
  const auto* lo = check_member(iv, path, "energy_kwh_lo", kJsonNumber, false);
  const auto* hi = check_member(iv, path, "energy_kwh_hi", kJsonNumber, false);
  if (!lo || !hi) return;
  const double lo_kwh = lo->get<double>() / old_pue, hi_kwh = hi->get<double>() / old_pue;
  const double ui = intensity_error().total();
  iv["energy_kwh_lo"] = lo_kwh * pue;
  iv["energy_kwh_hi"] = hi_kwh * pue;
  iv["co2_g_lo"] = lower_bound(co2_grams(lo_kwh, in.g_per_kwh, pue), ui);
  iv["co2_g_hi"] = upper_bound(co2_grams(hi_kwh, in.g_per_kwh, pue), ui);
}

// Recomputes one interval's kWh and CO2eq from its raw joules; `path` names it in errors.
void apply(nlohmann::json& iv, const Intensity& in, double pue, double old_pue,
           const std::string& path) {
  if (!iv.is_object() || !check_member(iv, path, "energy_raw_j", kJsonNumber, false)) return;
  const double raw_kwh = iv["energy_raw_j"].get<double>() / 3.6e6;
  iv["energy_raw_kwh"] = raw_kwh;
  iv["energy_gross_kwh"] = raw_kwh * pue;
  double scored = raw_kwh;
  if (const auto* idle = check_member(iv, path, "idle_j", kJsonNumber | kJsonNull, false);
      idle && idle->is_number()) {
    const double net_kwh = std::max(0.0, raw_kwh - iv["idle_j"].get<double>() / 3.6e6);
    iv["energy_net_kwh"] = net_kwh * pue;
    scored = net_kwh;
  }
  iv["energy_kwh"] = scored * pue;
  iv["co2_g"] = co2_grams(scored, in.g_per_kwh, pue);
  iv["co2_gross_g"] = co2_grams(raw_kwh, in.g_per_kwh, pue);
  iv["car_km"] = co2_grams(scored, in.g_per_kwh, pue) / kCarGramsPerKm;
  apply_bounds(iv, in, pue, old_pue, path);
}

}  // namespace

void recompute_carbon(nlohmann::json& record, const Intensity& in, double pue) {
  if (!(pue >= 1.0) || pue > 5)
    throw Error(fmt::format("PUE {:g}: expected a number between 1 and 5", pue));
  if (!record.is_object() || !record.contains("total") || !record["total"].is_object())
    throw Error("not a pepr run record (no \"total\" object)");
  check_member(record, "", "intervals", kJsonArray, false);
  double old_pue = 1.0;  // the PUE the record's energy_kwh figures include
  if (const auto* c = check_member(record, "", "carbon", kJsonObject | kJsonNull, false);
      c && c->is_object())
    if (const auto* p = check_member(*c, "carbon", "pue", kJsonNumber, false);
        p && p->get<double>() >= 1.0)
      old_pue = p->get<double>();
  nlohmann::json carbon;
  carbon["intensity_g_per_kwh"] = in.g_per_kwh;
  carbon["country"] = in.country.empty() ? nlohmann::json(nullptr) : nlohmann::json(in.country);
  carbon["why"] = in.why;
  carbon["pue"] = pue;
  carbon["pue_note"] =
      "energy_kwh, energy_gross_kwh, energy_net_kwh and co2 figures include the PUE; "
      "energy_raw_* and energy_j do not (the PePR paper's tracker applied PUE 1.58 silently)";
  carbon["car_g_per_km"] = kCarGramsPerKm;
  carbon["car_source"] = "EEA, average CO2 emissions of new passenger cars in the EU, 2020";
  record["carbon"] = carbon;
  apply(record["total"], in, pue, old_pue, "total");
  if (record.contains("intervals"))
    for (std::size_t i = 0; i < record["intervals"].size(); ++i)
      apply(record["intervals"][i], in, pue, old_pue, json_path("intervals", i));
}

}  // namespace pepr::meter
