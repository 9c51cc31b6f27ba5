#include "sweep/default_plan.hpp"

#include <cstdlib>

#include <fmt/format.h>

#include "core/error.hpp"

#ifndef PEPR_SOURCE_DATA_DIR
#error "PEPR_SOURCE_DATA_DIR (the repository's data/ folder) is set by src/CMakeLists.txt"
#endif

namespace pepr::sweep {

namespace fs = std::filesystem;

std::string default_plan_toml() {
  std::string names;
  for (auto m : kDefaultModels) names += fmt::format("{}\"{}\"", names.empty() ? "" : ", ", m);
  return fmt::format(
      R"(# pepr's default sweep: native models trained from scratch on real chest X-rays,
# PneumoniaMNIST at 28 px (MedMNIST, CC BY 4.0; data/README.md), on all (4708 images) and on
# 10 % of the training set. `file` lies in the repository's data/ folder; its MD5 is checked.
[sweep]
name = "default"
epochs = 5
lr = 1e-3
batch_size = 32
optimizer = "adam"
device = "cpu"
threads = 2
seeds = [0]
train_fractions = [1.0, 0.1]
regimes = ["scratch"]

[models]
names = [{}]

[[datasets]]
name = "{}"
file = "{}"
)",
      names, kDefaultDataName, kDefaultDataFile);
}

fs::path source_data_dir() {
  return fs::path(PEPR_SOURCE_DATA_DIR);
}

std::vector<fs::path> default_data_dirs(std::string_view env_dir, const fs::path& exe) {
  if (!env_dir.empty()) return {fs::path(env_dir)};
  std::vector<fs::path> dirs{source_data_dir()};
  if (!exe.empty()) {
    const fs::path bin = exe.parent_path();
    dirs.push_back((bin / ".." / "data").lexically_normal());
    dirs.push_back((bin / ".." / "share" / "pepr" / "data").lexically_normal());
  }
  return dirs;
}

fs::path find_default_data_dir(const fs::path& exe) {
  const char* env = std::getenv(kDefaultDataDirEnv);
  const auto dirs = default_data_dirs(env ? env : "", exe);
  std::string searched;
  for (const auto& d : dirs) {
    std::error_code ec;
    if (fs::is_regular_file(d / kDefaultDataFile, ec)) return d;
    searched += fmt::format("\n  {}", (d / kDefaultDataFile).string());
  }
  throw Error(fmt::format(
      "the default sweep's dataset {} (PneumoniaMNIST, 28 px, shipped in the repository's "
      "data/ folder) was not found; looked for:{}\nRestore it from the repository (git checkout "
      "-- data/{}), or put the official file (pepr data pull pneumoniamnist) into a folder and "
      "name that folder in ${}",
      kDefaultDataFile, searched, kDefaultDataFile, kDefaultDataDirEnv));
}

}  // namespace pepr::sweep
