// timm/models/mobilevit.py, natively: MobileViT (v1, transformer blocks on unfolded patches) and
// MobileViTv2 (separable linear self-attention) blocks on timm's ByobNet (byobnet.cpp).
#include <cmath>

#include "models/byobnet.hpp"
#include "models/layers/attention.hpp"
#include "models/registry.hpp"

namespace pepr::models {

namespace {

using byob::BlockArgs;
using byob::BlockBase;
using byob::BlockCfg;
using byob::BlockKwargs;
using byob::conv_norm_act;
using byob::ModelCfg;

// ---------------------------------------------------------------------------------------------
// MobileViT v1: timm's vision_transformer Block (pre-norm, LayerNorm eps 1e-5, Attention with
// qkv bias, Mlp with the network's activation).

class TransformerBlockImpl : public torch::nn::Module {
 public:
  TransformerBlockImpl(int64_t dim, int64_t num_heads, double mlp_ratio, Act act,
                       double drop_path_rate)
      : dim_(dim), num_heads_(num_heads), act_(act), drop_path_rate_(drop_path_rate) {
    norm1 = register_module("norm1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim})));
    attn = register_module("attn", std::make_shared<torch::nn::Module>("Attention"));
    qkv = attn->register_module("qkv", torch::nn::Linear(dim, dim * 3));
    proj = attn->register_module("proj", torch::nn::Linear(dim, dim));
    norm2 = register_module("norm2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim})));
    mlp = register_module("mlp", std::make_shared<torch::nn::Module>("Mlp"));
    const auto hidden = static_cast<int64_t>(static_cast<double>(dim) * mlp_ratio);
    fc1 = mlp->register_module("fc1", torch::nn::Linear(dim, hidden));
    fc2 = mlp->register_module("fc2", torch::nn::Linear(hidden, dim));
  }

  torch::Tensor forward(torch::Tensor x) {
    x = x + drop_path(attention(norm1->forward(x)), drop_path_rate_, is_training());
    auto h = apply_act(act_, fc1->forward(norm2->forward(x)));
    return x + drop_path(fc2->forward(h), drop_path_rate_, is_training());
  }

  torch::nn::LayerNorm norm1{nullptr}, norm2{nullptr};
  std::shared_ptr<torch::nn::Module> attn, mlp;
  torch::nn::Linear qkv{nullptr}, proj{nullptr}, fc1{nullptr}, fc2{nullptr};

 private:
  // timm's Attention without fused attention (PyTorch 1.13 has no scaled_dot_product_attention).
  torch::Tensor attention(const torch::Tensor& x) {
    const int64_t B = x.size(0), N = x.size(1);
    const int64_t head_dim = dim_ / num_heads_;
    auto t = qkv->forward(x).reshape({B, N, 3, num_heads_, head_dim}).permute({2, 0, 3, 1, 4});
    auto q = t[0], k = t[1], v = t[2];
    q = q * std::pow(static_cast<double>(head_dim), -0.5);
    auto a = torch::matmul(q, k.transpose(-2, -1)).softmax(-1);
    auto y = torch::matmul(a, v).transpose(1, 2).reshape({B, N, dim_});
    return proj->forward(y);
  }

  int64_t dim_, num_heads_;
  Act act_;
  double drop_path_rate_;
};
TORCH_MODULE(TransformerBlock);

class MobileVitBlockImpl : public BlockBase {
 public:
  explicit MobileVitBlockImpl(const BlockArgs& a) : patch_size_(a.kw.patch_size) {
    const int64_t groups = a.group_size == 0 ? 1 : a.in_chs / a.group_size;
    const int64_t out_chs = a.out_chs ? a.out_chs : a.in_chs;
    const int64_t dim = a.kw.transformer_dim.value_or(
        make_divisible(a.bottle_ratio * static_cast<double>(a.in_chs)));
    conv_kxk = register_module("conv_kxk", conv_norm_act(a.in_chs, a.in_chs, a.kernel_size,
                                                         a.stride, groups, a.layers.act));
    conv_1x1 = register_module("conv_1x1", create_conv2d(a.in_chs, dim, 1));
    transformer = register_module("transformer", torch::nn::ModuleList());
    for (int64_t i = 0; i < a.kw.transformer_depth; ++i) {
      auto block =
          TransformerBlock(dim, /*num_heads=*/4, /*mlp_ratio=*/2.0, a.layers.act, a.drop_path_rate);
      transformer->push_back(block);
      blocks_.push_back(block);
    }
    norm = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim})));
    conv_proj = register_module("conv_proj", conv_norm_act(dim, out_chs, 1, 1, 1, a.layers.act));
    conv_fusion = register_module("conv_fusion", conv_norm_act(a.in_chs + out_chs, out_chs,
                                                               a.kernel_size, 1, 1, a.layers.act));
  }

  torch::Tensor forward(torch::Tensor input) override {
    auto x = conv_1x1->forward(conv_kxk->forward(input));
    const int64_t ph = patch_size_, pw = patch_size_;
    const int64_t B = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
    const int64_t new_h = (H + ph - 1) / ph * ph, new_w = (W + pw - 1) / pw * pw;
    const int64_t nph = new_h / ph, npw = new_w / pw, N = nph * npw, P = ph * pw;
    const bool interpolate = new_h != H || new_w != W;
    namespace F = torch::nn::functional;
    if (interpolate) {
      x = F::interpolate(x, F::InterpolateFuncOptions()
                                .size(std::vector<int64_t>{new_h, new_w})
                                .mode(torch::kBilinear)
                                .align_corners(false));
    }
    // [B, C, H, W] -> [B * C * n_h, n_w, p_h, p_w] -> [B * P, N, C]
    x = x.reshape({B * C * nph, ph, npw, pw}).transpose(1, 2);
    x = x.reshape({B, C, N, P}).transpose(1, 3).reshape({B * P, N, -1});
    for (auto& block : blocks_) x = block->forward(x);
    x = norm->forward(x);
    // [B * P, N, C] -> [B, C, H, W]
    x = x.contiguous().view({B, P, N, -1});
    x = x.transpose(1, 3).reshape({B * C * nph, npw, ph, pw});
    x = x.transpose(1, 2).reshape({B, C, nph * ph, npw * pw});
    if (interpolate) {
      x = F::interpolate(x, F::InterpolateFuncOptions()
                                .size(std::vector<int64_t>{H, W})
                                .mode(torch::kBilinear)
                                .align_corners(false));
    }
    x = conv_proj->forward(x);
    return conv_fusion->forward(torch::cat({input, x}, 1));
  }

  ConvBnAct conv_kxk{nullptr};
  Conv2d conv_1x1{nullptr};
  torch::nn::ModuleList transformer{nullptr};
  torch::nn::LayerNorm norm{nullptr};
  ConvBnAct conv_proj{nullptr}, conv_fusion{nullptr};

 private:
  int64_t patch_size_;
  std::vector<TransformerBlock> blocks_;
};

// ---------------------------------------------------------------------------------------------
// MobileViT v2: LinearTransformerBlock (GroupNorm1, LinearSelfAttention, ConvMlp) on [B, C, P, N].

class LinearTransformerBlockImpl : public torch::nn::Module {
 public:
  LinearTransformerBlockImpl(int64_t dim, double mlp_ratio, Act act, double drop_path_rate)
      : dim_(dim), drop_path_rate_(drop_path_rate) {
    norm1 = register_module("norm1", GroupNorm1(dim));
    attn = register_module("attn", std::make_shared<torch::nn::Module>("Attention"));
    qkv_proj =
        attn->register_module("qkv_proj", create_conv2d(dim, 1 + 2 * dim, 1, 1, 1, 1, "", true));
    out_proj = attn->register_module("out_proj", create_conv2d(dim, dim, 1, 1, 1, 1, "", true));
    norm2 = register_module("norm2", GroupNorm1(dim));
    const auto hidden = static_cast<int64_t>(static_cast<double>(dim) * mlp_ratio);
    mlp = register_module("mlp", ConvMlp(dim, hidden, dim, act, /*layer_norm=*/false));
  }

  torch::Tensor forward(torch::Tensor x) {
    x = x + drop_path(attention(norm1->forward(x)), drop_path_rate_, is_training());
    return x + drop_path(mlp->forward(norm2->forward(x)), drop_path_rate_, is_training());
  }

  GroupNorm1 norm1{nullptr}, norm2{nullptr};
  std::shared_ptr<torch::nn::Module> attn;
  Conv2d qkv_proj{nullptr}, out_proj{nullptr};
  ConvMlp mlp{nullptr};

 private:
  // timm's LinearSelfAttention._forward_self_attn.
  torch::Tensor attention(const torch::Tensor& x) {
    auto parts = torch::split_with_sizes(qkv_proj->forward(x), {1, dim_, dim_}, 1);
    auto context_scores = torch::softmax(parts[0], -1);
    auto context_vector = (parts[1] * context_scores).sum(-1, /*keepdim=*/true);
    auto out = torch::relu(parts[2]) * context_vector.expand_as(parts[2]);
    return out_proj->forward(out);
  }

  int64_t dim_;
  double drop_path_rate_;
};
TORCH_MODULE(LinearTransformerBlock);

class MobileVitV2BlockImpl : public BlockBase {
 public:
  explicit MobileVitV2BlockImpl(const BlockArgs& a) : patch_size_(a.kw.patch_size) {
    const int64_t groups = a.group_size == 0 ? 1 : a.in_chs / a.group_size;
    const int64_t out_chs = a.out_chs ? a.out_chs : a.in_chs;
    const int64_t dim = a.kw.transformer_dim.value_or(
        make_divisible(a.bottle_ratio * static_cast<double>(a.in_chs)));
    conv_kxk = register_module(
        "conv_kxk", conv_norm_act(a.in_chs, a.in_chs, a.kernel_size, 1, groups, a.layers.act));
    conv_1x1 = register_module("conv_1x1", create_conv2d(a.in_chs, dim, 1));
    transformer = register_module("transformer", torch::nn::ModuleList());
    for (int64_t i = 0; i < a.kw.transformer_depth; ++i) {
      auto block = LinearTransformerBlock(dim, /*mlp_ratio=*/2.0, a.layers.act, a.drop_path_rate);
      transformer->push_back(block);
      blocks_.push_back(block);
    }
    norm = register_module("norm", GroupNorm1(dim));
    conv_proj = register_module("conv_proj", conv_norm_act(dim, out_chs, 1, 1, 1, Act::identity));
  }

  torch::Tensor forward(torch::Tensor x) override {
    const int64_t ph = patch_size_, pw = patch_size_;
    const int64_t B = x.size(0), H = x.size(2), W = x.size(3);
    const int64_t new_h = (H + ph - 1) / ph * ph, new_w = (W + pw - 1) / pw * pw;
    const int64_t nph = new_h / ph, npw = new_w / pw, N = nph * npw;
    if (new_h != H || new_w != W) {
      namespace F = torch::nn::functional;
      x = F::interpolate(x, F::InterpolateFuncOptions()
                                .size(std::vector<int64_t>{new_h, new_w})
                                .mode(torch::kBilinear)
                                .align_corners(true));
    }
    x = conv_1x1->forward(conv_kxk->forward(x));
    const int64_t C = x.size(1);
    // [B, C, H, W] -> [B, C, P, N]
    x = x.reshape({B, C, nph, ph, npw, pw}).permute({0, 1, 3, 5, 2, 4});
    x = x.reshape({B, C, -1, N});
    for (auto& block : blocks_) x = block->forward(x);
    x = norm->forward(x);
    // [B, C, P, N] -> [B, C, H, W]
    x = x.reshape({B, C, ph, pw, nph, npw}).permute({0, 1, 4, 2, 5, 3});
    x = x.reshape({B, C, nph * ph, npw * pw});
    return conv_proj->forward(x);
  }

  ConvBnAct conv_kxk{nullptr};
  Conv2d conv_1x1{nullptr};
  torch::nn::ModuleList transformer{nullptr};
  GroupNorm1 norm{nullptr};
  ConvBnAct conv_proj{nullptr};

 private:
  int64_t patch_size_;
  std::vector<LinearTransformerBlock> blocks_;
};

// ---------------------------------------------------------------------------------------------
// Configurations.

BlockCfg inverted_residual(int64_t d, double c, int64_t s, double br = 4.0) {
  BlockCfg b;
  b.type = "bottle";
  b.d = d;
  b.c = c;
  b.s = s;
  b.gs = 1;
  b.br = br;
  BlockKwargs kw;
  kw.bottle_in = true;
  kw.linear_out = true;
  b.block_kwargs = kw;
  return b;
}

std::vector<BlockCfg> mobilevit_stage(int64_t d, double c, int64_t s, int64_t transformer_dim,
                                      int64_t depth, int64_t patch_size, double br = 4.0) {
  BlockCfg m;
  m.type = "mobilevit";
  m.d = 1;
  m.c = c;
  m.s = 1;
  BlockKwargs kw;
  kw.transformer_dim = transformer_dim;
  kw.transformer_depth = depth;
  kw.patch_size = patch_size;
  m.block_kwargs = kw;
  m.factory = [](const BlockArgs& a) { return std::make_shared<MobileVitBlockImpl>(a); };
  return {inverted_residual(d, c, s, br), m};
}

std::vector<BlockCfg> mobilevitv2_stage(int64_t d, double c, int64_t s, int64_t depth,
                                        int64_t patch_size = 2, double br = 2.0,
                                        double transformer_br = 0.5) {
  BlockCfg m;
  m.type = "mobilevit2";
  m.d = 1;
  m.c = c;
  m.s = 1;
  m.br = transformer_br;
  m.gs = 1;
  BlockKwargs kw;
  kw.transformer_depth = depth;
  kw.patch_size = patch_size;
  m.block_kwargs = kw;
  m.factory = [](const BlockArgs& a) { return std::make_shared<MobileVitV2BlockImpl>(a); };
  return {inverted_residual(d, c, s, br), m};
}

ModelCfg mobilevitv2_cfg(double multiplier) {
  std::array<double, 5> chs = {64, 128, 256, 384, 512};
  if (multiplier != 1.0) {
    for (auto& c : chs) c = std::trunc(c * multiplier);  // int(c * multiplier)
  }
  ModelCfg cfg;
  cfg.blocks = {{inverted_residual(1, chs[0], 1, 2.0)},
                {inverted_residual(2, chs[1], 2, 2.0)},
                mobilevitv2_stage(1, chs[2], 2, 2),
                mobilevitv2_stage(1, chs[3], 2, 4),
                mobilevitv2_stage(1, chs[4], 2, 3)};
  cfg.stem_chs = {static_cast<int64_t>(32 * multiplier)};
  cfg.stem_type = "3x3";
  cfg.stem_pool = "";
  cfg.downsample = "";
  cfg.act = Act::silu;
  cfg.first_conv = {"stem.conv"};
  return cfg;
}

}  // namespace

void register_mobilevit_models(Registry& r) {
  using byob::register_model;
  {
    ModelCfg cfg;
    cfg.blocks = {{inverted_residual(1, 32, 1)},
                  {inverted_residual(3, 64, 2)},
                  mobilevit_stage(1, 96, 2, 144, 2, 2),
                  mobilevit_stage(1, 128, 2, 192, 4, 2),
                  mobilevit_stage(1, 160, 2, 240, 3, 2)};
    cfg.stem_chs = {16};
    cfg.stem_type = "3x3";
    cfg.stem_pool = "";
    cfg.downsample = "";
    cfg.act = Act::silu;
    cfg.num_features = 640;
    cfg.first_conv = {"stem.conv"};
    register_model(r, "mobilevit_s", cfg);
  }
  register_model(r, "mobilevitv2_050", mobilevitv2_cfg(0.5));
}

}  // namespace pepr::models
