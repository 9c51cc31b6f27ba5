// Shared helpers for the test suite.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace pepr::test {

// ../shared/data (or $PEPR_SHARED_DATA); nullopt when absent.
std::optional<std::filesystem::path> shared_data_dir();

// A file under ../shared/data, or nullopt when the folder or file is absent.
std::optional<std::filesystem::path> shared_data(const std::string& relative);

// Skips the current test with a clear message when a shared data file is absent.
#define PEPR_REQUIRE_SHARED(var, relative)                                     \
  auto var##_opt = ::pepr::test::shared_data(relative);                        \
  if (!var##_opt)                                                              \
    GTEST_SKIP() << "needs ../shared/data/" << (relative)                      \
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

// The source tree this build was configured from (its scripts/, data/, examples/).
std::filesystem::path source_dir();

struct RunResult {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

// Runs a command (argv[0] found on PATH unless it has a slash) and captures its output.
RunResult run(const std::vector<std::string>& argv, const std::string& stdin_text = "");

// Runs the pepr binary with the given arguments.
RunResult run_pepr(const std::vector<std::string>& args, const std::string& stdin_text = "");

// Whether this pepr has the train command (it is built without it when LibTorch is absent, as in
// the sanitizer job).
bool pepr_has_train();
#define PEPR_REQUIRE_TRAIN()           \
  if (!::pepr::test::pepr_has_train()) \
  GTEST_SKIP() << "this pepr was built without LibTorch (no train command)"

// Runs a command inside a pseudo-terminal (as a person at a terminal runs it: stdin, stdout and
// stderr are the terminal) of `columns` x 24, with extra environment variables (a nullopt value
// unsets one). After `resize_after_s` seconds (when >= 0) the terminal is resized to
// `resize_to` columns, as a person dragging the window. `out` holds everything the terminal
// showed, stdout and stderr together, with its '\r's. The child is killed after `timeout_s`.
struct PtyOptions {
  int columns = 80;
  std::vector<std::pair<std::string, std::optional<std::string>>> env;
  double resize_after_s = -1;
  int resize_to = 80;
  double timeout_s = 300;
};
RunResult run_in_pty(const std::vector<std::string>& argv, const PtyOptions& options = {});
RunResult run_pepr_in_pty(const std::vector<std::string>& args, const PtyOptions& options = {});

}  // namespace pepr::test
