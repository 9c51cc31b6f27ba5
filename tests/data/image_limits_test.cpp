// Images are bounded before anything is allocated for them: a tiny file that claims a huge size
// is refused from its header. Each case runs in a child process whose address space is limited to
// what it had plus 1 GB, so an implementation that allocates for the claimed size first fails
// there with another message (libjpeg: "Insufficient memory") instead of "too large".
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include <zlib.h>

#include "core/error.hpp"
#include "data/image_codec.hpp"

namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kAsan = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kAsan = true;
#else
constexpr bool kAsan = false;
#endif
#else
constexpr bool kAsan = false;
#endif

// Bytes of address space the process holds now (/proc/self/statm, first field in pages).
std::uint64_t address_space_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::uint64_t pages = 0;
  statm >> pages;
  return pages * static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
}

// Decodes `bytes` in a child limited to its current address space + 1 GB; the child exits 0 when
// decoding threw an error containing `expect`, 1 for another error, 2 when it decoded.
int decode_in_limited_child(const std::string& bytes, const std::string& expect) {
  pid_t pid = fork();
  if (pid == 0) {
    rlimit lim{};
    lim.rlim_cur = lim.rlim_max = address_space_bytes() + (std::uint64_t(1) << 30);
    setrlimit(RLIMIT_AS, &lim);
    try {
      pepr::data::decode_image(bytes, "claimed.img");
    } catch (const pepr::Error& e) {
      _exit(std::string(e.what()).find(expect) != std::string::npos ? 0 : 1);
    } catch (...) {
      _exit(3);
    }
    _exit(2);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 100 + WTERMSIG(status);
}

// Sets the height and width in a JPEG's start-of-frame segment and its type (0xC0 baseline,
// 0xC2 progressive).
std::string with_frame(std::string jpeg, unsigned char sof, unsigned h, unsigned w) {
  for (std::size_t i = 2; i + 9 < jpeg.size(); ++i) {
    if (static_cast<unsigned char>(jpeg[i]) == 0xFF &&
        static_cast<unsigned char>(jpeg[i + 1]) == 0xC0) {
      jpeg[i + 1] = static_cast<char>(sof);
      jpeg[i + 5] = static_cast<char>(h >> 8), jpeg[i + 6] = static_cast<char>(h & 0xFF);
      jpeg[i + 7] = static_cast<char>(w >> 8), jpeg[i + 8] = static_cast<char>(w & 0xFF);
      return jpeg;
    }
  }
  ADD_FAILURE() << "no SOF0 marker in the encoded JPEG";
  return jpeg;
}

}  // namespace

TEST(ImageLimits, AJpegClaimingHugeDimensionsIsRefusedFromItsHeader) {
  if (kAsan) GTEST_SKIP() << "AddressSanitizer reserves terabytes of address space: no RLIMIT_AS";
  std::vector<std::uint8_t> px(8 * 8 * 3, 128);
  const std::string small = pepr::data::encode_jpeg(px.data(), 8, 8, 3, 90);
  ASSERT_LT(small.size(), 1000u);
  // Progressive: libjpeg allocates coefficient buffers for the whole image in
  // jpeg_start_decompress (about 8 GB here), unless the size is checked first.
  EXPECT_EQ(decode_in_limited_child(with_frame(small, 0xC2, 60000, 60000), "too large"), 0);
  EXPECT_EQ(decode_in_limited_child(with_frame(small, 0xC0, 60000, 60000), "too large"), 0);
  // 6000 x 6000 = 36 megapixels: just over the bound.
  EXPECT_EQ(decode_in_limited_child(with_frame(small, 0xC0, 6000, 6000), "too large"), 0);
  // The real image still decodes.
  auto img = pepr::data::decode_image(small, "small.jpg");
  EXPECT_EQ(img.w, 8);
  EXPECT_EQ(img.c, 3);
}

TEST(ImageLimits, APngClaimingHugeDimensionsIsRefusedFromItsHeader) {
  if (kAsan) GTEST_SKIP() << "AddressSanitizer reserves terabytes of address space: no RLIMIT_AS";
  std::vector<std::uint8_t> px(4 * 4, 7);
  std::string png = pepr::data::encode_png(px.data(), 4, 4, 1);
  // IHDR: 8 signature bytes, 4 length, 4 "IHDR", then width and height (big-endian).
  ASSERT_EQ(png.substr(12, 4), "IHDR");
  auto put32 = [&](std::size_t at, std::uint32_t v) {
    for (int k = 0; k < 4; ++k) png[at + k] = static_cast<char>((v >> (24 - 8 * k)) & 0xFF);
  };
  put32(16, 60000);
  put32(20, 60000);
  put32(29, static_cast<std::uint32_t>(
                crc32(0, reinterpret_cast<const Bytef*>(png.data() + 12), 4 + 13)));  // IHDR CRC
  const int rc = decode_in_limited_child(png, "PNG of 60000x60000 pixels is too large");
  EXPECT_EQ(rc, 0) << "child status " << rc;
}
