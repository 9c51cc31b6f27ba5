// PNG (libpng) and JPEG (libjpeg) decoding and encoding of 8-bit images.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pepr::data {

struct DecodedImage {
  int64_t w = 0, h = 0, c = 0;       // c: 1 (gray) or 3 (RGB); alpha is dropped
  std::vector<std::uint8_t> pixels;  // H,W,C row-major
};

// Decodes a PNG or JPEG held in memory (format sniffed from the magic bytes). `what` names the
// source in errors. Images over 32 megapixels are refused, before anything is allocated for them.
DecodedImage decode_image(std::string_view bytes, const std::string& what);
DecodedImage read_image(const std::string& path);

// Encodes H,W,C pixels (c = 1 or 3).
std::string encode_png(const std::uint8_t* pixels, int64_t w, int64_t h, int64_t c);
std::string encode_jpeg(const std::uint8_t* pixels, int64_t w, int64_t h, int64_t c,
                        int quality = 95);

}  // namespace pepr::data
