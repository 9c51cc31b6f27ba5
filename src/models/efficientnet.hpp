// timm's EfficientNet model class (timm/models/efficientnet.py): conv_stem, bn1, blocks (built
// from a timm arch_def), conv_head, bn2, global pool, classifier. MobileNetV2 is one of its
// generators; EfficientNet, MnasNet, FBNet, SPNASNet, ... are others (add them in
// efficientnet.cpp, see docs/models.md).
#pragma once

#include <string>
#include <vector>

#include <torch/torch.h>

#include "models/efficientnet_blocks.hpp"
#include "models/headed_classifier.hpp"
#include "models/model.hpp"

namespace pepr::models {

struct EfficientNetConfig {
  std::vector<std::vector<std::string>> arch_def;  // stages of timm block strings
  double channel_multiplier = 1.0;                 // round_chs_fn = round_channels(., this)
  double depth_multiplier = 1.0;
  std::vector<double> depth_multipliers;  // per stage (timm's tuple); overrides depth_multiplier
  DepthTrunc depth_trunc = DepthTrunc::ceil;
  bool fix_first_last = false;  // decode_arch_def(fix_first_last): no depth scaling there
  int64_t num_features = 1280;  // conv_head width, final (already rounded); 0: no head conv
  int64_t stem_size = 32;
  int64_t stem_kernel_size = 3;
  bool fix_stem = false;  // false: stem_size goes through round_chs_fn
  std::string pad_type;   // "same" for the tf_ variants
  Act act = Act::relu;
  SeFactory se_layer = efficientnet_se();
  bool se_from_exp = false;
  int64_t round_divisor = 8;
  double round_limit = 0.9;

  int64_t round_chs(double channels) const {
    return round_channels(channels, channel_multiplier, round_divisor, std::nullopt, round_limit);
  }
};

class EfficientNet : public LinearHeadClassifier {
 public:
  EfficientNet(const std::string& arch, const EfficientNetConfig& config,
               const ModelOptions& options);

  torch::Tensor forward_features(torch::Tensor x) override;
  std::vector<std::string> first_conv_names() const override { return {"conv_stem"}; }

 private:
  Conv2d conv_stem_{nullptr};
  BatchNormAct2d bn1_{nullptr};
  Sequential blocks_{nullptr};
  Conv2d conv_head_{nullptr};
  BatchNormAct2d bn2_{nullptr};
};

}  // namespace pepr::models
