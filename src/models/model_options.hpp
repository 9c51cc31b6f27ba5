// What every native model is built with. Free of LibTorch so that option parsing can use it.
#pragma once

#include <cstdint>

namespace pepr::models {

struct ModelOptions {
  int64_t num_classes = 1000;  // outputs of the classifier (>= 1)
  int64_t in_chans = 3;        // input channels of the stem convolution (1 for greyscale)
  double drop_rate =
      0.0;  // dropout before the classifier (and in the pre-logits where timm has it)
  double drop_path_rate = 0.0;  // stochastic depth, for the families that support it
};

}  // namespace pepr::models
