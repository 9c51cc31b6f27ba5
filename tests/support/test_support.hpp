// Shared helpers for the test suite.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace pepr::test {

// ../shared/data (or $PEPR_SHARED_DATA); nullopt when absent.
std::optional<std::filesystem::path> shared_data_dir();

// A file under ../shared/data, or nullopt when the folder or file is absent.
std::optional<std::filesystem::path> shared_data(const std::string& relative);

// Skips the current test with a clear message when a shared data file is absent.
#define PEPR_REQUIRE_SHARED(var, relative)                                                      \
  auto var##_opt = ::pepr::test::shared_data(relative);                                         \
  if (!var##_opt) GTEST_SKIP() << "needs ../shared/data/" << (relative)                         \
                               << " (the PePR paper's published data); not found, skipping"; \
  const std::filesystem::path var = *var##_opt

// A fresh empty folder, removed when the object goes out of scope.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

void write_file(const std::filesystem::path& path, const std::string& content);
std::string read_file(const std::filesystem::path& path);

// The pepr executable built with the tests ($PEPR_BIN or the build folder).
std::string pepr_binary();

struct RunResult {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

// Runs a command (argv[0] found on PATH unless it has a slash) and captures its output.
RunResult run(const std::vector<std::string>& argv, const std::string& stdin_text = "");

// Runs the pepr binary with the given arguments.
RunResult run_pepr(const std::vector<std::string>& args, const std::string& stdin_text = "");

}  // namespace pepr::test
