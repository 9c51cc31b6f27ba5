// A run record (run/record.hpp): the input as JSON through RunRecord::from_json. It may refuse
// with run::RecordError only; what it accepts is written back as the same JSON value (every
// member kept, typed or in `extra`), and that survives from_json again unchanged.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <nlohmann/json.hpp>

#include "fuzz_check.hpp"
#include "run/record.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return 0;
  try {
    const pepr::run::RunRecord r = pepr::run::RunRecord::from_json(j);
    const nlohmann::json back = r.to_json();
    PEPR_FUZZ_CHECK(back == j, "the record is not written back as read: %s", j.dump().c_str());
    PEPR_FUZZ_CHECK(pepr::run::RunRecord::from_json(back) == r, "does not read back: %s",
                    back.dump().c_str());
  } catch (const pepr::run::RecordError&) {
  }
  return 0;
}
