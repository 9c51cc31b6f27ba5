// A native model's input-size rule, learned by building it (LibTorch-free header): what
// zoo/input_sizes.cpp is generated from and checked against.
#pragma once

#include <cstdint>
#include <string>

namespace pepr::models {

struct NativeInputSize {
  std::int64_t min = 1;    // Classifier::min_input_size()
  std::int64_t fixed = 0;  // Classifier::fixed_input_size(), 0 when it has none
};

// Builds the model (a small head; the rule does not depend on it); pepr::Error if not native.
NativeInputSize native_input_size(const std::string& name);

}  // namespace pepr::models
