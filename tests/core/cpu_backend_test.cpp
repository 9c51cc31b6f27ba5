// The oneDNN check: off exactly where oneDNN would misread the CPU's caches, and the build
// configuration texts of the LibTorch versions pepr builds against read correctly.
#include <gtest/gtest.h>

#include <string>

#include "core/cpu_backend.hpp"
#include "core/error.hpp"

namespace pepr {
namespace {

OneDnnFacts facts_with_caches(std::uint64_t l1, std::uint64_t l2) {
  OneDnnFacts f;
  f.version = "3.7.2";
  f.l1_bytes = l1;
  f.l2_bytes = l2;
  return f;
}

TEST(OneDnnCheck, OffWhenOneDnnItselfReportsByteSizedCaches) {
  // What Debian 13's oneDNN 3.7.2 answered on our AMD EPYC development VM.
  const OneDnnVerdict v = judge_onednn(facts_with_caches(1, 1), "");
  EXPECT_FALSE(v.use);
  EXPECT_NE(v.reason.find("1 byte (L1) and 1 byte (L2)"), std::string::npos) << v.reason;
  EXPECT_NE(v.reason.find("v3.7.2"), std::string::npos) << v.reason;
  EXPECT_FALSE(judge_onednn(facts_with_caches(48 * 1024, 0), "auto").use);
}

TEST(OneDnnCheck, OnWhenOneDnnReportsRealCaches) {
  // Its own answer wins over the CPUID guess: a fixed oneDNN on the same VM is fine.
  OneDnnFacts f = facts_with_caches(48 * 1024, 1024 * 1024);
  f.amd_cache_leaf_empty = true;
  const OneDnnVerdict v = judge_onednn(f, "");
  EXPECT_TRUE(v.use);
  EXPECT_EQ(v.reason, "");
}

TEST(OneDnnCheck, WithoutItsAnswerTheVersionAndTheCpuDecide) {
  OneDnnFacts f;
  f.amd_cache_leaf_empty = true;
  for (const char* bad : {"3.2", "3.5.3", "3.7.2"}) {
    f.version = bad;
    const OneDnnVerdict v = judge_onednn(f, "");
    EXPECT_FALSE(v.use) << bad;
    EXPECT_NE(v.reason.find("0x8000001D"), std::string::npos) << v.reason;
  }
  // Before the AMD cache code (oneDNN 2.x, Debian 12's LibTorch 1.13) and after its fix (3.8).
  for (const char* good : {"2.6.3", "3.1.1", "3.8.0", "3.10", "4.0"}) {
    f.version = good;
    EXPECT_TRUE(judge_onednn(f, "").use) << good;
  }
  f.version = "";  // unknown: the safe side
  EXPECT_FALSE(judge_onednn(f, "").use);
  EXPECT_NE(judge_onednn(f, "").reason.find("unknown version"), std::string::npos);
  // A CPU with its cache topology in place: nothing to fear from any version.
  f.amd_cache_leaf_empty = false;
  EXPECT_TRUE(judge_onednn(f, "").use);
}

TEST(OneDnnCheck, TheEnvironmentOverridesAndIsChecked) {
  const OneDnnFacts broken = facts_with_caches(1, 1);
  const OneDnnVerdict on = judge_onednn(broken, "on");
  EXPECT_TRUE(on.use);
  EXPECT_NE(on.reason.find("PEPR_ONEDNN=on"), std::string::npos);
  EXPECT_FALSE(judge_onednn(facts_with_caches(1 << 15, 1 << 20), "off").use);
  try {
    judge_onednn(broken, "yes");
    FAIL() << "PEPR_ONEDNN=yes accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("PEPR_ONEDNN='yes'"), std::string::npos) << e.what();
  }
  OneDnnFacts none;
  none.built_with_onednn = false;
  EXPECT_FALSE(judge_onednn(none, "").use);
}

TEST(OneDnnCheck, ReadsTheVersionFromLibTorchsBuildConfiguration) {
  // Lines of at::show_config() from Debian 12's LibTorch 1.13 and Debian 13's 2.6.
  EXPECT_EQ(parse_onednn_version("PyTorch built with:\n  - GCC 12.2\n  - C++ Version: 201402\n"
                                 "  - Intel(R) MKL-DNN v2.6.3 (Git Hash N/A)\n  - OpenMP 201511"),
            "2.6.3");
  EXPECT_EQ(parse_onednn_version("  - Intel(R) MKL-DNN v3.7.2 (Git Hash N/A)\n"), "3.7.2");
  EXPECT_EQ(parse_onednn_version("  - Intel(R) oneDNN v3.8.1 (Git Hash 8d263e6)"), "3.8.1");
  EXPECT_EQ(parse_onednn_version("PyTorch built with:\n  - GCC 14.2\n  - USE_MKLDNN=OFF"), "");
  EXPECT_EQ(parse_onednn_version("MKL-DNN v"), "");
  EXPECT_EQ(parse_onednn_version("MKL-DNN v3."), "");
  EXPECT_EQ(parse_onednn_version(std::string("MKL-DNN v\0\xff.3", 13)), "");
}

}  // namespace
}  // namespace pepr
