// timm's pretrained weights from the Hugging Face hub: where they are, the local cache, and the
// download (libcurl through data/download, verified against the SHA-256 the hub sends).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "zoo/model_space.hpp"

namespace pepr::weights {

// PEPR_HF_BASE_URL replaces https://huggingface.co (mirrors, tests).
inline constexpr const char* kHubBaseEnv = "PEPR_HF_BASE_URL";
inline constexpr std::string_view kHubBase = "https://huggingface.co";

// <hub base>/<hf_hub_id>/resolve/main/model.safetensors
std::string hub_weights_url(const zoo::ModelEntry& e);

// $PEPR_HOME/weights/<hf_hub_id>/model.safetensors (default PEPR_HOME: ~/.cache/pepr).
std::string weights_cache_path(const zoo::ModelEntry& e);

// The model space entry of a name; throws pepr::Error listing what to do when it is unknown.
const zoo::ModelEntry& require_model(std::string_view name);

struct PullWeightsOptions {
  bool force = false;  // download again even when cached
  int retries = 3;
  std::function<void(std::uint64_t done, std::uint64_t total)> progress;
};

struct PullWeightsResult {
  std::string path, url;
  std::string sha256;  // of the file (empty for a cache hit: not recomputed)
  bool from_cache = false;
  bool verified = false;  // the SHA-256 matched the hub's (X-Linked-Etag)
  std::uint64_t bytes = 0;
  std::size_t tensors = 0;  // tensors in the (validated) file
};

// Downloads the model's default pretrained weights into the cache (resuming a partial file),
// verifies the SHA-256 against the one the hub sends in X-Linked-Etag (refusing the file when
// they differ, and when the hub sends none), validates the safetensors header, and only then
// moves the file into place. A cached file is used without network access.
PullWeightsResult pull_weights(std::string_view model, const PullWeightsOptions& opt = {});

// The cached weights of a model, if pulled.
std::optional<std::string> cached_weights(std::string_view model);

}  // namespace pepr::weights
