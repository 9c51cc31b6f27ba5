// timm's EfficientNet builder (timm/models/_efficientnet_builder.py) and its blocks
// (_efficientnet_blocks.py): the machinery behind EfficientNet, MobileNetV2/V3, MnasNet, FBNet,
// SPNASNet, HardCoReNAS, TinyNet, ... A model is a list of stages, each a list of timm block
// strings such as "ir_r2_k3_s2_e6_c24_se0.25"; decode_arch_def + build_efficientnet_stages turn
// it into modules with timm's names (blocks.<stage>.<block>.conv_pw, ...).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "models/layers/common.hpp"

namespace pepr::models {

// One decoded block string. Options (timm's _decode_block_str):
//   type  ds | dsa | ir | er | cn       (depthwise-separable, ds with pw act and no skip,
//                                        inverted residual, edge residual, conv-bn-act)
//   r<n>  repeats        k<n> kernel (dw kernel for ds/ir, expansion kernel for er, cn kernel)
//   s<n>  stride         e<x> expansion ratio      c<n> output channels
//   se<x> squeeze-excite ratio      a<n> ir expansion (pw) kernel     p<n> pw-linear kernel
//   fc<n> er forced in chs          noskip / skip      n<act>: nre relu, nr6 relu6,
//   nhs hard_swish, nsw swish, nmi mish (block activation overriding the model's)
// Mixed kernels ("k3.5.7", MixNet), CondConv ("cc"), space-to-depth ("d") and "uir"/"mqa"/"mha"
// blocks are not supported yet: decoding them throws pepr::Error.
struct BlockArgs {
  std::string block_type;
  int64_t out_chs = 0;
  int64_t stride = 1;
  std::optional<Act> act;
  int64_t dw_kernel_size = 3;
  int64_t exp_kernel_size = 1;
  int64_t pw_kernel_size = 1;
  int64_t kernel_size = 3;  // cn
  double exp_ratio = 1.0;
  double se_ratio = 0.0;
  bool noskip = false;
  bool skip = false;    // cn: residual when shapes allow
  bool pw_act = false;  // dsa
  int64_t force_in_chs = 0;
  int64_t dilation = 1;  // set by the builder
};

// Decodes one block string; repeats receives r<n>.
BlockArgs decode_block_str(const std::string& block_str, int64_t& repeats);

enum class DepthTrunc { ceil, round };

// timm's decode_arch_def: stages of block strings -> stages of blocks, repeats scaled by
// depth_multiplier (timm's _scale_stage_depth, Python's round()).
std::vector<std::vector<BlockArgs>> decode_arch_def(
    const std::vector<std::vector<std::string>>& arch_def, double depth_multiplier = 1.0,
    DepthTrunc depth_trunc = DepthTrunc::ceil, bool fix_first_last = false);
// The same with one depth multiplier per stage (timm's tuple depth_multiplier, e.g.
// efficientnetv2_rw_m); depth_multipliers.size() must equal arch_def.size().
std::vector<std::vector<BlockArgs>> decode_arch_def(
    const std::vector<std::vector<std::string>>& arch_def,
    const std::vector<double>& depth_multipliers, DepthTrunc depth_trunc = DepthTrunc::ceil,
    bool fix_first_last = false);

// timm's round_channels: channels unchanged when multiplier is 0, else
// make_divisible(channels * multiplier, divisor, channel_min, round_limit).
int64_t round_channels(double channels, double multiplier = 1.0, int64_t divisor = 8,
                       std::optional<int64_t> channel_min = {}, double round_limit = 0.9);

// Makes the squeeze-excite module of a block: (channels it acts on, rd_ratio, block activation).
using SeFactory = std::function<torch::nn::AnyModule(int64_t channels, double rd_ratio, Act act)>;

// EfficientNet's SE: SqueezeExcite(rd = py_round(chs * rd_ratio), act = the block's, sigmoid).
SeFactory efficientnet_se();
// MobileNetV3's SE: rd = make_divisible(chs * rd_ratio, 8), relu, hard_sigmoid gate.
SeFactory mobilenetv3_se();
// Any timm partial(SqueezeExcite, gate_layer = gate, force_act_layer = force_act,
// rd_round_fn = rd_round_fn): rd = rd_round_fn(chs * rd_ratio) (Python's round when null), act =
// force_act or the block's.
SeFactory squeeze_excite_se(Act gate = Act::sigmoid, std::optional<Act> force_act = std::nullopt,
                            std::function<int64_t(double)> rd_round_fn = nullptr);
// timm's se_layer = 'gc' (GlobalContext with its defaults; act = the block's).
SeFactory global_context_se();

struct BuilderOptions {
  int64_t output_stride = 32;  // 8 or 16 dilate the later stages instead of striding
  std::string pad_type;        // "", "same" (tf_ variants), "valid"
  std::function<int64_t(double)> round_chs_fn = [](double c) { return round_channels(c); };
  bool se_from_exp = false;  // false: se_ratio is relative to the block input (EfficientNet)
  Act act = Act::relu;       // the model's activation; blocks may override it
  SeFactory se_layer = efficientnet_se();  // null: ignore se ratios
  double drop_path_rate = 0.0;
};

// The builder options of an EfficientNet-style model config (EfficientNetConfig,
// MobileNetV3Config): its padding, channel rounding, SE placement, activation and SE layer.
template <class Config>
BuilderOptions builder_options(const Config& cfg, double drop_path_rate) {
  return {.pad_type = cfg.pad_type,
          .round_chs_fn = [cfg](double c) { return cfg.round_chs(c); },
          .se_from_exp = cfg.se_from_exp,
          .act = cfg.act,
          .se_layer = cfg.se_layer,
          .drop_path_rate = drop_path_rate};
}

// The stem's width: stem_size, through the config's channel rounding unless fix_stem.
template <class Config>
int64_t stem_channels(const Config& cfg) {
  return cfg.fix_stem ? cfg.stem_size : cfg.round_chs(static_cast<double>(cfg.stem_size));
}

struct BuiltStages {
  Sequential blocks;  // Sequential of stage Sequentials: "blocks.i.j" names
  int64_t out_chs = 0;
};

// timm's EfficientNetBuilder.__call__: in_chs is the stem's output.
BuiltStages build_efficientnet_stages(int64_t in_chs, std::vector<std::vector<BlockArgs>> stages,
                                      const BuilderOptions& options);

// ---------------------------------------------------------------------------------------------
// The blocks. Arguments after the builder has resolved channels, act, SE and drop path.

struct BlockConfig {
  BlockArgs args;
  int64_t in_chs = 0;
  Act act = Act::relu;
  std::string pad_type;
  SeFactory se_layer;  // null: no SE
  double se_ratio = 0.0;
  double drop_path_rate = 0.0;
};

// ds / dsa: conv_dw, bn1, [se], conv_pw, bn2 (act only for dsa).
class DepthwiseSeparableImpl : public torch::nn::Module {
 public:
  explicit DepthwiseSeparableImpl(const BlockConfig& c);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  Conv2d conv_dw_{nullptr}, conv_pw_{nullptr};
  BatchNormAct2d bn1_{nullptr}, bn2_{nullptr};
  torch::nn::AnyModule se_;
  bool has_skip_;
  double drop_path_rate_;
};
TORCH_MODULE(DepthwiseSeparable);

// ir: conv_pw, bn1, conv_dw, bn2, [se], conv_pwl, bn3 (no act).
class InvertedResidualImpl : public torch::nn::Module {
 public:
  explicit InvertedResidualImpl(const BlockConfig& c);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  Conv2d conv_pw_{nullptr}, conv_dw_{nullptr}, conv_pwl_{nullptr};
  BatchNormAct2d bn1_{nullptr}, bn2_{nullptr}, bn3_{nullptr};
  torch::nn::AnyModule se_;
  bool has_skip_;
  double drop_path_rate_;
};
TORCH_MODULE(InvertedResidual);

// er: conv_exp (full conv), bn1, [se], conv_pwl, bn2 (no act).
class EdgeResidualImpl : public torch::nn::Module {
 public:
  explicit EdgeResidualImpl(const BlockConfig& c);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  Conv2d conv_exp_{nullptr}, conv_pwl_{nullptr};
  BatchNormAct2d bn1_{nullptr}, bn2_{nullptr};
  torch::nn::AnyModule se_;
  bool has_skip_;
  double drop_path_rate_;
};
TORCH_MODULE(EdgeResidual);

// cn: conv, bn1 (timm _efficientnet_blocks.ConvBnAct).
class ConvBnActBlockImpl : public torch::nn::Module {
 public:
  explicit ConvBnActBlockImpl(const BlockConfig& c);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  Conv2d conv_{nullptr};
  BatchNormAct2d bn1_{nullptr};
  bool has_skip_;
  double drop_path_rate_;
};
TORCH_MODULE(ConvBnActBlock);

}  // namespace pepr::models
