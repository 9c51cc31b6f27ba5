// timm/models/pvt_v2.py, natively (spatial-reduction attention, not the "linear" variant):
//   patch_embed (OverlapPatchEmbed: Conv2d k7 s4 p3 + nn.LayerNorm) -> stages.i (downsample for
//   i > 0: OverlapPatchEmbed k3 s2 p1; blocks: norm1 -> Attention (q, kv; keys and values from
//   the tokens reduced by sr: Conv2d k=s=sr_ratio + nn.LayerNorm) -> norm2 ->
//   MlpWithDepthwiseConv (fc1, 3x3 depthwise dwconv, GELU, fc2); norm) -> mean -> head (Linear).
// Norm eps: the blocks' and stages' norms are timm's LayerNorm (1e-6); the patch embeddings'
// and the attention's spatial-reduction norms are nn.LayerNorm (1e-5).
#include <cmath>
#include <vector>

#include <torch/torch.h>

#include "models/headed_classifier.hpp"
#include "models/layers/common.hpp"
#include "models/layers/transformer.hpp"
#include "models/model.hpp"
#include "models/registry.hpp"

namespace pepr::models {

namespace {

constexpr double kEps = 1e-6;       // timm.layers.LayerNorm
constexpr double kTorchEps = 1e-5;  // nn.LayerNorm

struct PvtV2Config {
  std::vector<int64_t> depths{3, 4, 6, 3};
  std::vector<int64_t> embed_dims{64, 128, 256, 512};
  std::vector<int64_t> num_heads{1, 2, 4, 8};
  std::vector<int64_t> sr_ratios{8, 4, 2, 1};
  std::vector<double> mlp_ratios{8.0, 8.0, 4.0, 4.0};
  bool qkv_bias = true;
};

class MlpWithDepthwiseConvImpl : public torch::nn::Module {
 public:
  MlpWithDepthwiseConvImpl(int64_t in, int64_t hidden, double drop) : drop_(drop) {
    fc1 = register_module("fc1", torch::nn::Linear(in, hidden));
    dwconv = register_module("dwconv",
                             Conv2d(ConvOptions(hidden, hidden, 3).depthwise(true).bias(true)));
    fc2 = register_module("fc2", torch::nn::Linear(hidden, in));
  }

  torch::Tensor forward(torch::Tensor x, int64_t H, int64_t W) {
    x = fc1->forward(x);
    const int64_t B = x.size(0), C = x.size(2);
    x = x.transpose(1, 2).reshape({B, C, H, W});
    x = dwconv->forward(x).flatten(2).transpose(1, 2);
    x = torch::gelu(x);
    if (drop_ > 0.0) x = torch::dropout(x, drop_, is_training());
    x = fc2->forward(x);
    if (drop_ > 0.0) x = torch::dropout(x, drop_, is_training());
    return x;
  }

  torch::nn::Linear fc1{nullptr}, fc2{nullptr};
  Conv2d dwconv{nullptr};

 private:
  double drop_;
};
TORCH_MODULE(MlpWithDepthwiseConv);

class PvtBlockImpl : public torch::nn::Module {
 public:
  PvtBlockImpl(int64_t dim, int64_t num_heads, double mlp_ratio, int64_t sr_ratio, bool qkv_bias,
               double drop_path)
      : drop_path_(drop_path) {
    norm1 = register_module("norm1", LayerNorm(dim, kEps));
    attn = register_module("attn", SpatialReductionAttention(dim, num_heads, sr_ratio, qkv_bias));
    norm2 = register_module("norm2", LayerNorm(dim, kEps));
    mlp = register_module(
        "mlp",
        MlpWithDepthwiseConv(dim, static_cast<int64_t>(static_cast<double>(dim) * mlp_ratio), 0.0));
  }

  torch::Tensor forward(torch::Tensor x, int64_t H, int64_t W) {
    x = x + drop_path(attn->forward(norm1->forward(x), H, W), drop_path_, is_training());
    return x + drop_path(mlp->forward(norm2->forward(x), H, W), drop_path_, is_training());
  }

  LayerNorm norm1{nullptr}, norm2{nullptr};
  SpatialReductionAttention attn{nullptr};
  MlpWithDepthwiseConv mlp{nullptr};

 private:
  double drop_path_;
};
TORCH_MODULE(PvtBlock);

// Conv2d (stride < kernel, padding k // 2) + nn.LayerNorm; output NHWC.
class OverlapPatchEmbedImpl : public torch::nn::Module {
 public:
  OverlapPatchEmbedImpl(int64_t patch_size, int64_t stride, int64_t in_chans, int64_t embed_dim) {
    proj = register_module("proj", Conv2d(ConvOptions(in_chans, embed_dim, patch_size)
                                              .stride(stride)
                                              .bias(true)
                                              .padding(torch::ExpandingArray<2>(patch_size / 2))));
    norm = register_module("norm", LayerNorm(embed_dim, kTorchEps));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    return norm->forward(proj->forward(x).permute({0, 2, 3, 1}));
  }

  Conv2d proj{nullptr};
  LayerNorm norm{nullptr};
};
TORCH_MODULE(OverlapPatchEmbed);

class PvtStageImpl : public torch::nn::Module {
 public:
  PvtStageImpl(int64_t dim, int64_t dim_out, int64_t depth, bool downsample_, int64_t num_heads,
               int64_t sr_ratio, double mlp_ratio, bool qkv_bias, const std::vector<double>& dpr) {
    if (downsample_)
      downsample = register_module("downsample", OverlapPatchEmbed(3, 2, dim, dim_out));
    blocks = register_module("blocks", torch::nn::ModuleList());
    for (int64_t i = 0; i < depth; ++i) {
      auto b =
          PvtBlock(dim_out, num_heads, mlp_ratio, sr_ratio, qkv_bias, dpr[static_cast<size_t>(i)]);
      blocks->push_back(b);
      block_list_.push_back(b);
    }
    norm = register_module("norm", LayerNorm(dim_out, kEps));
  }

  // NHWC in (from the patch embedding) or NCHW (from the previous stage); NCHW out.
  torch::Tensor forward(torch::Tensor x) {
    if (downsample) x = downsample->forward(x);
    const int64_t B = x.size(0), H = x.size(1), W = x.size(2), C = x.size(3);
    x = x.reshape({B, -1, C});
    for (auto& b : block_list_) x = b->forward(x, H, W);
    x = norm->forward(x);
    return x.reshape({B, H, W, -1}).permute({0, 3, 1, 2}).contiguous();
  }

  OverlapPatchEmbed downsample{nullptr};
  torch::nn::ModuleList blocks{nullptr};
  LayerNorm norm{nullptr};

 private:
  std::vector<PvtBlock> block_list_;
};
TORCH_MODULE(PvtStage);

class PyramidVisionTransformerV2 : public LinearHeadClassifier {
 public:
  PyramidVisionTransformerV2(const std::string& arch, const PvtV2Config& cfg,
                             const ModelOptions& options)
      : LinearHeadClassifier(arch, options, "head"), cfg_(cfg) {
    patch_embed_ = register_module("patch_embed",
                                   OverlapPatchEmbed(7, 4, options.in_chans, cfg.embed_dims[0]));
    const auto dpr = drop_path_rates(options.drop_path_rate, cfg.depths);
    stages_ = register_module("stages", torch::nn::ModuleList());
    int64_t prev = cfg.embed_dims[0];
    for (size_t i = 0; i < cfg.depths.size(); ++i) {
      auto s = PvtStage(prev, cfg.embed_dims[i], cfg.depths[i], i > 0, cfg.num_heads[i],
                        cfg.sr_ratios[i], cfg.mlp_ratios[i], cfg.qkv_bias, dpr[i]);
      stages_->push_back(s);
      stage_list_.push_back(s);
      prev = cfg.embed_dims[i];
    }
    set_num_features(prev);
    register_fc(prev);

    init_trunc_linear_fan_out_conv(*this);  // timm's _init_weights
  }

  torch::Tensor forward_features(torch::Tensor x) override {
    x = patch_embed_->forward(x);
    for (auto& s : stage_list_) x = s->forward(x);
    return x;
  }
  torch::Tensor pre_logits(torch::Tensor x) override { return x.mean({-1, -2}); }
  std::vector<std::string> first_conv_names() const override { return {"patch_embed.proj"}; }
  // Every spatial-reduction convolution (kernel = stride = sr_ratio) needs at least sr_ratio
  // tokens per side: the smallest size for which the stride-4 embedding and the stride-2
  // downsamplings leave that many.
  int64_t min_input_size() const override {
    for (int64_t s = 1;; ++s) {
      int64_t h = (s + 2 * 3 - 7) / 4 + 1;
      bool ok = h >= 1;
      for (size_t i = 0; ok && i < cfg_.depths.size(); ++i) {
        if (i > 0) h = (h + 2 - 3) / 2 + 1;
        ok = h >= std::max<int64_t>(1, cfg_.sr_ratios[i]);
      }
      if (ok) return s;
    }
  }

 private:
  PvtV2Config cfg_;
  OverlapPatchEmbed patch_embed_{nullptr};
  torch::nn::ModuleList stages_{nullptr};
  std::vector<PvtStage> stage_list_;
};

}  // namespace

void register_pvt_v2_models(Registry& r) {
  PvtV2Config c;
  c.depths = {2, 2, 2, 2};
  c.embed_dims = {32, 64, 160, 256};
  c.num_heads = {1, 2, 5, 8};
  r.add<PyramidVisionTransformerV2>("pvt_v2_b0", c);
}

}  // namespace pepr::models
