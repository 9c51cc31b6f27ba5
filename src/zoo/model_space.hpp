// The model space of the PePR study: the 131 timm architectures the paper benchmarked (and two
// reference architectures pepr also builds), with the paper's classification and timm's
// pretrained configuration. No LibTorch: whether pepr has a model natively is the registry's
// business (models/registry.hpp).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pepr::zoo {

struct ModelEntry {
  std::string_view name{};  // timm's name as the paper used it
  std::int64_t params = 0;  // trainable parameters with the 1000-class ImageNet head
  std::string_view type{};  // "CNN" or "Other" (the paper's classification)
  int efficient = 0;        // 1: designed for efficiency (the paper's classification)
  bool in_paper = true;     // one of the paper's 131 (else a reference architecture only)
  int in_chans = 3, height = 224, width = 224;  // timm's default pretrained input size
  std::array<double, 3> mean{}, std{};          // timm's normalisation for the weights
  double crop_pct = 0.875;
  std::string_view interpolation{};  // "bilinear", "bicubic"
  std::string_view hf_hub_id{};      // "timm/ghostnet_100.in1k": the default pretrained weights
                                     // ("" for the legacy SENets: timm has no hub weights)
  std::string_view tag{};            // "in1k"
  std::string_view timm_name_now{};  // timm's current name where it renamed the model, else ""
};

// Every entry, sorted by name.
const std::vector<ModelEntry>& model_space();

// The entry for a name (the paper's, or timm's current name); nullptr when unknown.
const ModelEntry* find_model(std::string_view name);

// https://huggingface.co/<hf_hub_id>/resolve/main/model.safetensors (the hub's file layout for
// timm weights). `base` replaces https://huggingface.co (mirrors, tests).
std::string weights_url(const ModelEntry& e, std::string_view base = "https://huggingface.co");

// The median of the paper's 131 parameter counts: the paper's small-scale / large-scale split.
double paper_median_params();

}  // namespace pepr::zoo
