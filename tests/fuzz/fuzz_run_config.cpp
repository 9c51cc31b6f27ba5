// A run's configuration (run/config.hpp): the input as command-line arguments (split at newlines)
// through from_args, and as JSON through from_json. Either may refuse it with pepr::Error only;
// what it accepts survives to_args -> from_args and to_json -> from_json unchanged, and
// validate() judges it with pepr::Error only.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "fuzz_check.hpp"
#include "run/config.hpp"

namespace {

void check_round_trips(const pepr::run::RunConfig& c) {
  using namespace pepr::run;
  RunConfig with_required = c;  // to_args always writes the required options
  std::vector<std::string> rest;
  const RunConfig back = from_args(to_args(with_required), &rest);
  PEPR_FUZZ_CHECK(back == with_required && rest.empty(), "to_args does not read back: %s",
                  to_json(with_required).dump().c_str());
  const RunConfig from_j = from_json(nlohmann::json::parse(to_json(c).dump()));
  PEPR_FUZZ_CHECK(from_j == c, "to_json does not read back: %s", to_json(c).dump().c_str());
  try {
    c.validate();
  } catch (const pepr::Error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> args;
  std::size_t start = 0;
  while (start <= text.size()) {
    auto nl = text.find('\n', start);
    if (nl == std::string_view::npos) nl = text.size();
    args.emplace_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  try {
    std::vector<std::string> rest;
    check_round_trips(pepr::run::from_args(args, &rest));
  } catch (const pepr::Error&) {
  }
  const auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_discarded()) {
    try {
      check_round_trips(pepr::run::from_json(j));
    } catch (const pepr::Error&) {
    }
  }
  return 0;
}
