// Generic timm layers used by the ConvNeXt-era and transformer families (convnext, edgenext,
// crossvit, pvt_v2, metaformer, twins, sequencer, swin v2, maxxvit): layer norms, the ViT MLP and
// attention, the norm-first classifier head, timm's drop-path schedule and trunc_normal_ init.
// Parameter names are timm's so that state dicts load by name.
#pragma once

#include <cstdint>
#include <vector>

#include <torch/torch.h>

#include "models/layers/common.hpp"

namespace pepr::models {

// ---------------------------------------------------------------------------------------------
// Normalisation. Entries "weight" and "bias" (when affine). eps is always given explicitly
// because timm mixes nn.LayerNorm (1e-5) with its own LayerNorm / LayerNorm2d (1e-6).

// LayerNorm over the last dimension (nn.LayerNorm / timm.layers.LayerNorm).
class LayerNormImpl : public torch::nn::Module {
 public:
  LayerNormImpl(int64_t dim, double eps, bool affine = true);
  torch::Tensor forward(const torch::Tensor& x);
  void pretty_print(std::ostream& stream) const override;
  int64_t dim() const { return dim_; }

  torch::Tensor weight, bias;

 private:
  int64_t dim_;
  double eps_;
};
TORCH_MODULE(LayerNorm);

// ---------------------------------------------------------------------------------------------
// timm.layers.Mlp: fc1 -> act -> drop -> fc2 -> drop. With use_conv the two layers are 1x1
// nn.Conv2d (for NCHW input), else nn.Linear (channels last).
struct MlpOptions {
  MlpOptions(int64_t in_features, int64_t hidden_features)
      : in_features_(in_features), hidden_features_(hidden_features) {}
  TORCH_ARG(int64_t, in_features);
  TORCH_ARG(int64_t, hidden_features);
  TORCH_ARG(int64_t, out_features) = 0;  // 0: in_features
  TORCH_ARG(Act, act) = Act::gelu;       // nn.GELU: exact erf
  TORCH_ARG(bool, bias) = true;
  TORCH_ARG(double, drop) = 0.0;
  TORCH_ARG(bool, use_conv) = false;
};

class MlpImpl : public torch::nn::Module {
 public:
  explicit MlpImpl(MlpOptions options);
  torch::Tensor forward(torch::Tensor x);

  torch::nn::Linear fc1{nullptr}, fc2{nullptr};  // without use_conv
  Conv2d conv1{nullptr}, conv2{nullptr};         // with use_conv (registered as fc1, fc2)

 private:
  MlpOptions options_;
};
TORCH_MODULE(Mlp);

// ---------------------------------------------------------------------------------------------
// timm.layers.Attention (ViT multi-head self-attention, the unfused path that timm takes on
// PyTorch 1.13): qkv (Linear dim -> 3 dim), proj. Input [B, N, C].
class AttentionImpl : public torch::nn::Module {
 public:
  AttentionImpl(int64_t dim, int64_t num_heads, bool qkv_bias = false, double attn_drop = 0.0,
                double proj_drop = 0.0);
  torch::Tensor forward(const torch::Tensor& x);

  torch::nn::Linear qkv{nullptr}, proj{nullptr};

 private:
  int64_t num_heads_;
  int64_t head_dim_;
  double scale_;
  double attn_drop_;
  double proj_drop_;
};
TORCH_MODULE(Attention);

// Spatial-reduction attention: PVT v2's Attention and Twins' GlobalSubSampleAttn (same names and
// numerics). q from every token; keys and values from the tokens reduced by sr (Conv2d
// k = s = sr_ratio, then nn.LayerNorm, eps 1e-5) when sr_ratio > 1. Input [B, H * W, C].
class SpatialReductionAttentionImpl : public torch::nn::Module {
 public:
  SpatialReductionAttentionImpl(int64_t dim, int64_t num_heads, int64_t sr_ratio,
                                bool qkv_bias = true, double attn_drop = 0.0,
                                double proj_drop = 0.0);
  torch::Tensor forward(torch::Tensor x, int64_t H, int64_t W);

  torch::nn::Linear q{nullptr}, kv{nullptr}, proj{nullptr};
  Conv2d sr{nullptr};
  LayerNorm norm{nullptr};

 private:
  int64_t num_heads_, head_dim_;
  double scale_, attn_drop_, proj_drop_;
};
TORCH_MODULE(SpatialReductionAttention);

// timm.models.vision_transformer.Block (pre-norm, no layer scale): norm1 -> attn -> drop path ->
// + x; norm2 -> mlp -> drop path -> + x. Norms are LayerNorm with the given eps.
struct TransformerBlockOptions {
  TransformerBlockOptions(int64_t dim, int64_t num_heads) : dim_(dim), num_heads_(num_heads) {}
  TORCH_ARG(int64_t, dim);
  TORCH_ARG(int64_t, num_heads);
  TORCH_ARG(double, mlp_ratio) = 4.0;
  TORCH_ARG(bool, qkv_bias) = false;
  TORCH_ARG(double, norm_eps) = 1e-6;
  TORCH_ARG(double, proj_drop) = 0.0;
  TORCH_ARG(double, attn_drop) = 0.0;
  TORCH_ARG(double, drop_path) = 0.0;
  TORCH_ARG(Act, act) = Act::gelu;
};

class TransformerBlockImpl : public torch::nn::Module {
 public:
  explicit TransformerBlockImpl(TransformerBlockOptions options);
  torch::Tensor forward(torch::Tensor x);

  LayerNorm norm1{nullptr}, norm2{nullptr};
  Attention attn{nullptr};
  Mlp mlp{nullptr};

 private:
  double drop_path_;
};
TORCH_MODULE(TransformerBlock);

// Softmax attention of q [.., Nq, d] against k, v [.., Nk, d] with q already scaled, dropout on
// the weights in training.
torch::Tensor softmax_attention(const torch::Tensor& q, const torch::Tensor& k,
                                const torch::Tensor& v, double attn_drop, bool training);

// Swin-style windows: [B, H, W, C] -> [B * H/ws * W/ws, ws, ws, C] (H and W multiples of ws), and
// back to [B, H, W, C].
torch::Tensor window_partition(const torch::Tensor& x, int64_t ws);
torch::Tensor window_reverse(const torch::Tensor& windows, int64_t ws, int64_t H, int64_t W);

// ---------------------------------------------------------------------------------------------
// timm.layers.NormMlpClassifierHead (pool_type 'avg'): global average pool (keeping H, W = 1),
// norm (LayerNorm2d), flatten, optional pre_logits (fc + act), dropout, fc.
class NormMlpClassifierHeadImpl : public torch::nn::Module {
 public:
  NormMlpClassifierHeadImpl(int64_t in_features, int64_t num_classes, double drop_rate,
                            double norm_eps, int64_t hidden_size = 0, Act act = Act::tanh);
  torch::Tensor forward(torch::Tensor x);  // [N, C, H, W]
  void reset(int64_t num_classes);

  LayerNorm2d norm{nullptr};
  torch::nn::Linear pre_logits_fc{nullptr};  // "pre_logits.fc" when hidden_size > 0
  torch::nn::Linear fc{nullptr};

 private:
  int64_t num_features_;
  double drop_rate_;
  Act act_;
};
TORCH_MODULE(NormMlpClassifierHead);

}  // namespace pepr::models
