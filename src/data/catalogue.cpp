#include "data/catalogue.hpp"

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/error.hpp"
#include "core/file_io.hpp"
#include "core/suggest.hpp"

namespace pepr::data {

namespace fs = std::filesystem;

const std::vector<CatalogueEntry>& medmnist_catalogue() {
  // MedMNIST v3 (Zenodo record 10519652, the MedMNIST+ release): split sizes and the MD5 of
  // every file (28, 64, 128, 224 px) as published in the medmnist package's INFO table
  // (medmnist/info.py, version 3.0.2).
  // clang-format off
  static const std::vector<CatalogueEntry> cat = {
      {"pathmnist", "Colon Pathology", "multi-class", 3, 9, 89996, 10004, 7180,
       {"a8b06965200029087d5bd730944a56c1", "55aa9c1e0525abe5a6b9d8343a507616", "ac42d08fb904d92c244187169d1fd1d9", "2c51a510bcdc9cf8ddb2af93af1eadec"}},
      {"chestmnist", "Chest X-Ray", "multi-label, binary-class", 1, 14, 78468, 11219, 22433,
       {"02c8a6516a18b556561a56cbdd36c4a8", "9de6cd0b934ebb5b7426cfba5efbae16", "db107e5590b27930b62dbaf558aebee3", "45bd33e6f06c3e8cdb481c74a89152aa"}},
      {"dermamnist", "Dermatoscope", "multi-class", 3, 7, 7007, 1003, 2005,
       {"0744692d530f8e62ec473284d019b0c7", "b70a2f5635c6199aeaa28c31d7202e1f", "2defd784463fa5243564e855ed717de1", "8974907d8e169bef5f5b96bc506ae45d"}},
      {"octmnist", "Retinal OCT", "multi-class", 1, 4, 97477, 10832, 1000,
       {"c68d92d5b585d8d81f7112f81e2d0842", "e229e9440236b774d9f0dfef9d07bdaf", "0a97e76651ace45c5d943ee3f65b63ae", "abc493b6d529d5de7569faaef2773ba3"}},
      {"pneumoniamnist", "Chest X-Ray", "binary-class", 1, 2, 4708, 524, 624,
       {"28209eda62fecd6e6a2d98b1501bb15f", "8f4eceb4ccffa70c672198ea285246c6", "05b46931834c231683c68f40c47b2971", "d6a3c71de1b945ea11211b03746c1fe1"}},
      {"retinamnist", "Fundus Camera", "ordinal-regression", 3, 5, 1080, 120, 400,
       {"bd4c0672f1bba3e3a89f0e4e876791e4", "afda852cc34dcda56f86ad2b2457dbcc", "e48e916a24454daf90583d4e6efb1a18", "eae7e3b6f3fcbda4ae613ebdcbe35348"}},
      {"breastmnist", "Breast Ultrasound", "binary-class", 1, 2, 546, 78, 156,
       {"750601b1f35ba3300ea97c75c52ff8f6", "742edef2a1fd1524b2efff4bd7ba9364", "363e4b3f8d712e9b5de15470a2aaadf1", "b56378a6eefa9fed602bb16d192d4c8b"}},
      {"bloodmnist", "Blood Cell Microscope", "multi-class", 3, 8, 11959, 1712, 3421,
       {"7053d0359d879ad8a5505303e11de1dc", "2b94928a2ae4916078ca51e05b6b800b", "adace1e0ed228fccda1f39692059dd4c", "b718ff6835fcbdb22ba9eacccd7b2601"}},
      {"tissuemnist", "Kidney Cortex Microscope", "multi-class", 1, 8, 165466, 23640, 47280,
       {"ebe78ee8b05294063de985d821c1c34b", "123ece2eba09d0aa5d698fda57103344", "61b955355d7425a89687b06cca3ce0c2", "b077128c4a949f0a4eb01517f9037b9c"}},
      {"organamnist", "Abdominal CT (axial)", "multi-class", 1, 11, 34561, 6491, 17778,
       {"68e3f8846a6bd62f0c9bf841c0d9eacc", "2dcccc29b88e6da5a01161ef20cda288", "eeae80d0a227a8d099027e1b3cfd3b60", "50747347e05c87dd3aaf92c49f9f3170"}},
      {"organcmnist", "Abdominal CT (coronal)", "multi-class", 1, 11, 12975, 2392, 8216,
       {"b9ceb9546e10131b32923c5bbeaea2b1", "3ce34a8724ea6f548e6db4744d03b6a9", "773c1f009daa3fe5d9a2a201b2a7ed94", "050f5e875dc056f6768abf94ec9995d1"}},
      {"organsmnist", "Abdominal CT (sagittal)", "multi-class", 1, 11, 13932, 2452, 8827,
       {"9ab87b696fb54e2a387ebe992d6ed5f1", "53a6d115339d874c25e309a994ff46d3", "ded0c5fa01a95dc4978b956f613e9b8e", "b354719e553fbbb2513d5533f52a4cb1"}},
  };
  // clang-format on
  return cat;
}

namespace {
int size_index(int size) {
  for (std::size_t i = 0; i < kMedmnistSizes.size(); ++i) {
    if (kMedmnistSizes[i] == size) return static_cast<int>(i);
  }
  return -1;
}
const CatalogueEntry* exact(std::string_view name) {
  for (const auto& e : medmnist_catalogue()) {
    if (e.name == name) return &e;
  }
  return nullptr;
}
}  // namespace

std::optional<CatalogueSpec> parse_catalogue_spec(std::string_view spec) {
  if (const CatalogueEntry* e = exact(spec)) return CatalogueSpec{e, 28};
  auto sep = spec.find_last_of("_@");
  if (sep == std::string_view::npos) return std::nullopt;
  const CatalogueEntry* e = exact(spec.substr(0, sep));
  if (!e) return std::nullopt;
  std::string_view num = spec.substr(sep + 1);
  int size = 0;
  for (char ch : num) {
    if (ch < '0' || ch > '9' || size > 10000) return std::nullopt;
    size = size * 10 + (ch - '0');
  }
  if (num.empty() || size_index(size) < 0) return std::nullopt;
  return CatalogueSpec{e, size};
}

const CatalogueEntry* find_catalogue_entry(std::string_view name) {
  auto s = parse_catalogue_spec(name);
  return s ? s->entry : nullptr;
}

std::string medmnist_file_name(const CatalogueEntry& e, int size) {
  if (size_index(size) < 0) {
    throw Error(fmt::format("{}: size {} is not published (28, 64, 128 or 224)", e.name, size));
  }
  return size == 28 ? fmt::format("{}.npz", e.name) : fmt::format("{}_{}.npz", e.name, size);
}

std::string medmnist_url(const CatalogueEntry& e, int size) {
  std::string url = fmt::format("{}/{}?download=1", kMedmnistBaseUrl, medmnist_file_name(e, size));
  return apply_base_override(url, kMedmnistBaseUrl, kMedmnistBaseEnv);
}

std::string_view medmnist_md5(const CatalogueEntry& e, int size) {
  int i = size_index(size);
  return i < 0 ? std::string_view{} : e.md5[static_cast<std::size_t>(i)];
}

std::string pepr_home() {
  if (const char* h = std::getenv("PEPR_HOME"); h && *h) return h;
  const char* home = std::getenv("HOME");
  if (!home || !*home) throw Error("neither PEPR_HOME nor HOME is set: no cache folder");
  return (fs::path(home) / ".cache" / "pepr").string();
}

std::string data_cache_dir() {
  return (fs::path(pepr_home()) / "data").string();
}

std::optional<std::string> cached_catalogue_file(std::string_view spec) {
  auto s = parse_catalogue_spec(spec);
  if (!s) return std::nullopt;
  std::string p = (fs::path(data_cache_dir()) / medmnist_file_name(*s->entry, s->size)).string();
  if (fs::is_regular_file(p)) return p;
  return std::nullopt;
}

PullResult pull_medmnist(std::string_view name, const PullOptions& opt) {
  const CatalogueEntry* e = exact(name);
  int size = opt.size;
  if (!e) {
    if (auto s = parse_catalogue_spec(name)) {
      e = s->entry;
      size = s->size;
    }
  }
  if (!e) {
    std::vector<std::string> names;
    for (const auto& c : medmnist_catalogue()) names.emplace_back(c.name);
    // Case and a size suffix aside ("PneumoniaMNIST", "pneumonia_mnist_64"): the closest name.
    std::string key(name.substr(0, name.find('_')));
    for (auto& ch : key) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    const auto near = closest_name(key, names);
    throw Error(fmt::format("unknown dataset '{}'{} (the catalogue has: {})", name,
                            near ? fmt::format(": did you mean {}?", *near) : std::string(),
                            fmt::join(names, ", ")));
  }
  PullResult r;
  const std::string file = medmnist_file_name(*e, size);
  r.path = (fs::path(data_cache_dir()) / file).string();
  r.url = medmnist_url(*e, size);
  const std::string known(medmnist_md5(*e, size));
  if (!opt.force && fs::is_regular_file(r.path)) {
    r.from_cache = true;
    if (opt.verify) {
      r.md5 = digest_file(r.path, DigestAlgo::md5);
      if (r.md5 != known) {
        throw Error(
            fmt::format("{}: cached file is damaged: MD5 {} but expected {} (pull again "
                        "with --force)",
                        r.path, r.md5, known));
      }
      r.verified = true;
    }
    return r;
  }
  make_dirs(data_cache_dir());
  if (opt.force) std::remove((r.path + ".part").c_str());  // start from scratch
  DownloadOptions d;
  d.url = r.url;
  d.dest = r.path;
  d.expected = ExpectedDigest{DigestAlgo::md5, known};
  d.retries = opt.retries;
  d.retry_delay_ms = opt.retry_delay_ms;
  d.progress = opt.progress;
  r.download = download_file(d);
  r.md5 = r.download.digest_hex;
  r.verified = r.download.verified;
  return r;
}

}  // namespace pepr::data
