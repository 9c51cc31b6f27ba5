// NPY: parse_npy_header and parse_npy on the input, npy_to_int64 of what parses, and the round
// trip: an array written back with npy_bytes must parse to the same dtype, shape and bytes.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "data/npy.hpp"
#include "fuzz_check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    const pepr::data::NpyHeader h = pepr::data::parse_npy_header(text, "fuzz.npy");
    PEPR_FUZZ_CHECK(h.data_offset <= size, "data_offset %zu past the input (%zu bytes)",
                    h.data_offset, size);
  } catch (const pepr::Error&) {
  }
  pepr::data::NpyArray a;
  try {
    a = pepr::data::parse_npy(std::vector<std::uint8_t>(data, data + size), "fuzz.npy");
  } catch (const pepr::Error&) {
    return 0;
  }
  PEPR_FUZZ_CHECK(a.data.size() == a.header.nbytes, "%zu data bytes for nbytes %llu", a.data.size(),
                  static_cast<unsigned long long>(a.header.nbytes));
  try {
    auto v = pepr::data::npy_to_int64(a, "fuzz.npy");
    PEPR_FUZZ_CHECK(v.size() == a.header.count, "npy_to_int64 gave %zu values for %llu elements",
                    v.size(), static_cast<unsigned long long>(a.header.count));
  } catch (const pepr::Error&) {
  }
  (void)pepr::data::shape_string(a.header.shape);
  const std::string_view payload(reinterpret_cast<const char*>(a.data.data()), a.data.size());
  std::string again;
  try {
    again = pepr::data::npy_bytes(a.header.dtype.descr, a.header.shape, payload);
  } catch (const pepr::Error& e) {
    PEPR_FUZZ_CHECK(false, "npy_bytes refuses a parsed array: %s", e.what());
  }
  try {
    auto b = pepr::data::parse_npy(std::vector<std::uint8_t>(again.begin(), again.end()), "again");
    PEPR_FUZZ_CHECK(b.header.dtype.descr == a.header.dtype.descr, "round trip changed the dtype");
    PEPR_FUZZ_CHECK(b.header.shape == a.header.shape, "round trip changed the shape");
    PEPR_FUZZ_CHECK(!b.header.fortran_order, "npy_bytes wrote a Fortran-ordered header");
    PEPR_FUZZ_CHECK(b.data == a.data, "round trip changed the data");
  } catch (const pepr::Error& e) {
    PEPR_FUZZ_CHECK(false, "parse_npy refuses what npy_bytes wrote: %s", e.what());
  }
  return 0;
}
