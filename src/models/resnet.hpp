// timm's ResNet family (timm/models/resnet.py): BasicBlock / Bottleneck stages (or a family's own
// block, e.g. Res2Net's Bottle2neck), plain / deep / deep-tiered stems, an optional conv stem
// pool, conv or avg-pool downsampling, anti-aliasing (avg pool or blur pool) and optional
// attention (SE, ECA, ...) per block.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "models/headed_classifier.hpp"
#include "models/layers/common.hpp"
#include "models/model.hpp"

namespace pepr::models {

enum class ResNetBlock { basic, bottleneck };

// timm's aa_layer: none, nn.AvgPool2d (kernel 2, stride 2: "resnetaa") or BlurPool2d (binomial
// 3x3 blur, reflect padding: "resnetblur").
enum class ResNetAA { none, avg_pool, blur_pool };

// What make_blocks hands each block (output stride 32, so no dilation).
struct ResNetBlockArgs {
  int64_t inplanes = 0;
  int64_t planes = 0;
  int64_t stride = 1;
  int64_t cardinality = 1;
  int64_t base_width = 64;
  int64_t reduce_first = 1;
  Act act = Act::relu;
  ResNetAA aa = ResNetAA::none;
  double drop_path_rate = 0.0;
  Sequential downsample{nullptr};  // null when the shortcut is the identity
  std::function<torch::nn::AnyModule(int64_t channels)> attn_layer;
};

// Base of every residual block a ResNet holds: timm's zero_init_last() hook.
class ResNetBlockBase : public torch::nn::Module {
 public:
  virtual void zero_init_last() = 0;
};

struct ResNetConfig {
  ResNetBlock block = ResNetBlock::basic;
  // A family's own block (e.g. Res2Net's Bottle2neck) instead of `block`: builds one block (a
  // ResNetBlockBase) from its arguments; block_expansion is its output channels per plane.
  std::function<torch::nn::AnyModule(const ResNetBlockArgs&)> block_fn;
  int64_t block_expansion = 4;

  std::vector<int64_t> layers;                       // blocks per stage, e.g. {2, 2, 2, 2}
  std::vector<int64_t> channels{64, 128, 256, 512};  // planes per stage
  int64_t cardinality = 1;
  int64_t base_width = 64;
  int64_t stem_width = 64;
  std::string stem_type;           // "", "deep", "deep_tiered"
  bool replace_stem_pool = false;  // 3x3 stride-2 conv + bn + act instead of the max pool
  bool avg_down = false;
  int64_t down_kernel_size = 1;
  int64_t reduce_first = 1;
  Act act = Act::relu;
  ResNetAA aa = ResNetAA::none;
  // Attention after the last conv+bn of each block, registered as "se" (SEModule, EcaModule);
  // null for none. Called with the block's output channels.
  std::function<torch::nn::AnyModule(int64_t channels)> attn_layer;
};

class ResNet : public LinearHeadClassifier {
 public:
  ResNet(const std::string& arch, const ResNetConfig& config, const ModelOptions& options);

  torch::Tensor forward_features(torch::Tensor x) override;
  std::vector<std::string> first_conv_names() const override {
    return {deep_stem_ ? "conv1.0" : "conv1"};
  }
  int64_t min_input_size() const override;

 private:
  void check_input_size(int64_t h, int64_t w) const;

  ResNetAA aa_ = ResNetAA::none;
  bool deep_stem_ = false;
  torch::nn::AnyModule conv1_;
  BatchNormAct2d bn1_{nullptr};
  torch::nn::AnyModule maxpool_;
  std::vector<Sequential> stages_;
};

}  // namespace pepr::models
