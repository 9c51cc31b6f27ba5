#include "weights/hub.hpp"

#include <cstdio>
#include <filesystem>

#include <fmt/format.h>

#include "core/error.hpp"
#include "data/catalogue.hpp"
#include "data/download.hpp"
#include "weights/safetensors.hpp"

namespace pepr::weights {

namespace fs = std::filesystem;

std::string hub_weights_url(const zoo::ModelEntry& e) {
  return data::apply_base_override(zoo::weights_url(e, kHubBase), kHubBase, kHubBaseEnv);
}

std::string weights_cache_path(const zoo::ModelEntry& e) {
  return (fs::path(data::pepr_home()) / "weights" / std::string(e.hf_hub_id) / "model.safetensors")
      .string();
}

const zoo::ModelEntry& require_model(std::string_view name) {
  if (const auto* e = zoo::find_model(name)) return *e;
  throw Error(fmt::format(
      "'{}' is not in pepr's model space (pepr zoo list shows it); for another architecture "
      "export it with its weights as TorchScript (docs/torchscript.md) and pass the .pt file",
      name));
}

std::optional<std::string> cached_weights(std::string_view model) {
  const auto* e = zoo::find_model(model);
  if (!e) return std::nullopt;
  std::string p = weights_cache_path(*e);
  if (fs::is_regular_file(p)) return p;
  return std::nullopt;
}

PullWeightsResult pull_weights(std::string_view model, const PullWeightsOptions& opt) {
  const zoo::ModelEntry& e = require_model(model);
  if (e.hf_hub_id.empty())
    throw Error(
        fmt::format("timm publishes no .safetensors weights on the hub for {} (only a "
                    "legacy .pth file); export the pretrained model as TorchScript "
                    "(docs/torchscript.md) to use it",
                    e.name));
  PullWeightsResult r;
  r.path = weights_cache_path(e);
  r.url = hub_weights_url(e);
  if (!opt.force && fs::is_regular_file(r.path)) {
    r.from_cache = true;
    r.bytes = fs::file_size(r.path);
    r.tensors = SafetensorsFile::open(r.path).tensors().size();
    return r;
  }
  // Download next to the cache entry under another name, check it, then move it into place: a
  // file at r.path is always complete, verified and valid. An interrupted download leaves
  // STAGING.part, which the next pull resumes.
  const std::string staging = r.path + ".download";
  if (opt.force) std::remove((staging + ".part").c_str());
  data::DownloadOptions d;
  d.url = r.url;
  d.dest = staging;
  d.compute = data::DigestAlgo::sha256;
  d.digest_header = "X-Linked-Etag";
  d.retries = opt.retries;
  d.progress = opt.progress;
  data::DownloadResult res = data::download_file(d);
  r.sha256 = res.digest_hex;
  r.verified = res.verified;
  r.bytes = res.bytes;
  if (!r.verified) {
    std::remove(staging.c_str());
    throw Error(
        fmt::format("{}: the server sent no SHA-256 (X-Linked-Etag) to verify the download against "
                    "(computed {}); the file was discarded. Is {} a Hugging Face hub?",
                    r.url, r.sha256, kHubBaseEnv));
  }
  try {
    r.tensors = SafetensorsFile::open(staging).tensors().size();
  } catch (const Error&) {
    std::remove(staging.c_str());
    throw;
  }
  if (std::rename(staging.c_str(), r.path.c_str()) != 0)
    throw Error(fmt::format("{}: cannot move the download into place", r.path));
  return r;
}

}  // namespace pepr::weights
