// Building blocks shared by the native families, each a port of the timm layer of the same name
// with the same parameter names (so that timm's state dicts load by name).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <torch/torch.h>

namespace pepr::models {

// ---------------------------------------------------------------------------------------------
// Arithmetic helpers, exactly as timm computes them.

// timm.layers.get_padding: symmetric padding that keeps "same" output for odd kernels.
inline int64_t get_padding(int64_t kernel, int64_t stride = 1, int64_t dilation = 1) {
  return ((stride - 1) + dilation * (kernel - 1)) / 2;
}

// timm.layers.make_divisible: rounds v to a multiple of divisor, never below min_value
// (default: divisor) and never more than (1 - round_limit) below v.
int64_t make_divisible(double v, int64_t divisor = 8, std::optional<int64_t> min_value = {},
                       double round_limit = 0.9);

// Python's round() for a float: to the nearest integer, ties to even (round(2.5) == 2).
int64_t py_round(double v);

// ---------------------------------------------------------------------------------------------
// Activations: parameter-free, so they only matter in forward().

enum class Act {
  identity,
  relu,
  relu6,
  leaky_relu,  // slope 0.01
  elu,
  selu,
  celu,
  silu,  // timm's "swish" and "silu"
  hard_swish,
  hard_sigmoid,  // F.hardsigmoid: relu6(x + 3) / 6
  sigmoid,
  tanh,
  gelu,       // exact (erf)
  gelu_tanh,  // tanh approximation
  mish,
};

// timm's names ("relu", "relu6", "swish", "silu", "hard_swish", "hardswish", "hard_sigmoid",
// "gelu", "gelu_tanh", "mish", "sigmoid", "tanh", "elu", "selu", "celu", "leaky_relu",
// "identity"/"none"/""). Throws pepr::Error for others.
Act act_from_name(std::string_view name);
std::string_view act_name(Act act);

// Applies act. With inplace, relu / relu6 / leaky_relu overwrite x (their backward needs only the
// output); use it only on a tensor nothing else reads. The others never work in place.
torch::Tensor apply_act(Act act, torch::Tensor x, bool inplace = false);

// An activation as a module, for Sequential containers whose indices must match timm's.
class ActivationImpl : public torch::nn::Module {
 public:
  explicit ActivationImpl(Act act = Act::relu, bool inplace = false)
      : act_(act), inplace_(inplace) {}
  torch::Tensor forward(torch::Tensor x) { return apply_act(act_, std::move(x), inplace_); }
  Act act() const { return act_; }
  void pretty_print(std::ostream& stream) const override;

 private:
  Act act_;
  bool inplace_;
};
TORCH_MODULE(Activation);

// ---------------------------------------------------------------------------------------------
// A Sequential with a plain Tensor -> Tensor forward, so that it can nest in other Sequentials
// and in AnyModule (torch::nn::Sequential cannot). Children are named "0", "1", ... as in PyTorch.

class SequentialImpl : public torch::nn::SequentialImpl {
 public:
  using torch::nn::SequentialImpl::SequentialImpl;
  torch::Tensor forward(torch::Tensor x) {
    return torch::nn::SequentialImpl::forward<torch::Tensor>(std::move(x));
  }
};
TORCH_MODULE(Sequential);

// ---------------------------------------------------------------------------------------------
// Convolution: timm's create_conv2d. Parameters "weight" [out, in/groups, kh, kw] and "bias".

struct ConvOptions {
  ConvOptions(int64_t in_channels, int64_t out_channels, torch::ExpandingArray<2> kernel_size)
      : in_channels_(in_channels), out_channels_(out_channels), kernel_size_(kernel_size) {}
  TORCH_ARG(int64_t, in_channels);
  TORCH_ARG(int64_t, out_channels);
  TORCH_ARG(torch::ExpandingArray<2>, kernel_size);
  TORCH_ARG(torch::ExpandingArray<2>, stride) = 1;
  TORCH_ARG(torch::ExpandingArray<2>, dilation) = 1;
  TORCH_ARG(int64_t, groups) = 1;
  TORCH_ARG(bool, depthwise) = false;  // groups = in_channels
  TORCH_ARG(bool, bias) = false;       // timm's create_conv2d default
  // timm pad_type: "" (symmetric get_padding), "same" (TF-style; static when possible, else
  // computed from the input size at run time), "valid" (0). Ignored when padding is set.
  TORCH_ARG(std::string, pad_type) = "";
  TORCH_ARG(std::optional<torch::ExpandingArray<2>>, padding) = std::nullopt;
};

class Conv2dImpl : public torch::nn::Module {
 public:
  explicit Conv2dImpl(ConvOptions options);
  torch::Tensor forward(const torch::Tensor& x);
  void reset_parameters();  // PyTorch's default (kaiming_uniform with a = sqrt(5))
  void pretty_print(std::ostream& stream) const override;

  const ConvOptions& options() const { return options_; }
  int64_t groups() const { return groups_; }

  torch::Tensor weight;
  torch::Tensor bias;  // undefined without bias

 private:
  ConvOptions options_;
  int64_t groups_;
  std::array<int64_t, 2> padding_{0, 0};
  bool dynamic_same_ = false;
};
TORCH_MODULE(Conv2d);

// Shorthand: create_conv2d(in, out, k, stride, dilation, groups / depthwise, pad_type).
Conv2d create_conv2d(int64_t in_channels, int64_t out_channels, int64_t kernel_size,
                     int64_t stride = 1, int64_t dilation = 1, int64_t groups = 1,
                     const std::string& pad_type = "", bool bias = false);

// ---------------------------------------------------------------------------------------------
// Batch normalisation followed by an activation: timm's BatchNormAct2d (and, with
// Act::identity, nn.BatchNorm2d). Entries: weight, bias, running_mean, running_var,
// num_batches_tracked. eps 1e-5 and momentum 0.1 as in PyTorch and timm.

struct BatchNormOptions {
  TORCH_ARG(double, eps) = 1e-5;
  TORCH_ARG(double, momentum) = 0.1;
  TORCH_ARG(bool, affine) = true;
};

class BatchNormAct2dImpl : public torch::nn::Module {
 public:
  explicit BatchNormAct2dImpl(int64_t num_features, Act act = Act::identity,
                              BatchNormOptions options = {});
  torch::Tensor forward(const torch::Tensor& x);
  void reset_parameters();  // weight 1, bias 0, running stats reset
  void pretty_print(std::ostream& stream) const override;
  int64_t num_features() const { return num_features_; }
  Act act() const { return act_; }

  torch::Tensor weight, bias, running_mean, running_var, num_batches_tracked;

 private:
  int64_t num_features_;
  Act act_;
  BatchNormOptions options_;
};
TORCH_MODULE(BatchNormAct2d);

// Plain BatchNorm2d with timm's names.
inline BatchNormAct2d batch_norm2d(int64_t num_features) {
  return BatchNormAct2d(num_features, Act::identity);
}

// ---------------------------------------------------------------------------------------------
// Conv + BatchNorm + activation with configurable child names: timm's ConvNormAct uses
// "conv"/"bn"; other families use e.g. "conv"/"bn1".

class ConvBnActImpl : public torch::nn::Module {
 public:
  ConvBnActImpl(ConvOptions conv, Act act, const std::string& conv_name = "conv",
                const std::string& bn_name = "bn");
  torch::Tensor forward(const torch::Tensor& x) { return bn->forward(conv->forward(x)); }

  Conv2d conv{nullptr};
  BatchNormAct2d bn{nullptr};
};
TORCH_MODULE(ConvBnAct);

// ---------------------------------------------------------------------------------------------
// Attention modules.

// timm _efficientnet_blocks.SqueezeExcite: conv_reduce (bias), act1, conv_expand (bias), gate.
// rd_channels defaults to py_round(in_chs * rd_ratio), or make_divisible(in_chs * rd_ratio,
// rd_divisor) when rd_divisor > 0 (MobileNetV3's round_channels).
struct SqueezeExciteOptions {
  TORCH_ARG(double, rd_ratio) = 0.25;
  TORCH_ARG(std::optional<int64_t>, rd_channels) = std::nullopt;
  TORCH_ARG(int64_t, rd_divisor) = 0;
  TORCH_ARG(Act, act) = Act::relu;
  TORCH_ARG(Act, gate) = Act::sigmoid;
};

class SqueezeExciteImpl : public torch::nn::Module {
 public:
  SqueezeExciteImpl(int64_t in_chs, SqueezeExciteOptions options = {});
  torch::Tensor forward(const torch::Tensor& x);

  Conv2d conv_reduce{nullptr}, conv_expand{nullptr};

 private:
  SqueezeExciteOptions options_;
};
TORCH_MODULE(SqueezeExcite);

// timm.layers.SEModule (ResNet-style SE): fc1 (bias), bn (optional), act, fc2 (bias), gate;
// rd_channels = make_divisible(channels * rd_ratio, rd_divisor, round_limit = 0).
struct SEModuleOptions {
  TORCH_ARG(double, rd_ratio) = 1.0 / 16;
  TORCH_ARG(int64_t, rd_divisor) = 8;
  TORCH_ARG(std::optional<int64_t>, rd_channels) = std::nullopt;
  TORCH_ARG(bool, add_maxpool) = false;
  TORCH_ARG(bool, use_norm) = false;
  TORCH_ARG(Act, act) = Act::relu;
  TORCH_ARG(Act, gate) = Act::sigmoid;
};

class SEModuleImpl : public torch::nn::Module {
 public:
  SEModuleImpl(int64_t channels, SEModuleOptions options = {});
  torch::Tensor forward(const torch::Tensor& x);

  Conv2d fc1{nullptr}, fc2{nullptr};
  BatchNormAct2d bn{nullptr};  // only with use_norm

 private:
  SEModuleOptions options_;
};
TORCH_MODULE(SEModule);

// ---------------------------------------------------------------------------------------------
// Heads and regularisation.

// Global average pooling to [N, C] (timm's SelectAdaptivePool2d("avg", flatten=True)).
inline torch::Tensor global_avg_pool(const torch::Tensor& x) {
  return x.mean({2, 3});
}

// timm DropPath (stochastic depth), per sample; identity when not training or p == 0.
torch::Tensor drop_path(const torch::Tensor& x, double p, bool training);

// timm.layers.ClassifierHead: global_pool (avg) -> drop -> fc. Child "fc" (Linear).
class ClassifierHeadImpl : public torch::nn::Module {
 public:
  ClassifierHeadImpl(int64_t in_features, int64_t num_classes, double drop_rate = 0.0);
  torch::Tensor forward(torch::Tensor x);  // [N, C, H, W] or already pooled [N, C]
  void reset(int64_t num_classes);

  torch::nn::Linear fc{nullptr};

 private:
  int64_t in_features_;
  double drop_rate_;
};
TORCH_MODULE(ClassifierHead);

// ---------------------------------------------------------------------------------------------
// Generic timm layers shared by several families (timm/layers: weight_init, drop, norm, mlp, eca,
// global_context, blur_pool). Parameter names are timm's.

// torch.nn.init.trunc_normal_(t, mean = 0, std, a, b): a normal truncated to [a, b] (absolute
// bounds), drawn by the inverse-CDF method as PyTorch does.
void trunc_normal_(torch::Tensor t, double std, double a = -2.0, double b = 2.0);

// timm.layers.trunc_normal_tf_(t, mean = 0, std, a = -2, b = 2): a standard normal truncated to
// [a, b], then scaled by std (the bounds are in standard deviations).
void trunc_normal_tf_(torch::Tensor t, double std, double a = -2.0, double b = 2.0);

// timm's usual transformer init: trunc_normal_(std) for every Linear and Conv2d weight, zero
// biases; LayerNorm weight 1, bias 0 (already so after construction). tf_style: trunc_normal_tf_.
void init_trunc_normal(torch::nn::Module& module, double std = 0.02, bool tf_style = false);

// timm.layers.calculate_drop_path_rates(rate, total): torch.linspace(0, rate, total) (float32,
// as timm computes it). Split it by stage for the "stagewise" variant.
std::vector<double> drop_path_rates(double drop_path_rate, int64_t total);
std::vector<std::vector<double>> drop_path_rates(double drop_path_rate,
                                                 const std::vector<int64_t>& depths);

// timm.layers.LayerNorm2d: LayerNorm over the channels of an NCHW tensor (permute to NHWC, norm,
// permute back). Entries "weight" and "bias" (when affine). timm's default eps is 1e-6; its
// models mix it with nn.LayerNorm's 1e-5, so pass it where a model differs.
class LayerNorm2dImpl : public torch::nn::Module {
 public:
  explicit LayerNorm2dImpl(int64_t dim, double eps = 1e-6, bool affine = true);
  torch::Tensor forward(const torch::Tensor& x);
  void pretty_print(std::ostream& stream) const override;

  torch::Tensor weight, bias;

 private:
  int64_t dim_;
  double eps_;
};
TORCH_MODULE(LayerNorm2d);

// A patchify stem (ConvNeXt, EdgeNeXt): "0" a patch x patch conv of stride patch with bias, "1"
// LayerNorm2d.
Sequential patchify_stem(int64_t in_chs, int64_t out_chs, int64_t patch, double eps);

// The stage of ConvNeXt and EdgeNeXt (timm's ConvNeXtStage, EdgeNeXtStage): "downsample", a
// LayerNorm2d and a k x k conv of stride k with bias (k = downsample_stride; 0: no downsample),
// then the given "blocks".
class NormConvStageImpl : public torch::nn::Module {
 public:
  NormConvStageImpl(int64_t in_chs, int64_t out_chs, int64_t downsample_stride, double eps,
                    Sequential blocks);
  torch::Tensor forward(torch::Tensor x);

  Sequential downsample{nullptr}, blocks{nullptr};
};
TORCH_MODULE(NormConvStage);

// timm.layers.GroupNorm1 (nn.GroupNorm(1, C)): normalises over C, H, W together. weight, bias.
class GroupNorm1Impl : public torch::nn::Module {
 public:
  explicit GroupNorm1Impl(int64_t channels, double eps = 1e-5);
  torch::Tensor forward(const torch::Tensor& x);
  torch::Tensor weight, bias;

 private:
  double eps_;
};
TORCH_MODULE(GroupNorm1);

// timm.layers.ConvMlp: fc1 (1x1 conv, bias), norm (LayerNorm2d, optional), act, drop, fc2 (bias).
class ConvMlpImpl : public torch::nn::Module {
 public:
  ConvMlpImpl(int64_t in_features, int64_t hidden_features, int64_t out_features, Act act,
              bool layer_norm, double drop = 0.0);
  torch::Tensor forward(const torch::Tensor& x);

  Conv2d fc1{nullptr}, fc2{nullptr};
  LayerNorm2d norm{nullptr};

 private:
  Act act_;
  double drop_;
};
TORCH_MODULE(ConvMlp);

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

// timm.layers.GlobalContext (GCNet): conv_attn (softmax attention pooling) or the mean ->
// mlp_scale / mlp_add (ConvMlp with LayerNorm2d) -> sigmoid-scale and/or add. timm's 'gc' is
// fuse_scale, 'gca' fuse_add. rd = make_divisible(channels * rd_ratio, rd_divisor,
// round_limit = 0) unless rd_channels is given.
struct GlobalContextOptions {
  TORCH_ARG(bool, use_attn) = true;
  TORCH_ARG(bool, fuse_add) = false;
  TORCH_ARG(bool, fuse_scale) = true;
  TORCH_ARG(double, rd_ratio) = 1.0 / 8;
  TORCH_ARG(std::optional<int64_t>, rd_channels) = std::nullopt;
  TORCH_ARG(int64_t, rd_divisor) = 1;
  TORCH_ARG(Act, act) = Act::relu;
  TORCH_ARG(Act, gate) = Act::sigmoid;
};

class GlobalContextImpl : public torch::nn::Module {
 public:
  GlobalContextImpl(int64_t channels, GlobalContextOptions options = {});
  torch::Tensor forward(const torch::Tensor& x);
  void reset_parameters();  // timm: conv_attn kaiming_normal (fan_in, relu), mlp_add.fc2 zero

  Conv2d conv_attn{nullptr};
  ConvMlp mlp_add{nullptr}, mlp_scale{nullptr};

 private:
  GlobalContextOptions options_;
};
TORCH_MODULE(GlobalContext);

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

// ---------------------------------------------------------------------------------------------
// Weight initialisation as timm's families do it (the equivalence tests overwrite all of it).

// kaiming_normal_(mode = fan_out, nonlinearity = relu) for every Conv2d weight, zero conv bias;
// BatchNorm weight 1, bias 0. (timm ResNet, VGG, DLA, ...)
void init_kaiming_fan_out(torch::nn::Module& module);

// timm efficientnet _init_weight_goog: conv N(0, sqrt(2 / fan_out)) with fan_out =
// kh * kw * out / groups; BatchNorm 1 / 0; Linear U(+-1/sqrt(out_features)), bias 0.
void init_weight_goog(torch::nn::Module& module);

// timm PVT v2 / Twins _init_weights: Linear trunc_normal_(.02), zero bias; Conv2d N(0,
// sqrt(2 / fan_out)) with fan_out = kh * kw * out / groups, zero bias.
void init_trunc_linear_fan_out_conv(torch::nn::Module& module);

}  // namespace pepr::models
