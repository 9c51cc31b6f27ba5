// The C++ standard library a LibTorch-linked binary uses is libstdc++'s own, not copies of it that
// a LibTorch exports: PyPI's libtorch.so exports std::filesystem functions, and when it came
// before libstdc++ in the binary's needed libraries its std::filesystem::remove_all interposed
// libstdc++'s and crashed (a jump to address 0). CMakeLists.txt makes libstdc++ the first needed
// library; this checks where the symbols resolve. Needs no data.
#include <dlfcn.h>

#include <filesystem>
#include <string>
#include <system_error>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "support/test_support.hpp"

namespace {

std::string library_of(const void* address) {
  Dl_info info{};
  if (::dladdr(address, &info) == 0 || info.dli_fname == nullptr) return "(unknown)";
  return info.dli_fname;
}

TEST(StandardLibrary, FilesystemFunctionsAreLibstdcxxsNotLibTorchs) {
  namespace fs = std::filesystem;
  const auto remove_all =
      static_cast<std::uintmax_t (*)(const fs::path&, std::error_code&)>(&fs::remove_all);
  const auto create_directories =
      static_cast<bool (*)(const fs::path&, std::error_code&)>(&fs::create_directories);
  for (const void* f : {reinterpret_cast<const void*>(remove_all),
                        reinterpret_cast<const void*>(create_directories)}) {
    const std::string lib = library_of(f);
    EXPECT_NE(lib.find("libstdc++"), std::string::npos) << "resolved in " << lib;
  }
  // And they work: a folder tree made and removed (the crash was here).
  pepr::test::TempDir dir;
  const fs::path tree = dir.path() / "a" / "b";
  std::error_code ec;
  ASSERT_TRUE(fs::create_directories(tree, ec)) << ec.message();
  EXPECT_EQ(fs::remove_all(dir.path() / "a", ec), 2u) << ec.message();
  (void)torch::zeros({1});  // this binary links LibTorch
}

}  // namespace
