// Generic timm layers first needed by the ResNet family (timm/layers/eca.py, blur_pool.py), kept
// apart from resnet.cpp so that other families can share them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <torch/torch.h>

#include "models/layers.hpp"

namespace pepr::models {

// timm.layers.EcaModule (Efficient Channel Attention, the default non-MLP form): global average
// pool -> Conv1d over the channel axis (1 -> 1, no bias) -> gate -> scale. With channels given,
// the kernel size adapts: t = int(|log2(channels) + beta| / gamma), k = max(t odd ? t : t + 1, 3).
// Entry: conv.weight [1, 1, k].
struct EcaModuleOptions {
  TORCH_ARG(int64_t, kernel_size) = 3;  // used when channels is not given
  TORCH_ARG(double, gamma) = 2.0;
  TORCH_ARG(double, beta) = 1.0;
  TORCH_ARG(Act, gate) = Act::sigmoid;
};

class EcaModuleImpl : public torch::nn::Module {
 public:
  explicit EcaModuleImpl(std::optional<int64_t> channels, EcaModuleOptions options = {});
  torch::Tensor forward(const torch::Tensor& x);
  int64_t kernel_size() const { return kernel_size_; }

  torch::nn::Conv1d conv{nullptr};

 private:
  EcaModuleOptions options_;
  int64_t kernel_size_;
};
TORCH_MODULE(EcaModule);

// timm's ECA kernel size for a channel count (exposed for tests).
int64_t eca_kernel_size(int64_t channels, double gamma = 2.0, double beta = 1.0);

// timm.layers.BlurPool2d: a fixed binomial blur (filt_size taps per axis, e.g. [1, 2, 1] / 4)
// applied depthwise with the given stride after padding by get_padding(filt_size, stride) in
// pad_mode ("reflect", timm's default, or "constant"). The filter is a non-persistent buffer in
// timm, so it has no state-dict entry here either (it is kept unregistered and follows the
// input's device and dtype).
struct BlurPool2dOptions {
  TORCH_ARG(int64_t, filt_size) = 3;
  TORCH_ARG(int64_t, stride) = 2;
  TORCH_ARG(std::string, pad_mode) = "reflect";
};

class BlurPool2dImpl : public torch::nn::Module {
 public:
  explicit BlurPool2dImpl(int64_t channels, BlurPool2dOptions options = {});
  torch::Tensor forward(const torch::Tensor& x);
  void pretty_print(std::ostream& stream) const override;
  // The smallest input side it accepts (reflect padding needs more than `padding` pixels).
  int64_t min_input_size() const;

 private:
  int64_t channels_;
  BlurPool2dOptions options_;
  int64_t padding_;
  torch::Tensor filt_;  // [channels, 1, k, k]; deliberately not a registered buffer
};
TORCH_MODULE(BlurPool2d);

}  // namespace pepr::models
