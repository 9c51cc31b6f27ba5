// timm building blocks used by the DPN / VoVNet / ResNetV2 / ... family files, in their own
// namespace so that they cannot collide with another family's helpers.
#pragma once

#include <cstdint>
#include <vector>

#include <torch/torch.h>

#include "models/layers/common.hpp"

namespace pepr::models::dpnvov {

// timm.layers.ConvNormAct with BatchNormAct2d: children "conv", "bn"; BatchNorm eps settable.
class ConvNormActImpl : public torch::nn::Module {
 public:
  ConvNormActImpl(ConvOptions conv_options, Act act, BatchNormOptions bn_options = {});
  torch::Tensor forward(const torch::Tensor& x) { return bn->forward(conv->forward(x)); }

  Conv2d conv{nullptr};
  BatchNormAct2d bn{nullptr};
};
TORCH_MODULE(ConvNormAct);

// timm.layers.SeparableConvNormAct: conv_dw (depthwise k x k), conv_pw (1x1), bn (+ act).
class SeparableConvNormActImpl : public torch::nn::Module {
 public:
  SeparableConvNormActImpl(int64_t in_chs, int64_t out_chs, int64_t kernel_size = 3,
                           int64_t stride = 1, Act act = Act::relu, int64_t dilation = 1,
                           const std::string& pad_type = "");
  torch::Tensor forward(const torch::Tensor& x) {
    return bn->forward(conv_pw->forward(conv_dw->forward(x)));
  }

  Conv2d conv_dw{nullptr}, conv_pw{nullptr};
  BatchNormAct2d bn{nullptr};
};
TORCH_MODULE(SeparableConvNormAct);

// timm.layers.EffectiveSEModule ("ese"): fc (1x1 conv with bias) on the global mean, gate
// hard_sigmoid by default.
class EffectiveSEModuleImpl : public torch::nn::Module {
 public:
  explicit EffectiveSEModuleImpl(int64_t channels, Act gate = Act::hard_sigmoid);
  torch::Tensor forward(const torch::Tensor& x);

  Conv2d fc{nullptr};

 private:
  Act gate_;
};
TORCH_MODULE(EffectiveSEModule);

// timm.layers.ClassifierHead(use_conv=True): adaptive average pool to 1x1, dropout, "fc" as a
// 1x1 Conv2d with bias, flatten. (The classifier weight is [classes, C, 1, 1].)
class ConvClassifierHeadImpl : public torch::nn::Module {
 public:
  ConvClassifierHeadImpl(int64_t in_features, int64_t num_classes, double drop_rate = 0.0);
  torch::Tensor forward(torch::Tensor x);
  void reset(int64_t num_classes);

  Conv2d fc{nullptr};

 private:
  int64_t in_features_;
  double drop_rate_;
};
TORCH_MODULE(ConvClassifierHead);

// A 1x1 Conv2d with bias used as a classifier (timm's _create_fc with use_conv=True).
Conv2d conv_classifier(int64_t in_features, int64_t num_classes);

// Pooled, flattened logits from a conv classifier: adaptive_avg_pool2d(1) -> dropout -> conv ->
// flatten, as timm's DPN / ClassifierHead(use_conv=True) compute them.
torch::Tensor conv_classifier_forward(Conv2d fc, torch::Tensor x, double drop_rate, bool training);

// timm.layers.calculate_drop_path_rates(rate, total): linspace(0, rate, total) per block
// (the "stagewise" variant gives the same numbers, split by stage).
std::vector<double> drop_path_rates(double drop_path_rate, int64_t total_blocks);

// torch.nn.init.trunc_normal_ / timm.layers.trunc_normal_: N(mean, std) truncated to [a, b]
// (absolute bounds), by PyTorch's inverse-CDF method.
void trunc_normal_(torch::Tensor& t, double mean = 0.0, double std = 1.0, double a = -2.0,
                   double b = 2.0);

// Smallest square input size s >= 1 for which `fits(s)` is true (searched up to 4096).
int64_t smallest_size(const std::function<bool(int64_t)>& fits);

// Output size of a max/avg pool or conv along one dimension, as PyTorch computes it.
int64_t pool_out_size(int64_t in, int64_t kernel, int64_t stride, int64_t padding, bool ceil_mode,
                      int64_t dilation = 1);

}  // namespace pepr::models::dpnvov
