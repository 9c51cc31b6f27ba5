// Checking output paths before the work starts, and "did you mean" suggestions.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "core/error.hpp"
#include "core/file_io.hpp"
#include "core/format.hpp"
#include "core/suggest.hpp"
#include "support/test_support.hpp"

using pepr::test::TempDir;

namespace {

// The message of the pepr::Error `f` throws, or "" when it throws nothing.
template <class F>
std::string error_of(F f) {
  try {
    f();
  } catch (const pepr::Error& e) {
    return e.what();
  }
  return "";
}

// A folder this process cannot create files in: a 0555 folder, or for root (who ignores
// permissions) /sys, which refuses new files; nullopt when there is none.
std::optional<std::filesystem::path> unwritable_folder(const TempDir& dir) {
  if (::geteuid() != 0) {
    auto ro = dir / "ro";
    std::filesystem::create_directory(ro);
    ::chmod(ro.c_str(), 0555);
    return ro;
  }
  for (const char* p : {"/sys", "/proc"}) {
    std::string probe = std::string(p) + "/.pepr-test-probe";
    FILE* f = std::fopen(probe.c_str(), "w");
    if (!f) return std::filesystem::path(p);
    std::fclose(f);
    std::remove(probe.c_str());
  }
  return std::nullopt;
}

}  // namespace

TEST(CheckOutputPath, AcceptsWritableFoldersAndStdout) {
  TempDir dir;
  EXPECT_NO_THROW(pepr::check_output_path((dir / "out.json").string(), "-o"));
  EXPECT_NO_THROW(pepr::check_output_path("-", "-o"));
  EXPECT_NO_THROW(pepr::check_output_path("", "-o"));
  EXPECT_NO_THROW(pepr::check_output_path("relative-out.json", "-o"));  // the current folder
  // Nothing is left behind by the check.
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
}

TEST(CheckOutputPath, MissingFolderIsNamed) {
  TempDir dir;
  const std::string path = (dir / "no-such" / "out.json").string();
  std::string msg = error_of([&] { pepr::check_output_path(path, "--append"); });
  EXPECT_EQ(msg,
            "--append " + path + ": folder '" + (dir / "no-such").string() + "' does not exist");
}

TEST(CheckOutputPath, FolderGivenAsFileAndFileGivenAsFolder) {
  TempDir dir;
  EXPECT_NE(error_of([&] {
              pepr::check_output_path(dir.path().string(), "-o");
            }).find("is a folder, not a file"),
            std::string::npos);
  pepr::test::write_file(dir / "plain", "x");
  EXPECT_NE(error_of([&] {
              pepr::check_output_path((dir / "plain" / "o.csv").string(), "-o");
            }).find("is not a folder"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              pepr::check_output_folder((dir / "plain").string(), "-o");
            }).find("exists and is not a folder"),
            std::string::npos);
}

TEST(CheckOutputPath, UnwritableFolderIsRefused) {
  TempDir dir;
  auto ro = unwritable_folder(dir);
  if (!ro) GTEST_SKIP() << "no unwritable folder on this machine";
  const std::string path = (*ro / "out.json").string();
  EXPECT_EQ(error_of([&] { pepr::check_output_path(path, "--samples"); }),
            "--samples " + path + ": folder '" + ro->string() + "' is not writable");
  // A folder made if absent: its nearest existing parent must be writable.
  EXPECT_NE(error_of([&] {
              pepr::check_output_folder((*ro / "a" / "b").string(), "-o");
            }).find("folder '" + ro->string() + "' is not writable"),
            std::string::npos);
  ::chmod((dir / "ro").c_str(), 0755);
}

TEST(CheckOutputPath, FolderMadeIfAbsent) {
  TempDir dir;
  EXPECT_NO_THROW(pepr::check_output_folder((dir / "a" / "b").string(), "-o"));
  EXPECT_FALSE(std::filesystem::exists(dir / "a")) << "the check creates nothing";
  EXPECT_NO_THROW(pepr::check_output_folder(dir.path().string(), "-o"));
}

TEST(Suggest, EditDistance) {
  EXPECT_EQ(pepr::edit_distance("score", "score"), 0u);
  EXPECT_EQ(pepr::edit_distance("scroe", "score"), 1u);  // adjacent swap
  EXPECT_EQ(pepr::edit_distance("", "abc"), 3u);
  EXPECT_EQ(pepr::edit_distance("resnet18", "resnet50"), 2u);
  EXPECT_EQ(pepr::edit_distance("kitten", "sitting"), 3u);
}

TEST(Suggest, ClosestName) {
  const std::vector<std::string> cmds{"score", "curve", "pareto", "stats", "report", "collect"};
  EXPECT_EQ(pepr::closest_name("scroe", cmds), "score");
  EXPECT_EQ(pepr::closest_name("reprot", cmds), "report");
  EXPECT_EQ(pepr::closest_name("col", cmds), "collect");  // a prefix
  EXPECT_EQ(pepr::closest_name("xyzzy", cmds), std::nullopt);
  EXPECT_EQ(pepr::did_you_mean("paretto", cmds), " (did you mean pareto?)");
  EXPECT_EQ(pepr::did_you_mean("zzzzzzzz", cmds), "");
}

TEST(Format, Plural) {
  EXPECT_EQ(pepr::plural(1, "epoch"), "1 epoch");
  EXPECT_EQ(pepr::plural(0, "epoch"), "0 epochs");
  EXPECT_EQ(pepr::plural(3, "run"), "3 runs");
  EXPECT_EQ(pepr::plural(2, "class", "classes"), "2 classes");
  EXPECT_EQ(pepr::plural(1, "class", "classes"), "1 class");
}
