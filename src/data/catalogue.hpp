// The MedMNIST catalogue (v2/v3 files on Zenodo, 28 px and MedMNIST+ 64/128/224 px), the
// download cache ($PEPR_HOME/data, default ~/.cache/pepr/data) and `pull`.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "data/download.hpp"

namespace pepr::data {

inline constexpr std::array<int, 4> kMedmnistSizes{28, 64, 128, 224};
// Zenodo record of MedMNIST v3 (all sizes); overridable with PEPR_MEDMNIST_BASE_URL.
inline constexpr std::string_view kMedmnistBaseUrl = "https://zenodo.org/records/10519652/files";
inline constexpr const char* kMedmnistBaseEnv = "PEPR_MEDMNIST_BASE_URL";

struct CatalogueEntry {
  std::string_view name;         // e.g. "pneumoniamnist"
  std::string_view description;  // modality
  std::string_view task;         // as MedMNIST names it: "binary-class", "multi-class", ...
  int channels;                  // 1 gray, 3 RGB
  int classes;                   // classes (multi-label: labels per image)
  int64_t train, val, test;      // published split sizes (identical at every resolution)
  // Published MD5 per size (28, 64, 128, 224); empty where the catalogue does not know it.
  std::array<std::string_view, 4> md5;
};

const std::vector<CatalogueEntry>& medmnist_catalogue();

// "pneumoniamnist" or a file stem such as "pneumoniamnist_64"; nullptr when unknown.
const CatalogueEntry* find_catalogue_entry(std::string_view name);

struct CatalogueSpec {
  const CatalogueEntry* entry;
  int size;
};
// "pneumoniamnist" (28 px), "pneumoniamnist_64", "pneumoniamnist@64"; nullopt when not a
// catalogue name or the size is not one of 28, 64, 128, 224.
std::optional<CatalogueSpec> parse_catalogue_spec(std::string_view spec);

std::string medmnist_file_name(const CatalogueEntry& e, int size);  // "x.npz", "x_64.npz"
std::string medmnist_url(const CatalogueEntry& e, int size);        // honours the env override
std::string_view medmnist_md5(const CatalogueEntry& e, int size);

// $PEPR_HOME, else ~/.cache/pepr.
std::string pepr_home();
// pepr_home()/data
std::string data_cache_dir();
// The cached file for a catalogue spec, when it has been pulled.
std::optional<std::string> cached_catalogue_file(std::string_view spec);

struct PullOptions {
  int size = 28;
  bool force = false;   // download again even when cached
  bool verify = false;  // recompute the MD5 of a cached file
  int retries = 3;
  int retry_delay_ms = 1000;
  std::function<void(std::uint64_t, std::uint64_t)> progress;
};

struct PullResult {
  std::string path;
  std::string url;
  bool from_cache = false;  // no network access was needed
  bool verified = false;    // MD5 checked against a known value
  std::string md5;          // computed MD5 (empty for an unverified cache hit)
  DownloadResult download;  // when downloaded
};

// Downloads a catalogue dataset into the cache (or finds it there).
PullResult pull_medmnist(std::string_view name, const PullOptions& opt);

}  // namespace pepr::data
