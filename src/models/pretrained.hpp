// Pretrained weights into a native model, by timm's parameter names.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "models/model.hpp"

namespace pepr::models {

struct PretrainedLoad {
  std::string path;
  std::size_t loaded = 0;                 // tensors copied into the model
  std::vector<std::string> head_skipped;  // classifier tensors kept freshly initialised
  std::vector<std::string> stem_adapted;  // stem weights whose RGB kernels were summed
};

// Loads a .safetensors file written in timm's naming (timm's own hub weights, or a state dict
// saved by pepr) into `model`, converting F16/BF16/F64 to the model's dtype:
// - every classifier (model.classifier_names()) keeps its fresh initialisation when the file's has
//   another shape (another number of classes);
// - with a 1-channel model, every stem convolution's (model.first_conv_names()) RGB kernels are
//   summed into one (as timm's adapt_input_conv does);
// - everything else must match exactly: missing, unexpected or differently shaped tensors throw a
//   pepr::Error that lists them, and the model is left unchanged.
PretrainedLoad load_pretrained(Classifier& model, const std::string& path);

// Writes every parameter and buffer of `module` under its state-dict name (F32 / I64) as a
// .safetensors file, atomically.
void save_safetensors(const torch::nn::Module& module, const std::string& path);

}  // namespace pepr::models
