// timm/models/edgenext.py, natively (patch stem, no downsample blocks):
//   stem (Conv2d k4 s4 + LayerNorm2d) -> stages.i (downsample: LayerNorm2d + Conv2d k2 s2; blocks:
//   ConvBlock = depthwise kxk -> LayerNorm -> Mlp -> gamma, or the last num_global_blocks
//   SplitTransposeBlock = Res2Net-style depthwise 3x3 splits -> (Fourier position encoding) ->
//   cross-covariance attention (XCA) with gamma_xca -> LayerNorm -> Mlp -> gamma)
//   -> NormMlpClassifierHead (avg pool, LayerNorm2d, fc).
// Every norm has eps 1e-6 (nn.LayerNorm(eps=1e-6) and LayerNorm2d); activations are exact GELU.
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

constexpr double kEps = 1e-6;

struct EdgeNeXtConfig {
  std::vector<int64_t> dims{24, 48, 88, 168};
  std::vector<int64_t> depths{3, 3, 9, 3};
  std::vector<int64_t> global_block_counts{0, 1, 1, 1};
  std::vector<int64_t> kernel_sizes{3, 5, 7, 9};
  std::vector<int64_t> heads{8, 8, 8, 8};
  std::vector<int64_t> d2_scales{2, 2, 3, 4};
  std::vector<bool> use_pos_emb{false, true, false, false};
  double ls_init_value = 1e-6;
  double expand_ratio = 4.0;
};

// timm's PositionalEncodingFourier: sine/cosine features of the normalised (y, x) position,
// projected by a 1x1 convolution, computed in float32 exactly as timm does.
class PositionalEncodingFourierImpl : public torch::nn::Module {
 public:
  PositionalEncodingFourierImpl(int64_t dim, int64_t hidden_dim = 32, double temperature = 10000.0)
      : hidden_dim_(hidden_dim), temperature_(temperature) {
    token_projection =
        register_module("token_projection", Conv2d(ConvOptions(hidden_dim * 2, dim, 1).bias(true)));
  }

  torch::Tensor forward(int64_t B, int64_t H, int64_t W) {
    const auto opts = torch::TensorOptions().dtype(torch::kFloat32);
    const auto ones = torch::ones({B, H, W}, opts);
    const double eps = 1e-6;
    const double scale = 2 * M_PI;
    auto y_embed = ones.cumsum(1);
    auto x_embed = ones.cumsum(2);
    y_embed = y_embed / (y_embed.narrow(1, H - 1, 1) + eps) * scale;
    x_embed = x_embed / (x_embed.narrow(2, W - 1, 1) + eps) * scale;

    auto dim_t = torch::arange(hidden_dim_, torch::kInt64).to(torch::kFloat32);
    dim_t = torch::pow(temperature_,
                       2 * torch::div(dim_t, 2, "floor") / static_cast<double>(hidden_dim_));
    const auto sincos = [](const torch::Tensor& p) {
      using torch::indexing::Slice;
      return torch::stack({p.index({"...", Slice(0, torch::indexing::None, 2)}).sin(),
                           p.index({"...", Slice(1, torch::indexing::None, 2)}).cos()},
                          4)
          .flatten(3);
    };
    const auto pos_x = sincos(x_embed.unsqueeze(-1) / dim_t);
    const auto pos_y = sincos(y_embed.unsqueeze(-1) / dim_t);
    const auto pos = torch::cat({pos_y, pos_x}, 3).permute({0, 3, 1, 2});
    return token_projection->forward(
        pos.to(token_projection->weight.dtype()).to(token_projection->weight.device()));
  }

  Conv2d token_projection{nullptr};

 private:
  int64_t hidden_dim_;
  double temperature_;
};
TORCH_MODULE(PositionalEncodingFourier);

class ConvBlockImpl : public torch::nn::Module {
 public:
  ConvBlockImpl(int64_t dim, int64_t kernel_size, double expand_ratio, double ls_init_value,
                double drop_path)
      : drop_path_(drop_path) {
    gamma = register_parameter("gamma", torch::full({dim}, ls_init_value));
    conv_dw = register_module(
        "conv_dw", Conv2d(ConvOptions(dim, dim, kernel_size).depthwise(true).bias(true)));
    norm = register_module("norm", LayerNorm(dim, kEps));
    mlp = register_module(
        "mlp", Mlp(MlpOptions(dim, static_cast<int64_t>(expand_ratio * static_cast<double>(dim)))));
  }

  torch::Tensor forward(torch::Tensor x) {
    const auto shortcut = x;
    x = conv_dw->forward(x).permute({0, 2, 3, 1});
    x = gamma * mlp->forward(norm->forward(x));
    x = x.permute({0, 3, 1, 2});
    return shortcut + drop_path(x, drop_path_, is_training());
  }

  torch::Tensor gamma;
  Conv2d conv_dw{nullptr};
  LayerNorm norm{nullptr};
  Mlp mlp{nullptr};

 private:
  double drop_path_;
};
TORCH_MODULE(ConvBlock);

// timm's CrossCovarianceAttn: attention over channels (a C/h x C/h map per head).
class CrossCovarianceAttnImpl : public torch::nn::Module {
 public:
  CrossCovarianceAttnImpl(int64_t dim, int64_t num_heads) : num_heads_(num_heads) {
    temperature = register_parameter("temperature", torch::ones({num_heads, 1, 1}));
    qkv = register_module("qkv", torch::nn::Linear(dim, dim * 3));  // qkv_bias=True in the block
    proj = register_module("proj", torch::nn::Linear(dim, dim));
  }

  torch::Tensor forward(const torch::Tensor& x) {
    const int64_t B = x.size(0), N = x.size(1), C = x.size(2);
    const auto qkv_ = qkv->forward(x).reshape({B, N, 3, num_heads_, -1}).permute({2, 0, 3, 4, 1});
    namespace F = torch::nn::functional;
    const auto q = F::normalize(qkv_[0], F::NormalizeFuncOptions().dim(-1));
    const auto k = F::normalize(qkv_[1], F::NormalizeFuncOptions().dim(-1));
    auto attn = (torch::matmul(q, k.transpose(-2, -1)) * temperature).softmax(-1);
    auto out = torch::matmul(attn, qkv_[2]).permute({0, 3, 1, 2}).reshape({B, N, C});
    return proj->forward(out);
  }

  torch::Tensor temperature;
  torch::nn::Linear qkv{nullptr}, proj{nullptr};

 private:
  int64_t num_heads_;
};
TORCH_MODULE(CrossCovarianceAttn);

class SplitTransposeBlockImpl : public torch::nn::Module {
 public:
  SplitTransposeBlockImpl(int64_t dim, int64_t num_scales, int64_t num_heads, double expand_ratio,
                          bool use_pos_emb, double ls_init_value, double drop_path)
      : drop_path_(drop_path) {
    const auto width = std::max(
        static_cast<int64_t>(std::ceil(static_cast<double>(dim) / static_cast<double>(num_scales))),
        dim / num_scales);
    const int64_t n_convs = std::max<int64_t>(1, num_scales - 1);
    gamma_xca = register_parameter("gamma_xca", torch::full({dim}, ls_init_value));
    gamma = register_parameter("gamma", torch::full({dim}, ls_init_value));
    convs = register_module("convs", torch::nn::ModuleList());
    for (int64_t i = 0; i < n_convs; ++i) {
      convs->push_back(Conv2d(ConvOptions(width, width, 3).depthwise(true).bias(true)));
    }
    if (use_pos_emb) pos_embd = register_module("pos_embd", PositionalEncodingFourier(dim));
    norm_xca = register_module("norm_xca", LayerNorm(dim, kEps));
    xca = register_module("xca", CrossCovarianceAttn(dim, num_heads));
    norm = register_module("norm", LayerNorm(dim, kEps));
    mlp = register_module(
        "mlp", Mlp(MlpOptions(dim, static_cast<int64_t>(expand_ratio * static_cast<double>(dim)))));
  }

  torch::Tensor forward(torch::Tensor x) {
    const auto shortcut = x;
    const auto n = static_cast<int64_t>(convs->size());
    const auto spx = x.chunk(n + 1, 1);
    std::vector<torch::Tensor> spo;
    torch::Tensor sp = spx[0];
    for (int64_t i = 0; i < n; ++i) {
      if (i > 0) sp = sp + spx[static_cast<size_t>(i)];
      sp = convs[static_cast<size_t>(i)]->as<Conv2dImpl>()->forward(sp);
      spo.push_back(sp);
    }
    spo.push_back(spx.back());
    x = torch::cat(spo, 1);

    const int64_t B = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
    x = x.reshape({B, C, H * W}).permute({0, 2, 1});
    if (pos_embd) {
      x = x + pos_embd->forward(B, H, W).reshape({B, -1, x.size(1)}).permute({0, 2, 1});
    }
    x = x + drop_path(gamma_xca * xca->forward(norm_xca->forward(x)), drop_path_, is_training());
    x = x.reshape({B, H, W, C});
    x = gamma * mlp->forward(norm->forward(x));
    x = x.permute({0, 3, 1, 2});
    return shortcut + drop_path(x, drop_path_, is_training());
  }

  torch::Tensor gamma_xca, gamma;
  torch::nn::ModuleList convs{nullptr};
  PositionalEncodingFourier pos_embd{nullptr};
  LayerNorm norm_xca{nullptr}, norm{nullptr};
  CrossCovarianceAttn xca{nullptr};
  Mlp mlp{nullptr};

 private:
  double drop_path_;
};
TORCH_MODULE(SplitTransposeBlock);

// timm's EdgeNeXtStage: a 2x2 downsample where the stage strides, conv blocks, then the
// stage's global (split transpose) blocks.
NormConvStage edgenext_stage(int64_t in_chs, int64_t out_chs, int64_t stride, size_t i,
                             const EdgeNeXtConfig& cfg, const std::vector<double>& dpr) {
  Sequential b;
  const int64_t depth = cfg.depths[i];
  for (int64_t j = 0; j < depth; ++j) {
    const double dp = dpr[static_cast<size_t>(j)];
    if (j < depth - cfg.global_block_counts[i]) {
      b->push_back(
          ConvBlock(out_chs, cfg.kernel_sizes[i], cfg.expand_ratio, cfg.ls_init_value, dp));
    } else {
      b->push_back(SplitTransposeBlock(out_chs, cfg.d2_scales[i], cfg.heads[i], cfg.expand_ratio,
                                       cfg.use_pos_emb[i], cfg.ls_init_value, dp));
    }
  }
  return NormConvStage(in_chs, out_chs, stride != 1 ? 2 : 0, kEps, b);
}

class EdgeNeXt : public HeadedClassifier<NormMlpClassifierHead> {
 public:
  EdgeNeXt(const std::string& arch, const EdgeNeXtConfig& cfg, const ModelOptions& options)
      : HeadedClassifier(arch, options) {
    const auto& dims = cfg.dims;
    stem_ = register_module("stem", patchify_stem(options.in_chans, dims[0], 4, kEps));
    const auto dpr = drop_path_rates(options.drop_path_rate, cfg.depths);
    Sequential stages;
    int64_t prev = dims[0];
    for (size_t i = 0; i < 4; ++i) {
      stages->push_back(edgenext_stage(prev, dims[i], i > 0 ? 2 : 1, i, cfg, dpr[i]));
      prev = dims[i];
    }
    stages_ = register_module("stages", stages);
    set_num_features(prev);
    head_ = register_module(
        "head", NormMlpClassifierHead(prev, options.num_classes, options.drop_rate, kEps));
    // timm's _init_weights: trunc_normal_tf_(std .02) for Conv2d and Linear, zero biases.
    init_trunc_normal(*this, 0.02, /*tf_style=*/true);
  }

  torch::Tensor forward_features(torch::Tensor x) override {
    return stages_->forward(stem_->forward(x));
  }
  std::vector<std::string> first_conv_names() const override { return {"stem.0"}; }
  // The stem's 4x4 patches and three 2x2 downsampling convolutions.
  int64_t min_input_size() const override { return 32; }

 private:
  Sequential stem_{nullptr}, stages_{nullptr};
};

}  // namespace

void register_edgenext_models(Registry& r) {
  EdgeNeXtConfig c;
  c.depths = {3, 3, 9, 3};
  c.dims = {80, 160, 288, 584};
  r.add<EdgeNeXt>("edgenext_base", c);
}

}  // namespace pepr::models
