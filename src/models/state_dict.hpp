// State dicts by dotted name (parameters and buffers), as PyTorch's Module.state_dict() has them.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <torch/torch.h>

namespace pepr::models {

// Every parameter and buffer of module under its full dotted name ("layer1.0.bn1.running_var").
// The tensors are the module's own (not copies): writing to them under NoGradGuard changes the
// module.
std::map<std::string, torch::Tensor> state_dict(const torch::nn::Module& module);

// The names in registration order (PyTorch's state_dict order), parameters and buffers
// interleaved per module as torch.nn.Module.state_dict() lists them.
std::vector<std::string> state_dict_names(const torch::nn::Module& module);

struct LoadResult {
  std::vector<std::string> missing;     // in the module, not in the source
  std::vector<std::string> unexpected;  // in the source, not in the module
  std::vector<std::string> mismatched;  // in both, different shapes: "name: [a, b] vs [c, d]"
  bool ok() const { return missing.empty() && unexpected.empty() && mismatched.empty(); }
};

// Copies every source tensor whose name and shape match into the module (converting dtype and
// device). With strict, any missing, unexpected or mismatched entry throws pepr::Error listing
// them, and nothing is copied. Without strict, the matching entries are copied and the rest
// reported.
LoadResult load_state_dict(torch::nn::Module& module,
                           const std::map<std::string, torch::Tensor>& source, bool strict = true);

}  // namespace pepr::models
