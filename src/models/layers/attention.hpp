// timm attention layers used by the ByobNet families (byobnet, byoanet, mobilevit), each a port of
// the timm layer of the same name with the same parameter names: BatNonLocalAttn, HaloAttn,
// BottleneckAttn, LambdaLayer. (The smaller shared ones, EcaModule, GlobalContext, LayerNorm2d,
// GroupNorm1, ConvMlp, are in layers/common.hpp.)
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include <torch/torch.h>

#include "models/layers/common.hpp"

namespace pepr::models {

// timm.layers.BatNonLocalAttn (with its BilinearAttnTransform "ba"): conv1 -> ba -> conv2 ->
// Dropout2d -> + x. The feature map's height and width must be multiples of block_size.
class BilinearAttnTransformImpl : public torch::nn::Module {
 public:
  BilinearAttnTransformImpl(int64_t in_channels, int64_t block_size, int64_t groups, Act act);
  torch::Tensor forward(const torch::Tensor& x);

  ConvBnAct conv1{nullptr};
  Conv2d conv_p{nullptr}, conv_q{nullptr};
  ConvBnAct conv2{nullptr};

 private:
  int64_t block_size_;
  int64_t groups_;
};
TORCH_MODULE(BilinearAttnTransform);

class BatNonLocalAttnImpl : public torch::nn::Module {
 public:
  BatNonLocalAttnImpl(int64_t in_channels, int64_t block_size = 7, int64_t groups = 2,
                      double rd_ratio = 0.25, int64_t rd_divisor = 8, double drop_rate = 0.2,
                      Act act = Act::relu);
  torch::Tensor forward(const torch::Tensor& x);
  int64_t block_size() const { return block_size_; }

  ConvBnAct conv1{nullptr};
  BilinearAttnTransform ba{nullptr};
  ConvBnAct conv2{nullptr};

 private:
  int64_t block_size_;
  double drop_rate_;
};
TORCH_MODULE(BatNonLocalAttn);

// ---------------------------------------------------------------------------------------------
// Self-attention layers (ByobNet's self_attn): each maps [B, dim, H, W] to [B, dim_out, H / s,
// W / s].

// timm.layers.halo_attn.HaloAttn: blocked local attention with a halo; H and W must be multiples
// of block_size. Entries: q.weight, kv.weight, pos_embed.height_rel, pos_embed.width_rel.
struct HaloAttnOptions {
  TORCH_ARG(std::optional<int64_t>, dim_out) = std::nullopt;
  TORCH_ARG(int64_t, stride) = 1;
  TORCH_ARG(int64_t, num_heads) = 8;
  TORCH_ARG(std::optional<int64_t>, dim_head) = std::nullopt;
  TORCH_ARG(int64_t, block_size) = 8;
  TORCH_ARG(int64_t, halo_size) = 3;
  TORCH_ARG(double, qk_ratio) = 1.0;
  TORCH_ARG(bool, qkv_bias) = false;
  TORCH_ARG(bool, avg_down) = false;
  TORCH_ARG(bool, scale_pos_embed) = false;
};

class HaloAttnImpl : public torch::nn::Module {
 public:
  HaloAttnImpl(int64_t dim, HaloAttnOptions options = {});
  torch::Tensor forward(const torch::Tensor& x);
  void reset_parameters();
  int64_t block_size() const { return block_size_; }

  Conv2d q{nullptr}, kv{nullptr};
  std::shared_ptr<torch::nn::Module> pos_embed;
  torch::Tensor height_rel, width_rel;  // pos_embed.height_rel / width_rel

 private:
  HaloAttnOptions options_;
  int64_t dim_head_qk_, dim_head_v_, dim_out_qk_, dim_out_v_;
  double scale_;
  int64_t block_size_, block_size_ds_, halo_size_, win_size_, block_stride_;
  bool use_avg_pool_;
};
TORCH_MODULE(HaloAttn);

// timm.layers.bottleneck_attn.BottleneckAttn: global multi-head attention with relative position
// logits for a fixed feature size. Entries: qkv.weight, pos_embed.height_rel / width_rel.
struct BottleneckAttnOptions {
  TORCH_ARG(std::optional<int64_t>, dim_out) = std::nullopt;
  TORCH_ARG(int64_t, stride) = 1;
  TORCH_ARG(int64_t, num_heads) = 4;
  TORCH_ARG(std::optional<int64_t>, dim_head) = std::nullopt;
  TORCH_ARG(double, qk_ratio) = 1.0;
  TORCH_ARG(bool, qkv_bias) = false;
  TORCH_ARG(bool, scale_pos_embed) = false;
};

class BottleneckAttnImpl : public torch::nn::Module {
 public:
  BottleneckAttnImpl(int64_t dim, std::array<int64_t, 2> feat_size,
                     BottleneckAttnOptions options = {});
  torch::Tensor forward(const torch::Tensor& x);
  void reset_parameters();

  Conv2d qkv{nullptr};
  std::shared_ptr<torch::nn::Module> pos_embed;
  torch::Tensor height_rel, width_rel;

 private:
  BottleneckAttnOptions options_;
  std::array<int64_t, 2> feat_size_;
  int64_t dim_head_qk_, dim_head_v_, dim_out_qk_, dim_out_v_;
  double scale_;
};
TORCH_MODULE(BottleneckAttn);

// timm.layers.lambda_layer.LambdaLayer. With r set: a local lambda convolution (conv_lambda,
// Conv3d) for positions, any input size; with r unset: a relative position embedding (pos_emb)
// for the fixed feat_size.
struct LambdaLayerOptions {
  TORCH_ARG(std::optional<int64_t>, dim_out) = std::nullopt;
  TORCH_ARG(int64_t, stride) = 1;
  TORCH_ARG(int64_t, num_heads) = 4;
  TORCH_ARG(std::optional<int64_t>, dim_head) = 16;
  TORCH_ARG(std::optional<int64_t>, r) = 9;
  TORCH_ARG(double, qk_ratio) = 1.0;
  TORCH_ARG(bool, qkv_bias) = false;
};

class LambdaLayerImpl : public torch::nn::Module {
 public:
  LambdaLayerImpl(int64_t dim, std::optional<std::array<int64_t, 2>> feat_size,
                  LambdaLayerOptions options = {});
  torch::Tensor forward(const torch::Tensor& x);
  void reset_parameters();

  torch::Tensor pos_emb;  // relative position variant only
  Conv2d qkv{nullptr};
  BatchNormAct2d norm_q{nullptr}, norm_v{nullptr};
  std::shared_ptr<torch::nn::Module> conv_lambda;  // local lambda conv variant only
  torch::Tensor conv_lambda_weight, conv_lambda_bias;

 private:
  LambdaLayerOptions options_;
  int64_t dim_qk_, dim_v_, num_heads_;
  std::array<int64_t, 2> feat_size_{0, 0};
  torch::Tensor rel_pos_indices_;  // non-persistent in timm: not in the state dict
};
TORCH_MODULE(LambdaLayer);

}  // namespace pepr::models
