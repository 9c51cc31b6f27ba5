// timm's ResNet family (timm/models/resnet.py): BasicBlock / Bottleneck stages, plain / deep /
// deep-tiered stems, conv or avg-pool downsampling, optional attention per block.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "models/layers.hpp"
#include "models/model.hpp"

namespace pepr::models {

enum class ResNetBlock { basic, bottleneck };

struct ResNetConfig {
  ResNetBlock block = ResNetBlock::basic;
  std::vector<int64_t> layers;                       // blocks per stage, e.g. {2, 2, 2, 2}
  std::vector<int64_t> channels{64, 128, 256, 512};  // planes per stage
  int64_t cardinality = 1;
  int64_t base_width = 64;
  int64_t stem_width = 64;
  std::string stem_type;  // "", "deep", "deep_tiered"
  bool avg_down = false;
  int64_t down_kernel_size = 1;
  int64_t reduce_first = 1;
  Act act = Act::relu;
  // Attention after the last conv+bn of each block, registered as "se" (e.g. SEModule); null
  // for none. Called with the block's output channels.
  std::function<torch::nn::AnyModule(int64_t channels)> attn_layer;
};

class ResNet : public Classifier {
 public:
  ResNet(const std::string& arch, const ResNetConfig& config, const ModelOptions& options);

  torch::Tensor forward_features(torch::Tensor x) override;
  torch::Tensor forward_head(torch::Tensor x) override;
  std::string first_conv_name() const override { return deep_stem_ ? "conv1.0" : "conv1"; }
  std::string classifier_name() const override { return "fc"; }
  void reset_classifier(int64_t num_classes) override;

 private:
  bool deep_stem_ = false;
  torch::nn::AnyModule conv1_;
  BatchNormAct2d bn1_{nullptr};
  std::vector<Sequential> stages_;
  torch::nn::Linear fc_{nullptr};
};

}  // namespace pepr::models
