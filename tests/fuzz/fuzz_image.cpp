// PNG / JPEG: decode_image (libpng, libjpeg) on the input, the invariants of a decoded image,
// and for small images the PNG round trip (encode_png, decode: the same pixels).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/error.hpp"
#include "data/image_codec.hpp"
#include "fuzz_check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace pepr::data;
  DecodedImage im;
  try {
    im = decode_image(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.img");
  } catch (const pepr::Error&) {
    return 0;
  }
  PEPR_FUZZ_CHECK(im.w > 0 && im.h > 0 && (im.c == 1 || im.c == 3), "decoded %lldx%lldx%lld",
                  static_cast<long long>(im.w), static_cast<long long>(im.h),
                  static_cast<long long>(im.c));
  PEPR_FUZZ_CHECK(im.w * im.h <= 32LL << 20, "decoded %lldx%lld, over the 32-megapixel limit",
                  static_cast<long long>(im.w), static_cast<long long>(im.h));
  PEPR_FUZZ_CHECK(im.pixels.size() == static_cast<std::size_t>(im.w * im.h * im.c),
                  "%zu pixel bytes for %lldx%lldx%lld", im.pixels.size(),
                  static_cast<long long>(im.w), static_cast<long long>(im.h),
                  static_cast<long long>(im.c));
  if (im.w * im.h <= 4096) {
    try {
      const std::string png = encode_png(im.pixels.data(), im.w, im.h, im.c);
      const DecodedImage back = decode_image(png, "again.png");
      PEPR_FUZZ_CHECK(back.w == im.w && back.h == im.h && back.c == im.c,
                      "PNG round trip changed the geometry");
      PEPR_FUZZ_CHECK(back.pixels == im.pixels, "PNG round trip changed the pixels");
    } catch (const pepr::Error& e) {
      PEPR_FUZZ_CHECK(false, "PNG round trip failed: %s", e.what());
    }
  }
  return 0;
}
