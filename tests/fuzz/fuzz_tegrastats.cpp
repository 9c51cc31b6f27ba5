// tegrastats' lines (meter/tegrastats): parse_tegrastats_line on every line of the input. Whatever
// it returns is a rail: an upper-case name and a finite power in [0, 1e6] W (at most nine digits
// of mW), the same power when the line is parsed again.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>

#include "fuzz_check.hpp"
#include "meter/tegrastats.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    const auto rails = pepr::meter::parse_tegrastats_line(line);
    for (const auto& [name, w] : rails) {
      PEPR_FUZZ_CHECK(!name.empty() && name.size() <= 40, "rail name of %zu bytes", name.size());
      for (char c : name)
        PEPR_FUZZ_CHECK((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_',
                        "rail name '%s'", name.c_str());
      PEPR_FUZZ_CHECK(std::isfinite(w) && w >= 0 && w < 1e6, "rail %s: %g W", name.c_str(), w);
    }
    PEPR_FUZZ_CHECK(pepr::meter::parse_tegrastats_line(line) == rails, "not deterministic: %s",
                    line.c_str());
  }
  return 0;
}
