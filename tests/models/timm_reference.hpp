// The timm reference vectors of ../shared/data/timm-reference (see its README.md): the fill rule,
// the reference input, the JSON files and the comparisons the equivalence test makes.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include <torch/torch.h>

namespace pepr::test {

// FNV-1a 64 of the bytes of s.
uint64_t fnv1a64(std::string_view s);

// splitmix64 of seed + (k + 1) * 0x9E3779B97F4A7C15 (the README's z).
uint64_t splitmix64_at(uint64_t seed, uint64_t k);

// u = (z >> 11) * 2^-53, in [0, 1).
double unit_at(uint64_t seed, uint64_t k);

// The value the fill rule gives a state-dict entry (float32, the given shape).
torch::Tensor fill_rule_tensor(const std::string& name, at::IntArrayRef shape);

// Sets every floating-point parameter and buffer of module by the fill rule (integer buffers,
// num_batches_tracked, are left alone).
void fill_by_rule(torch::nn::Module& module);

// The device the equivalence test computes on: $PEPR_TEST_DEVICE (cpu, cuda, cuda:N), default
// cpu. On CUDA, TF32 is switched off (cuDNN and cuBLAS), so float32 is float32 there too.
torch::Device test_device();

// The reference input [2, c, h, w]: r = 2u - 1 with seed FNV-1a 64 of "input".
torch::Tensor reference_input(int64_t c, int64_t h, int64_t w);

struct StateEntry {
  std::string name;
  std::vector<int64_t> shape;
  std::string dtype;  // "float32", "int64"
};

struct TimmReference {
  std::string name;
  int64_t timm_params = 0;
  std::vector<int64_t> input_size;      // C, H, W
  std::vector<std::string> first_conv;  // timm's pretrained_cfg names, every one where it
  std::vector<std::string> classifier;  // lists several (repvgg's stems, crossvit's heads)
  std::vector<StateEntry> state_dict;   // timm's order
  torch::Tensor logits;                 // [2, 1000] float32
  double sample_diff = 0;               // max |logits[0] - logits[1]|: the input sensitivity
  std::string error;                    // set where timm could not build the model
};

TimmReference load_timm_reference(const std::filesystem::path& json_file);

// Differences between a module's state dict and the reference's, compared as sets.
struct StateDictDiff {
  std::vector<std::string> missing;     // in timm, not in pepr
  std::vector<std::string> unexpected;  // in pepr, not in timm
  std::vector<std::string>
      mismatched;          // shape or dtype differs: "name: pepr [..] int64 vs timm [..]"
  bool same_order = true;  // informational only
  bool ok() const { return missing.empty() && unexpected.empty() && mismatched.empty(); }
  std::string describe(size_t max_items = 20) const;
};

StateDictDiff compare_state_dict(const torch::nn::Module& module, const TimmReference& ref);

// The README's tolerance: max|pepr - timm| <= 1e-3 * max(1, max|timm|).
double logits_tolerance(const torch::Tensor& timm_logits);

}  // namespace pepr::test
