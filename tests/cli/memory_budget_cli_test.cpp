// The memory budget of the readers (issue 18): no input file under 1 MB may make `pepr data info`
// (image folder, .npz) or the .safetensors reader (`pepr weights info`) use more than 256 MB of
// peak RSS beyond what the same command uses on a small valid file. Every input is crafted here:
// headers that claim a huge geometry in a few hundred bytes. Each command runs as a child of
// this test; its peak RSS is wait4's ru_maxrss. A watchdog kills a child whose RSS passes the
// budget by far (1.5 GB), so that a regression fails the test instead of exhausting the machine.
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "data/image_codec.hpp"
#include "data/npy.hpp"
#include "data/zip.hpp"
#include "support/test_support.hpp"

namespace {

namespace fs = std::filesystem;
using pepr::test::TempDir;

constexpr long kBudgetKb = 256 * 1024;  // the budget beyond the baseline
constexpr long kKillKb = 1536 * 1024;   // the watchdog's limit beyond the baseline
constexpr auto kTimeout = std::chrono::seconds(120);

struct Measured {
  int exit_code = -1;  // -1: killed by a signal
  int signal = 0;
  long peak_kb = 0;  // ru_maxrss
  bool killed_by_watchdog = false;
  std::string err;  // stderr
};

long rss_kb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return 0;
}

// Runs pepr with `args`, stdout to /dev/null and stderr to a file; kills it when its RSS passes
// `kill_kb` or after kTimeout.
Measured run_measured(const std::vector<std::string>& args, const fs::path& err_file,
                      long kill_kb) {
  std::vector<std::string> argv{pepr::test::pepr_binary()};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> cargv;
  for (auto& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    const int out = open("/dev/null", O_WRONLY);
    const int err = open(err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (out < 0 || err < 0) _exit(126);
    dup2(out, 1);
    dup2(err, 2);
    execv(cargv[0], cargv.data());
    _exit(127);
  }
  Measured m;
  if (pid < 0) return m;
  const auto start = std::chrono::steady_clock::now();
  int status = 0;
  rusage ru{};
  for (;;) {
    const pid_t r = wait4(pid, &status, WNOHANG, &ru);
    if (r == pid) break;
    if (r < 0 && errno != EINTR) return m;
    if (rss_kb(pid) > kill_kb || std::chrono::steady_clock::now() - start > kTimeout) {
      m.killed_by_watchdog = true;
      kill(pid, SIGKILL);
      wait4(pid, &status, 0, &ru);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  m.peak_kb = ru.ru_maxrss;
  if (WIFEXITED(status)) m.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) m.signal = WTERMSIG(status);
  m.err = pepr::test::read_file(err_file);
  return m;
}

void put_be16(std::string& s, std::size_t at, unsigned v) {
  s[at] = static_cast<char>(v >> 8);
  s[at + 1] = static_cast<char>(v & 0xff);
}
void put_be32(std::string& s, std::size_t at, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) s[at + i] = static_cast<char>(v >> (24 - 8 * i));
}

// A real 8x8 image encoded by pepr, then its header patched to claim w x h.
std::string jpeg_claiming(unsigned w, unsigned h, bool progressive) {
  std::vector<std::uint8_t> px(64);
  for (std::size_t i = 0; i < px.size(); ++i) px[i] = static_cast<std::uint8_t>(i * 4);
  std::string j = pepr::data::encode_jpeg(px.data(), 8, 8, 1);
  const std::size_t sof = j.find("\xff\xc0");
  EXPECT_NE(sof, std::string::npos) << "no SOF0 marker in pepr's own JPEG";
  if (sof == std::string::npos) return j;
  put_be16(j, sof + 5, h);  // FFC0, length (2), precision (1), height (2), width (2)
  put_be16(j, sof + 7, w);
  if (progressive) {
    // SOF2, and the first scan made a valid DC scan (Ss = Se = 0): libjpeg then buffers the whole
    // image's coefficients while it reads the (short, corrupt) entropy data.
    j[sof + 1] = '\xc2';
    const std::size_t sos = j.find("\xff\xda");
    EXPECT_NE(sos, std::string::npos);
    if (sos == std::string::npos) return j;
    const std::size_t comps = static_cast<unsigned char>(j[sos + 4]);
    j[sos + 5 + 2 * comps + 1] = 0;  // Se
  }
  return j;
}

std::string png_claiming(std::uint32_t w, std::uint32_t h) {
  std::vector<std::uint8_t> px(16, 200);
  std::string p = pepr::data::encode_png(px.data(), 4, 4, 1);
  // 8-byte signature, IHDR length (4), "IHDR", width (4), height (4), ..., CRC after 13 bytes.
  EXPECT_EQ(p.substr(12, 4), "IHDR");
  put_be32(p, 16, w);
  put_be32(p, 20, h);
  put_be32(p, 29, pepr::data::crc32_of(std::string_view(p).substr(12, 17)));
  return p;
}

std::string small_png(std::uint8_t v) {
  std::vector<std::uint8_t> px(64, v);
  return pepr::data::encode_png(px.data(), 8, 8, 1);
}

// ROOT/{train,test}/{a,b}/*.png with small valid images; `bad` replaces train/a/0.<ext>.
fs::path image_folder(const TempDir& tmp, const std::string& name, const std::string& bad = "",
                      const std::string& bad_ext = "") {
  const fs::path root = tmp / name;
  for (const char* sp : {"train", "test"})
    for (const char* cls : {"a", "b"}) {
      fs::create_directories(root / sp / cls);
      for (int i = 0; i < 2; ++i)
        pepr::test::write_file(root / sp / cls / (std::to_string(i) + ".png"),
                               small_png(static_cast<std::uint8_t>(i * 50 + (cls[0] - 'a') * 9)));
    }
  if (!bad.empty()) {
    fs::remove(root / "train" / "a" / "0.png");
    pepr::test::write_file(root / "train" / "a" / ("0" + bad_ext), bad);
  }
  return root;
}

// A .npy member with any header dict (e.g. a shape that does not fit the data).
std::string raw_npy(const std::string& dict, const std::string& payload) {
  std::string header = dict;
  while ((10 + header.size() + 1) % 64) header += ' ';
  header += '\n';
  std::string s("\x93NUMPY\x01\x00", 8);
  s += static_cast<char>(header.size() & 0xff);
  s += static_cast<char>(header.size() >> 8);
  return s + header + payload;
}

// A MedMNIST-style .npz of 4 images of 8x8 per split; `images_dict` replaces the train images'
// header when given.
std::string npz(const std::string& images_dict = "") {
  pepr::data::ZipWriter z;
  for (const char* sp : {"train", "val", "test"}) {
    const std::string sps(sp);
    std::string dict = "{'descr': '|u1', 'fortran_order': False, 'shape': (4, 8, 8), }";
    if (sps == "train" && !images_dict.empty()) dict = images_dict;
    z.add(sps + "_images.npy", raw_npy(dict, std::string(4 * 64, '\x40')), true);
    z.add(sps + "_labels.npy",
          pepr::data::npy_bytes("|u1", {4, 1}, std::string("\x00\x01\x00\x01", 4)), true);
  }
  return z.finish();
}

std::string safetensors(const std::string& header_json, const std::string& data,
                        std::uint64_t claimed_len = 0) {
  std::string h = header_json;
  while (h.size() % 8) h += ' ';
  const std::uint64_t n = claimed_len ? claimed_len : h.size();
  std::string s;
  for (int i = 0; i < 8; ++i) s += static_cast<char>((n >> (8 * i)) & 0xff);
  return s + h + data;
}

class MemoryBudget : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(pepr::test::pepr_binary()))
      GTEST_SKIP() << "needs the pepr binary (" << pepr::test::pepr_binary()
                   << "); build the `pepr` target first";
  }

  // Runs `args` on a valid input (`baseline_args`) and on the crafted one, and checks the
  // crafted input stays within the budget and is refused cleanly (exit 1, "pepr: error:"), or,
  // when it is a valid file (`may_be_valid`), is read or refused without a crash.
  void expect_within_budget(const std::string& what, const fs::path& input,
                            const std::vector<std::string>& baseline_args,
                            const std::vector<std::string>& args, bool may_be_valid = false) {
    ASSERT_LT(fs::file_size(input), 1u << 20) << what << ": the input must stay under 1 MB";
    const Measured base = run_measured(baseline_args, tmp_ / "base.err", 8L << 20);
    ASSERT_EQ(base.exit_code, 0) << what << ": the baseline command failed: " << base.err;
    const Measured m = run_measured(args, tmp_ / "case.err", base.peak_kb + kKillKb);
    const long over_kb = m.peak_kb - base.peak_kb;
    EXPECT_FALSE(m.killed_by_watchdog)
        << what << ": killed at " << m.peak_kb / 1024 << " MB peak RSS (baseline "
        << base.peak_kb / 1024 << " MB) or after " << kTimeout.count() << " s";
    EXPECT_LE(over_kb, kBudgetKb) << what << ": peak RSS " << m.peak_kb / 1024 << " MB, baseline "
                                  << base.peak_kb / 1024 << " MB: over the 256 MB budget";
    if (!m.killed_by_watchdog && may_be_valid) {
      EXPECT_TRUE(m.exit_code == 0 || m.exit_code == 1)
          << what << ": expected exit 0 or 1, got exit " << m.exit_code << " signal " << m.signal
          << ": " << m.err;
    } else if (!m.killed_by_watchdog) {
      EXPECT_EQ(m.exit_code, 1) << what << ": expected a clean refusal (exit 1), got exit "
                                << m.exit_code << " signal " << m.signal << ": " << m.err;
      EXPECT_NE(m.err.find("pepr: error:"), std::string::npos) << what << ": " << m.err;
    }
  }

  void expect_folder_within_budget(const std::string& what, const std::string& bad,
                                   const std::string& ext) {
    const fs::path good = image_folder(tmp_, "good");
    const fs::path root = image_folder(tmp_, "bad", bad, ext);
    expect_within_budget(what, root / "train" / "a" / ("0" + ext), {"data", "info", good.string()},
                         {"data", "info", root.string()});
  }

  void expect_npz_within_budget(const std::string& what, const std::string& images_dict) {
    const fs::path good = tmp_ / "good.npz", bad = tmp_ / "bad.npz";
    pepr::test::write_file(good, npz());
    pepr::test::write_file(bad, npz(images_dict));
    expect_within_budget(what, bad, {"data", "info", good.string()},
                         {"data", "info", bad.string()});
  }

  void expect_safetensors_within_budget(const std::string& what, const std::string& bytes,
                                        bool may_be_valid = false) {
    const fs::path good = tmp_ / "good.safetensors", bad = tmp_ / "bad.safetensors";
    pepr::test::write_file(
        good, safetensors(R"({"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}})",
                          std::string(16, '\0')));
    pepr::test::write_file(bad, bytes);
    expect_within_budget(what, bad, {"weights", "info", good.string()},
                         {"weights", "info", bad.string()}, may_be_valid);
  }

  TempDir tmp_;
};

TEST_F(MemoryBudget, CraftedInputsAreValid) {
  // The crafted files differ from valid ones only in what they claim: the unpatched encodings
  // decode, and the patched headers say what the cases below rely on.
  const auto jpeg = jpeg_claiming(8, 8, false);
  EXPECT_EQ(pepr::data::decode_image(jpeg, "8x8.jpg").w, 8);
  const auto png = png_claiming(4, 4);
  EXPECT_EQ(pepr::data::decode_image(png, "4x4.png").h, 4);
  const auto big = png_claiming(60000, 60000);
  EXPECT_EQ(big.substr(16, 4), std::string("\x00\x00\xea\x60", 4));
  EXPECT_LT(jpeg_claiming(60000, 60000, true).size(), 1024u);
  const auto st = safetensors(R"({"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}})",
                              std::string(16, '\0'));
  EXPECT_EQ(st.size() % 8, 0u);
}

TEST_F(MemoryBudget, DataInfoImageFolderBaselineJpegClaiming60000x60000) {
  expect_folder_within_budget("baseline JPEG header claiming 60000x60000",
                              jpeg_claiming(60000, 60000, false), ".jpg");
}

TEST_F(MemoryBudget, DataInfoImageFolderProgressiveJpegClaiming60000x60000) {
  expect_folder_within_budget("progressive JPEG header claiming 60000x60000",
                              jpeg_claiming(60000, 60000, true), ".jpg");
}

TEST_F(MemoryBudget, DataInfoImageFolderPngClaiming60000x60000) {
  expect_folder_within_budget("PNG header claiming 60000x60000", png_claiming(60000, 60000),
                              ".png");
}

TEST_F(MemoryBudget, DataInfoImageFolderPngClaimingJustUnder32Megapixels) {
  // 5790 x 5790 = 33.5e6 pixels, just under the 32 Mi-pixel limit: the header check accepts it,
  // and what the decoder may allocate for it (34 MB, gray) is within the budget.
  expect_folder_within_budget("PNG header claiming 5790x5790", png_claiming(5790, 5790), ".png");
}

TEST_F(MemoryBudget, DataInfoNpzHeaderClaimingAHugeShape) {
  expect_npz_within_budget(
      "npz whose train_images header claims (100000, 60000, 60000)",
      "{'descr': '|u1', 'fortran_order': False, 'shape': (100000, 60000, 60000), }");
}

TEST_F(MemoryBudget, DataInfoNpzHeaderClaimingAnOverflowingShape) {
  expect_npz_within_budget(
      "npz whose train_images header's shape product overflows 64 bits",
      "{'descr': '<u8', 'fortran_order': False, 'shape': (4294967296, 4294967296, 16), }");
}

TEST_F(MemoryBudget, SafetensorsHugeShapes) {
  expect_safetensors_within_budget(
      "safetensors tensor of shape [4294967296, 4294967296]",
      safetensors(R"({"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,16]}})",
                  std::string(16, '\0')));
  // Zero elements, so a valid file (0 bytes of data): read or refused, never a crash. The
  // second's element count overflows 64-bit signed arithmetic before its zero is reached.
  expect_safetensors_within_budget(
      "safetensors tensor of shape [0, 2^62, 2^62]",
      safetensors(
          R"({"w":{"dtype":"F32","shape":[0,4611686018427387904,4611686018427387904],"data_offsets":[0,0]}})",
          ""),
      true);
  expect_safetensors_within_budget(
      "safetensors tensor of shape [2^62, 3, 0]",
      safetensors(R"({"w":{"dtype":"U8","shape":[4611686018427387904,3,0],"data_offsets":[0,0]}})",
                  ""),
      true);
  expect_safetensors_within_budget(
      "safetensors with 10000 tensors of shape [1000000, 1000000] over 16 bytes", [] {
        std::string h = "{";
        for (int i = 0; i < 10000; ++i)
          h += (i ? "," : "") + std::string("\"t") + std::to_string(i) +
               R"(":{"dtype":"U8","shape":[1000000,1000000],"data_offsets":[0,16]})";
        return safetensors(h + "}", std::string(16, '\0'));
      }());
}

TEST_F(MemoryBudget, SafetensorsHeaderLengthClaimingTheCap) {
  // The 8-byte length claims a 99 MB header in a file of a few bytes.
  expect_safetensors_within_budget("safetensors header length claiming 99 MB",
                                   safetensors(R"({})", "", 99ull * 1000 * 1000));
}

}  // namespace
