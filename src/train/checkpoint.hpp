// A run's checkpoint: what `pepr train --save-checkpoint` keeps when a run stops before its last
// epoch (a `pepr bench --prune-top` probe, a budget) and `--resume-from` continues from, so that
// no epoch is trained twice. One LibTorch archive, written to a temporary file and renamed:
//   - the model's parameters and buffers, by position (their names and shapes checked on load),
//   - the optimizer's state (LibTorch's own serialisation: Adam's moments and step counts),
//   - extra tensors the engine names (an fp16 run's loss scale),
//   - the CPU random generator's state,
//   - `meta`: JSON the engine fills (the run's identity, its epochs so far, totals, budget).
// Declares LibTorch's types without including LibTorch.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>
#include "train/torch_fwd.hpp"

namespace pepr::train {

using NamedTensors = std::vector<std::pair<std::string, at::Tensor>>;

inline constexpr const char* kCheckpointFormat = "pepr.checkpoint/1";

// Bytes the tensors take in memory: the checkpoint's model part. With Adam's two moments the
// file is about three times this.
std::int64_t tensor_bytes(const NamedTensors& tensors);

// Writes the checkpoint atomically (PATH.tmp, then renamed). Throws pepr::Error naming the path
// when it cannot be written; an earlier file at `path` is then left as it was.
void save_checkpoint(const std::filesystem::path& path, const NamedTensors& state,
                     const torch::optim::Optimizer& optimizer, const nlohmann::json& meta);

// Reads a checkpoint into the tensors (copied in place: same names, shapes and order as saved)
// and the optimizer, restores the CPU generator, and returns its meta. Throws pepr::Error naming
// the path and what was wrong (missing, not a pepr checkpoint, another model's tensors).
nlohmann::json load_checkpoint(const std::filesystem::path& path, const NamedTensors& state,
                               torch::optim::Optimizer& optimizer);

// The members of `saved` and `now` (two run identities, JSON objects) that differ, as
// "epochs 6 (checkpoint) vs 10"; empty when they are the same run.
std::vector<std::string> identity_differences(const nlohmann::json& saved,
                                              const nlohmann::json& now);

}  // namespace pepr::train
