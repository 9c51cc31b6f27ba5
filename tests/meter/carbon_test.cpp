// Carbon intensity, PUE, the car equivalent and recomputing a saved record.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "meter/carbon.hpp"
#include "meter_test_util.hpp"

namespace pepr::meter {
namespace {

using pepr::test::EnvGuard;

TEST(Carbon, Co2IsEnergyTimesIntensityTimesPue) {
  EnvGuard env{{"PEPR_COUNTRY", std::nullopt}, {"PEPR_CARBON_INTENSITY", std::nullopt}};
  Intensity de = resolve_intensity(std::string("de"), std::nullopt);
  EXPECT_EQ(de.country, "DE");
  EXPECT_DOUBLE_EQ(de.g_per_kwh, 381);
  EXPECT_NE(de.why.find("--country DE (Germany): 381 g/kWh"), std::string::npos) << de.why;
  EXPECT_NE(de.why.find("Our World in Data"), std::string::npos);
  EXPECT_DOUBLE_EQ(co2_grams(2.5, de.g_per_kwh, 1.58), 2.5 * 381 * 1.58);
  EXPECT_DOUBLE_EQ(co2_grams(2.5, de.g_per_kwh, 1.0), 2.5 * 381);
}

TEST(Carbon, ChoiceOrderAndDefault) {
  {
    EnvGuard env{{"PEPR_COUNTRY", std::nullopt}, {"PEPR_CARBON_INTENSITY", std::nullopt}};
    Intensity w = resolve_intensity(std::nullopt, std::nullopt);
    EXPECT_DOUBLE_EQ(w.g_per_kwh, kWorldIntensity);
    EXPECT_NE(w.why.find("world average 480 g/kWh"), std::string::npos) << w.why;
    EXPECT_NE(w.why.find("never guessed"), std::string::npos);
  }
  {
    EnvGuard env{{"PEPR_COUNTRY", std::string("FR")}, {"PEPR_CARBON_INTENSITY", std::nullopt}};
    Intensity f = resolve_intensity(std::nullopt, std::nullopt);
    EXPECT_EQ(f.country, "FR");
    EXPECT_DOUBLE_EQ(f.g_per_kwh, 56);
    EXPECT_NE(f.why.find("PEPR_COUNTRY FR"), std::string::npos) << f.why;
    // The option beats the variable.
    EXPECT_DOUBLE_EQ(resolve_intensity(std::string("PL"), std::nullopt).g_per_kwh, 662);
  }
  {
    EnvGuard env{{"PEPR_COUNTRY", std::string("FR")},
                 {"PEPR_CARBON_INTENSITY", std::string("123")}};
    Intensity i = resolve_intensity(std::nullopt, std::nullopt);
    EXPECT_DOUBLE_EQ(i.g_per_kwh, 123);
    EXPECT_NE(i.why.find("PEPR_CARBON_INTENSITY=123"), std::string::npos);
    EXPECT_DOUBLE_EQ(resolve_intensity(std::string("FR"), 10.0).g_per_kwh, 10);
  }
  EXPECT_THROW(resolve_intensity(std::string("XX"), std::nullopt), pepr::Error);
  EXPECT_THROW(resolve_intensity(std::nullopt, -1.0), pepr::Error);
}

bool upper_letters(const std::string& s, std::size_t n) {
  return s.size() == n &&
         std::all_of(s.begin(), s.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
}

TEST(Carbon, TableIsWellFormed) {
  const auto& t = intensity_table();
  EXPECT_GE(t.size(), 30u);
  std::set<std::string> codes;
  for (const auto& e : t) {
    EXPECT_TRUE(upper_letters(e.code, 2)) << e.code;
    EXPECT_TRUE(upper_letters(e.alpha3, 3)) << e.code << " " << e.alpha3;
    EXPECT_TRUE(codes.insert(e.code).second) << e.code;
    EXPECT_TRUE(codes.insert(e.alpha3).second) << e.alpha3;
    EXPECT_GT(std::string(e.name).size(), 0u) << e.code;
    EXPECT_GT(e.g_per_kwh, 0) << e.code;
    EXPECT_LT(e.g_per_kwh, 1500) << e.code;
    EXPECT_GE(e.year, 2015) << e.code;
  }
  EXPECT_NE(std::string(kIntensitySource).find("Our World in Data"), std::string::npos);
}

TEST(Carbon, Alpha3CodesAreAccepted) {
  EnvGuard env{{"PEPR_COUNTRY", std::nullopt}, {"PEPR_CARBON_INTENSITY", std::nullopt}};
  const Intensity fr = resolve_intensity(std::string("FR"), std::nullopt);
  for (const char* c : {"FRA", "fra", "Fra", "fr"}) {
    const Intensity i = resolve_intensity(std::string(c), std::nullopt);
    EXPECT_EQ(i.country, "FR") << c;  // the record keeps the alpha-2 code
    EXPECT_DOUBLE_EQ(i.g_per_kwh, fr.g_per_kwh) << c;
    EXPECT_EQ(i.why, fr.why) << c;
  }
  const Intensity de = resolve_intensity(std::string("deu"), std::nullopt);
  EXPECT_EQ(de.country, "DE");
  EXPECT_DOUBLE_EQ(de.g_per_kwh, resolve_intensity(std::string("DE"), std::nullopt).g_per_kwh);
  {
    EnvGuard via_env{{"PEPR_COUNTRY", std::string("gbr")}};
    EXPECT_EQ(resolve_intensity(std::nullopt, std::nullopt).country, "GB");
  }
  // Every row answers to both of its codes.
  for (const auto& e : intensity_table()) {
    EXPECT_EQ(resolve_intensity(std::string(e.alpha3), std::nullopt).country, e.code);
    EXPECT_EQ(resolve_intensity(std::string(e.code), std::nullopt).country, e.code);
  }
}

TEST(Carbon, UnknownCountryErrorListsTheKnownCodes) {
  EnvGuard env{{"PEPR_COUNTRY", std::nullopt}, {"PEPR_CARBON_INTENSITY", std::nullopt}};
  for (const char* bad : {"FRAN", "XX", "XXX", "", "F", "FR ", "FRA1"}) {
    try {
      resolve_intensity(std::string(bad), std::nullopt);
      ADD_FAILURE() << "'" << bad << "' accepted";
    } catch (const pepr::Error& e) {
      const std::string m = e.what();
      EXPECT_NE(m.find(std::string("--country '") + bad + "'"), std::string::npos) << m;
      EXPECT_NE(m.find("no built-in carbon intensity"), std::string::npos) << m;
      EXPECT_NE(m.find("known: US CA"), std::string::npos) << m;
      EXPECT_NE(m.find("alpha-3"), std::string::npos) << m;
      EXPECT_NE(m.find("--intensity"), std::string::npos) << m;
    }
  }
  EnvGuard via_env{{"PEPR_COUNTRY", std::string("XXX")}};
  EXPECT_THROW(resolve_intensity(std::nullopt, std::nullopt), pepr::Error);
}

TEST(Carbon, CarEquivalent) {
  nlohmann::json rec = {{"total", {{"energy_raw_j", 3.6e6}}}};
  recompute_carbon(rec, {107.5, "", "test"}, 1.0);
  EXPECT_DOUBLE_EQ(rec["total"]["car_km"].get<double>(), 1.0);  // 107.5 g = 1 km
}

TEST(Carbon, RecomputeFromRawEnergy) {
  nlohmann::json rec = {
      {"total", {{"energy_raw_j", 3.6e6}}},
      {"intervals", nlohmann::json::array({{{"energy_raw_j", 1.8e6}, {"idle_j", 0.9e6}}})}};
  recompute_carbon(rec, {200, "", "test"}, 1.5);
  const auto& t = rec["total"];
  EXPECT_DOUBLE_EQ(t["energy_raw_kwh"].get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(t["energy_kwh"].get<double>(), 1.5);
  EXPECT_DOUBLE_EQ(t["co2_g"].get<double>(), 300.0);
  EXPECT_DOUBLE_EQ(rec["carbon"]["pue"].get<double>(), 1.5);
  EXPECT_DOUBLE_EQ(rec["carbon"]["intensity_g_per_kwh"].get<double>(), 200);
  const auto& iv = rec["intervals"][0];
  EXPECT_DOUBLE_EQ(iv["energy_raw_kwh"].get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(iv["energy_net_kwh"].get<double>(), 0.25 * 1.5);  // (0.5 - 0.25) x PUE
  EXPECT_DOUBLE_EQ(iv["energy_kwh"].get<double>(), 0.25 * 1.5);
  EXPECT_DOUBLE_EQ(iv["co2_g"].get<double>(), 0.25 * 200 * 1.5);
  EXPECT_DOUBLE_EQ(iv["co2_gross_g"].get<double>(), 0.5 * 200 * 1.5);
  // Again with other figures: nothing accumulates.
  recompute_carbon(rec, {100, "", "test"}, 1.0);
  EXPECT_DOUBLE_EQ(rec["total"]["co2_g"].get<double>(), 100.0);
  EXPECT_THROW(recompute_carbon(rec, {100, "", "t"}, 0.5), pepr::Error);
  nlohmann::json bad = {{"x", 1}};
  EXPECT_THROW(recompute_carbon(bad, {100, "", "t"}, 1.0), pepr::Error);
}

}  // namespace
}  // namespace pepr::meter
