// Carbon: recompute_carbon on a run record (the input as JSON, as `pepr track --recompute`
// reads it) for three grids and PUEs, and the invariants of what it writes; a record that
// check_tracker_record accepts must be recomputed without error. An input that is not JSON is
// tried as a country code for resolve_intensity (the intensity table).
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "fuzz_check.hpp"
#include "meter/carbon.hpp"
#include "meter/tracker_record.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace pepr::meter;
  const std::string text(reinterpret_cast<const char*>(data), size);
  const nlohmann::json parsed = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) {
    if (size > 64) return 0;
    try {
      const Intensity in = resolve_intensity(text, std::nullopt);
      PEPR_FUZZ_CHECK(std::isfinite(in.g_per_kwh) && in.g_per_kwh >= 0,
                      "country '%s': intensity %g", text.c_str(), in.g_per_kwh);
      // Only the world average (WORLD, WORLD-AVERAGE in any case) has no country code.
      PEPR_FUZZ_CHECK(!in.country.empty() || in.g_per_kwh == kWorldIntensity,
                      "country '%s' resolved without a code to %g g/kWh", text.c_str(),
                      in.g_per_kwh);
    } catch (const pepr::Error&) {
    }
    return 0;
  }
  bool shaped = true;
  try {
    check_tracker_record(parsed);
  } catch (const pepr::Error&) {
    shaped = false;
  }
  const Intensity grids[] = {{kWorldIntensity, "", "world"}, {56.0, "FR", "FR"}, {0.0, "", "0"}};
  const double pues[] = {1.0, kPaperPue, 5.0};
  for (int k = 0; k < 3; ++k) {
    nlohmann::json record = parsed;
    try {
      recompute_carbon(record, grids[k], pues[k]);
    } catch (const pepr::Error& e) {
      PEPR_FUZZ_CHECK(!shaped, "a record check_tracker_record accepts was refused: %s", e.what());
      continue;
    }
    PEPR_FUZZ_CHECK(record.is_object() && record.contains("carbon") && record.contains("total"),
                    "recompute_carbon left no carbon or total");
    PEPR_FUZZ_CHECK(record["carbon"]["pue"].get<double>() == pues[k], "carbon.pue is not %g",
                    pues[k]);
    (void)record.dump();
  }
  return 0;
}
