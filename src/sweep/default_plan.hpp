// The embedded default sweep (`pepr bench --default`): small and larger native models trained
// from scratch on real medical images, the PneumoniaMNIST file shipped in the repository's
// data/ folder, on all and on 10 % of its training set, so that it runs in minutes on 2 CPU
// cores.
#pragma once

#include <array>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace pepr::sweep {

// The models of the default sweep, easy to change: a small efficient one (ghostnet_100, 5.2 M
// parameters with a 1000-class head) and three ResNets (10.1-21.8 M), so that the report's
// small-vs-large comparison (split at the median) has two of each. Each learns from scratch at
// 28 px on 10 % of the data within the plan's 5 epochs (measured: docs/sweep.md). Left out:
// mobilenetv2_050 stayed at chance on 10 % after 6 epochs and mnasnet_100 barely left it (their
// training loss starts at 5.7-5.9 on two classes, chance being 0.69: timm initialises
// EfficientNet-family heads uniformly within +-1/sqrt(classes), wide for two classes).
inline constexpr std::array<std::string_view, 4> kDefaultModels{"ghostnet_100", "resnet14t",
                                                                "resnet18", "resnet34d"};

// The shipped dataset: data/pneumoniamnist.npz, the official MedMNIST PneumoniaMNIST file at
// 28 px (CC BY 4.0, see data/README.md), and its MD5 as in MedMNIST's catalogue.
inline constexpr std::string_view kDefaultDataFile = "pneumoniamnist.npz";
inline constexpr std::string_view kDefaultDataMd5 = "28209eda62fecd6e6a2d98b1501bb15f";
inline constexpr std::string_view kDefaultDataName = "pneumonia";  // experiments pneumonia_*
// A folder holding kDefaultDataFile, used instead of the places below when set.
inline constexpr const char* kDefaultDataDirEnv = "PEPR_DEFAULT_DATA_DIR";

// The plan as TOML. Its dataset `file` is kDefaultDataFile, relative to the folder found by
// find_default_data_dir() (give that folder as the plan's base_dir), so that the run IDs are the
// same wherever the repository lies.
std::string default_plan_toml();

// The repository's data/ folder as compiled in (the source tree pepr was built from).
std::filesystem::path source_data_dir();

// The folders searched for kDefaultDataFile, in order: `env_dir` alone when it is not empty
// ($PEPR_DEFAULT_DATA_DIR); otherwise source_data_dir(), then EXE_DIR/../data and
// EXE_DIR/../share/pepr/data for the running executable `exe` (when not empty).
std::vector<std::filesystem::path> default_data_dirs(std::string_view env_dir,
                                                     const std::filesystem::path& exe);

// The first of default_data_dirs() holding kDefaultDataFile (reading $PEPR_DEFAULT_DATA_DIR);
// throws pepr::Error naming every folder searched when none does.
std::filesystem::path find_default_data_dir(const std::filesystem::path& exe);

}  // namespace pepr::sweep
