#include "data/image_codec.hpp"

#include <csetjmp>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>
#include <jpeglib.h>
#include <png.h>

#include "core/error.hpp"
#include "core/file_io.hpp"

namespace pepr::data {

namespace {

// Decoded images are bounded before anything is allocated for them: 32 megapixels (96 MB as
// RGB), and libjpeg's own working memory (progressive JPEGs keep all coefficients) to 96 MB, so
// that no image file, however small, makes pepr use more than about 200 MB to decode it.
constexpr int64_t kMaxPixels = int64_t(32) << 20;
constexpr long kJpegWorkingMemory = 96L << 20;

DecodedImage decode_png(std::string_view bytes, const std::string& what) {
  png_image img;
  std::memset(&img, 0, sizeof img);
  img.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_memory(&img, bytes.data(), bytes.size())) {
    std::string m = img.message;
    png_image_free(&img);
    throw Error(fmt::format("{}: cannot decode PNG: {}", what, m));
  }
  DecodedImage out;
  const bool color = (img.format & PNG_FORMAT_FLAG_COLOR) != 0;
  img.format = color ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY;
  out.w = img.width;
  out.h = img.height;
  out.c = color ? 3 : 1;
  if (out.w * out.h > kMaxPixels) {
    png_image_free(&img);
    throw Error(fmt::format("{}: PNG of {}x{} pixels is too large (at most {} pixels)", what, out.w,
                            out.h, kMaxPixels));
  }
  out.pixels.assign(PNG_IMAGE_SIZE(img), 0);  // transparent pixels composite onto black
  if (!png_image_finish_read(&img, nullptr, out.pixels.data(), 0, nullptr)) {
    std::string m = img.message;
    png_image_free(&img);
    throw Error(fmt::format("{}: cannot decode PNG: {}", what, m));
  }
  return out;
}

struct JpegError {
  jpeg_error_mgr pub;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

void jpeg_fail(j_common_ptr cinfo) {
  auto* e = reinterpret_cast<JpegError*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, e->message);
  std::longjmp(e->jump, 1);
}
void jpeg_quiet(j_common_ptr) {}

// C-style so that longjmp crosses no C++ object with a destructor: the pixel buffer is the
// caller's, sized here once the header is known. Returns false with `msg` set on failure.
bool jpeg_decode_raw(const unsigned char* data, std::size_t size, DecodedImage* out, char* msg) {
  jpeg_decompress_struct cinfo;
  JpegError err;
  cinfo.err = jpeg_std_error(&err.pub);
  err.pub.error_exit = jpeg_fail;
  err.pub.output_message = jpeg_quiet;
  if (setjmp(err.jump)) {
    jpeg_destroy_decompress(&cinfo);
    std::snprintf(msg, JMSG_LENGTH_MAX, "%s", err.message);
    return false;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, data, static_cast<unsigned long>(size));
  jpeg_read_header(&cinfo, TRUE);
  // The header's size is checked before jpeg_start_decompress, which allocates for the whole
  // image (a 129-byte file can claim 65500x65500 pixels).
  if (static_cast<int64_t>(cinfo.image_width) * cinfo.image_height > kMaxPixels) {
    std::snprintf(msg, JMSG_LENGTH_MAX, "JPEG of %ux%u pixels is too large (at most %lld pixels)",
                  cinfo.image_width, cinfo.image_height, static_cast<long long>(kMaxPixels));
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  cinfo.mem->max_memory_to_use = kJpegWorkingMemory;
  cinfo.out_color_space = cinfo.num_components == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_start_decompress(&cinfo);
  const std::size_t stride = static_cast<std::size_t>(cinfo.output_width) *
                             static_cast<std::size_t>(cinfo.output_components);
  try {
    out->pixels.resize(stride * cinfo.output_height);
  } catch (const std::bad_alloc&) {
    std::snprintf(msg, JMSG_LENGTH_MAX, "out of memory");
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = out->pixels.data() + stride * cinfo.output_scanline;
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  out->w = cinfo.output_width;
  out->h = cinfo.output_height;
  out->c = cinfo.output_components;
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  return true;
}

DecodedImage decode_jpeg(std::string_view bytes, const std::string& what) {
  DecodedImage out;
  char msg[JMSG_LENGTH_MAX] = {0};
  if (!jpeg_decode_raw(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), &out,
                       msg))
    throw Error(fmt::format("{}: cannot decode JPEG: {}", what, msg));
  return out;
}

}  // namespace

DecodedImage decode_image(std::string_view bytes, const std::string& what) {
  if (bytes.size() >= 8 && bytes.substr(0, 8) == "\x89PNG\r\n\x1a\n") {
    return decode_png(bytes, what);
  }
  if (bytes.size() >= 3 && bytes.substr(0, 3) == "\xff\xd8\xff") return decode_jpeg(bytes, what);
  throw Error(fmt::format("{}: not a PNG or JPEG image", what));
}

DecodedImage read_image(const std::string& path) {
  FileBytes fb = FileBytes::open(path);
  return decode_image(fb.view(), path);
}

std::string encode_png(const std::uint8_t* pixels, int64_t w, int64_t h, int64_t c) {
  if (c != 1 && c != 3) throw Error("encode_png: 1 or 3 channels");
  png_image img;
  std::memset(&img, 0, sizeof img);
  img.version = PNG_IMAGE_VERSION;
  img.width = static_cast<png_uint_32>(w);
  img.height = static_cast<png_uint_32>(h);
  img.format = c == 3 ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY;
  png_alloc_size_t size = 0;
  if (!png_image_write_to_memory(&img, nullptr, &size, 0, pixels, 0, nullptr)) {
    throw Error(fmt::format("encode_png: {}", img.message));
  }
  std::string out(size, '\0');
  if (!png_image_write_to_memory(&img, out.data(), &size, 0, pixels, 0, nullptr)) {
    throw Error(fmt::format("encode_png: {}", img.message));
  }
  out.resize(size);
  return out;
}

namespace {
// Returns a malloc'd buffer (jpeg_mem_dest) or nullptr with `msg` set.
unsigned char* jpeg_encode_raw(const std::uint8_t* pixels, int w, int h, int c, int quality,
                               unsigned long* size, char* msg) {
  jpeg_compress_struct cinfo;
  JpegError err;
  unsigned char* volatile buf = nullptr;
  unsigned long out_size = 0;
  cinfo.err = jpeg_std_error(&err.pub);
  err.pub.error_exit = jpeg_fail;
  err.pub.output_message = jpeg_quiet;
  if (setjmp(err.jump)) {
    jpeg_destroy_compress(&cinfo);
    std::free(buf);
    std::snprintf(msg, JMSG_LENGTH_MAX, "%s", err.message);
    return nullptr;
  }
  jpeg_create_compress(&cinfo);
  unsigned char* mem = nullptr;
  jpeg_mem_dest(&cinfo, &mem, &out_size);
  cinfo.image_width = static_cast<JDIMENSION>(w);
  cinfo.image_height = static_cast<JDIMENSION>(h);
  cinfo.input_components = c;
  cinfo.in_color_space = c == 3 ? JCS_RGB : JCS_GRAYSCALE;
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, quality, TRUE);
  jpeg_start_compress(&cinfo, TRUE);
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW row = const_cast<JSAMPROW>(pixels + static_cast<std::size_t>(cinfo.next_scanline) *
                                                     static_cast<std::size_t>(w) * c);
    jpeg_write_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_compress(&cinfo);
  buf = mem;
  jpeg_destroy_compress(&cinfo);
  *size = out_size;
  return buf;
}
}  // namespace

std::string encode_jpeg(const std::uint8_t* pixels, int64_t w, int64_t h, int64_t c, int quality) {
  if (c != 1 && c != 3) throw Error("encode_jpeg: 1 or 3 channels");
  unsigned long size = 0;
  char msg[JMSG_LENGTH_MAX] = {0};
  unsigned char* buf = jpeg_encode_raw(pixels, static_cast<int>(w), static_cast<int>(h),
                                       static_cast<int>(c), quality, &size, msg);
  if (!buf) throw Error(fmt::format("encode_jpeg: {}", msg));
  std::string out(reinterpret_cast<const char*>(buf), size);
  std::free(buf);
  return out;
}

}  // namespace pepr::data
