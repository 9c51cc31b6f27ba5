// timm/models/swin_transformer_v2.py, natively (strict image size, static attention masks,
// pretrained_window_size 0), NHWC throughout:
//   patch_embed (Conv2d k=s=4 + LayerNorm) -> layers.i (downsample for i > 0: PatchMerging
//   (2x2 neighbours -> reduction Linear 4C -> 2C, no bias -> norm); blocks: res-post-norm
//   x + norm1(attn(x)), x + norm2(mlp(x)), the attention in (shifted) windows with cosine
//   similarity, a clamped learnt logit_scale and a continuous relative position bias
//   (cpb_mlp on log-spaced coordinates, 16 * sigmoid)) -> norm -> mean over H, W -> head.fc.
// Norms nn.LayerNorm (eps 1e-5); GELU exact. The windows, shifts and masks are fixed by the
// input resolution, so the model runs at its image size only (timm's strict_img_size).
// relative_coords_table, relative_position_index, k_bias and attn_mask are non-persistent in
// timm: plain members here, not buffers, so they stay out of the state dict.
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

constexpr double kEps = 1e-5;  // nn.LayerNorm

struct SwinV2Config {
  int64_t img_size = 224;
  int64_t patch_size = 4;
  int64_t embed_dim = 96;
  std::vector<int64_t> depths{2, 2, 6, 2};
  std::vector<int64_t> num_heads{3, 6, 12, 24};
  int64_t window_size = 7;
  double mlp_ratio = 4.0;
};

class WindowAttentionImpl : public torch::nn::Module {
 public:
  WindowAttentionImpl(int64_t dim, int64_t window_size, int64_t num_heads)
      : dim_(dim), ws_(window_size), num_heads_(num_heads) {
    logit_scale = register_parameter("logit_scale", torch::full({num_heads, 1, 1}, std::log(10.0)));
    cpb_mlp = register_module(
        "cpb_mlp",
        Sequential(torch::nn::Linear(2, 512), Activation(Act::relu, /*inplace=*/true),
                   torch::nn::Linear(torch::nn::LinearOptions(512, num_heads).bias(false))));
    qkv = register_module("qkv",
                          torch::nn::Linear(torch::nn::LinearOptions(dim, dim * 3).bias(false)));
    q_bias = register_parameter("q_bias", torch::zeros({dim}));
    v_bias = register_parameter("v_bias", torch::zeros({dim}));
    proj = register_module("proj", torch::nn::Linear(dim, dim));
    make_tables();
  }

  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& mask) {
    const int64_t B_ = x.size(0), N = x.size(1), C = x.size(2);
    if (relative_coords_table_.device() != x.device()) {
      relative_coords_table_ = relative_coords_table_.to(x.device());
      relative_position_index_ = relative_position_index_.to(x.device());
    }
    const auto bias = torch::cat({q_bias, torch::zeros_like(q_bias), v_bias});
    const auto qkv_ = torch::nn::functional::linear(x, qkv->weight, bias)
                          .reshape({B_, N, 3, num_heads_, -1})
                          .permute({2, 0, 3, 1, 4});
    namespace F = torch::nn::functional;
    const auto q = F::normalize(qkv_[0], F::NormalizeFuncOptions().dim(-1));
    const auto k = F::normalize(qkv_[1], F::NormalizeFuncOptions().dim(-1));
    auto attn = torch::matmul(q, k.transpose(-2, -1));
    attn = attn * torch::clamp(logit_scale, c10::nullopt, std::log(1.0 / 0.01)).exp();
    auto rpb = cpb_mlp->forward(relative_coords_table_).view({-1, num_heads_});
    rpb = rpb.index({relative_position_index_.view(-1)})
              .view({ws_ * ws_, ws_ * ws_, -1})
              .permute({2, 0, 1})
              .contiguous();
    attn = attn + 16 * torch::sigmoid(rpb).unsqueeze(0);
    if (mask.defined()) {
      const int64_t nw = mask.size(0);
      attn = attn.view({-1, nw, num_heads_, N, N}) + mask.unsqueeze(1).unsqueeze(0);
      attn = attn.view({-1, num_heads_, N, N});
    }
    attn = attn.softmax(-1);
    return proj->forward(torch::matmul(attn, qkv_[2]).transpose(1, 2).reshape({B_, N, C}));
  }

  torch::Tensor logit_scale, q_bias, v_bias;
  Sequential cpb_mlp{nullptr};
  torch::nn::Linear qkv{nullptr}, proj{nullptr};

 private:
  void make_tables() {
    const auto f32 = torch::TensorOptions().dtype(torch::kFloat32);
    const auto rh = torch::arange(-(ws_ - 1), ws_, f32);
    const auto rw = torch::arange(-(ws_ - 1), ws_, f32);
    auto table = torch::stack(torch::meshgrid({rh, rw}, "ij")).permute({1, 2, 0}).contiguous();
    table = table.unsqueeze(0);  // 1, 2*ws-1, 2*ws-1, 2
    table.select(3, 0).div_(static_cast<double>(ws_ - 1));
    table.select(3, 1).div_(static_cast<double>(ws_ - 1));
    table.mul_(8);
    table = torch::sign(table) * torch::log2(torch::abs(table) + 1.0) / std::log2(8.0);
    relative_coords_table_ = table;

    const auto ch = torch::arange(ws_, torch::kLong);
    const auto coords = torch::stack(torch::meshgrid({ch, ch}, "ij")).flatten(1);  // 2, ws*ws
    auto rel = (coords.unsqueeze(2) - coords.unsqueeze(1)).permute({1, 2, 0}).contiguous();
    rel.select(2, 0).add_(ws_ - 1);
    rel.select(2, 1).add_(ws_ - 1);
    rel.select(2, 0).mul_(2 * ws_ - 1);
    relative_position_index_ = rel.sum(-1);
  }

  int64_t dim_, ws_, num_heads_;
  torch::Tensor relative_coords_table_, relative_position_index_;
};
TORCH_MODULE(WindowAttention);

class SwinV2BlockImpl : public torch::nn::Module {
 public:
  SwinV2BlockImpl(int64_t dim, int64_t resolution, int64_t num_heads, int64_t window_size,
                  int64_t shift_size, double mlp_ratio, double drop_path)
      : drop_path_(drop_path) {
    // timm's _calc_window_shift: a window no larger than the feature map, no shift when the
    // window covers it.
    ws_ = resolution <= window_size ? resolution : window_size;
    shift_ = resolution <= ws_ ? 0 : shift_size;
    attn = register_module("attn", WindowAttention(dim, ws_, num_heads));
    norm1 = register_module("norm1", LayerNorm(dim, kEps));
    mlp = register_module(
        "mlp", Mlp(MlpOptions(dim, static_cast<int64_t>(static_cast<double>(dim) * mlp_ratio))));
    norm2 = register_module("norm2", LayerNorm(dim, kEps));
    if (shift_ > 0) make_mask(resolution);
  }

  torch::Tensor forward(torch::Tensor x) {
    const int64_t B = x.size(0), H = x.size(1), W = x.size(2), C = x.size(3);
    x = x + drop_path(norm1->forward(attention(x)), drop_path_, is_training());
    x = x.reshape({B, -1, C});
    x = x + drop_path(norm2->forward(mlp->forward(x)), drop_path_, is_training());
    return x.reshape({B, H, W, C});
  }

  WindowAttention attn{nullptr};
  LayerNorm norm1{nullptr}, norm2{nullptr};
  Mlp mlp{nullptr};

 private:
  torch::Tensor attention(const torch::Tensor& x) {
    const int64_t H = x.size(1), W = x.size(2), C = x.size(3);
    auto shifted = shift_ > 0 ? torch::roll(x, {-shift_, -shift_}, {1, 2}) : x;
    const int64_t pad_h = (ws_ - H % ws_) % ws_;
    const int64_t pad_w = (ws_ - W % ws_) % ws_;
    if (pad_h > 0 || pad_w > 0) {
      shifted = torch::constant_pad_nd(shifted, {0, 0, 0, pad_w, 0, pad_h});
    }
    const int64_t Hp = shifted.size(1), Wp = shifted.size(2);
    auto windows = window_partition(shifted, ws_).view({-1, ws_ * ws_, C});
    if (mask_.defined() && mask_.device() != x.device()) mask_ = mask_.to(x.device());
    windows = attn->forward(windows, mask_).view({-1, ws_, ws_, C});
    shifted = window_reverse(windows, ws_, Hp, Wp);
    using torch::indexing::Slice;
    shifted = shifted.index({Slice(), Slice(0, H), Slice(0, W), Slice()}).contiguous();
    return shift_ > 0 ? torch::roll(shifted, {shift_, shift_}, {1, 2}) : shifted;
  }

  void make_mask(int64_t resolution) {
    auto img_mask = torch::zeros({1, resolution, resolution, 1});
    // Python slices (0, -ws), (-ws, -shift), (-shift, None) on a side of length resolution.
    const std::vector<std::pair<int64_t, int64_t>> ranges{{0, resolution - ws_},
                                                          {resolution - ws_, resolution - shift_},
                                                          {resolution - shift_, resolution}};
    double cnt = 0;
    using torch::indexing::Slice;
    for (const auto& h : ranges) {
      for (const auto& w : ranges) {
        img_mask.index_put_({Slice(), Slice(h.first, h.second), Slice(w.first, w.second), Slice()},
                            cnt);
        cnt += 1;
      }
    }
    const auto mw = window_partition(img_mask, ws_).view({-1, ws_ * ws_});
    auto m = mw.unsqueeze(1) - mw.unsqueeze(2);
    mask_ = m.masked_fill(m != 0, -100.0).masked_fill(m == 0, 0.0);
  }

  int64_t ws_, shift_;
  double drop_path_;
  torch::Tensor mask_;
};
TORCH_MODULE(SwinV2Block);

class PatchMergingImpl : public torch::nn::Module {
 public:
  PatchMergingImpl(int64_t dim, int64_t out_dim) {
    reduction = register_module(
        "reduction", torch::nn::Linear(torch::nn::LinearOptions(4 * dim, out_dim).bias(false)));
    norm = register_module("norm", LayerNorm(out_dim, kEps));
  }
  torch::Tensor forward(torch::Tensor x) {
    const int64_t B = x.size(0), C = x.size(3);
    if (x.size(1) % 2 != 0 || x.size(2) % 2 != 0) {
      x = torch::constant_pad_nd(x, {0, 0, 0, x.size(2) % 2, 0, x.size(1) % 2});
    }
    const int64_t H = x.size(1), W = x.size(2);
    x = x.reshape({B, H / 2, 2, W / 2, 2, C}).permute({0, 1, 3, 4, 2, 5}).flatten(3);
    return norm->forward(reduction->forward(x));
  }
  torch::nn::Linear reduction{nullptr};
  LayerNorm norm{nullptr};
};
TORCH_MODULE(PatchMerging);

class SwinV2StageImpl : public torch::nn::Module {
 public:
  SwinV2StageImpl(int64_t dim, int64_t out_dim, int64_t input_resolution, int64_t depth,
                  bool downsample_, int64_t num_heads, int64_t window_size, double mlp_ratio,
                  const std::vector<double>& dpr) {
    const int64_t res = downsample_ ? input_resolution / 2 : input_resolution;
    if (downsample_) downsample = register_module("downsample", PatchMerging(dim, out_dim));
    Sequential b;
    for (int64_t i = 0; i < depth; ++i) {
      b->push_back(SwinV2Block(out_dim, res, num_heads, window_size,
                               i % 2 == 0 ? 0 : window_size / 2, mlp_ratio,
                               dpr[static_cast<size_t>(i)]));
    }
    blocks = register_module("blocks", b);
  }
  torch::Tensor forward(torch::Tensor x) {
    if (downsample) x = downsample->forward(x);
    return blocks->forward(x);
  }
  PatchMerging downsample{nullptr};
  Sequential blocks{nullptr};
};
TORCH_MODULE(SwinV2Stage);

class SwinTransformerV2 : public HeadedClassifier<ClassifierHead> {
 public:
  SwinTransformerV2(const std::string& arch, const SwinV2Config& cfg, const ModelOptions& options)
      : HeadedClassifier(arch, options), cfg_(cfg) {
    auto pe = std::make_shared<torch::nn::Module>();
    pe_proj_ = pe->register_module(
        "proj", Conv2d(ConvOptions(options.in_chans, cfg.embed_dim, cfg.patch_size)
                           .stride(cfg.patch_size)
                           .bias(true)
                           .padding(torch::ExpandingArray<2>(0))));
    pe_norm_ = pe->register_module("norm", LayerNorm(cfg.embed_dim, kEps));
    register_module("patch_embed", pe);

    const int64_t grid = cfg.img_size / cfg.patch_size;
    const auto dpr = drop_path_rates(options.drop_path_rate, cfg.depths);
    Sequential layers;
    int64_t in_dim = cfg.embed_dim;
    int64_t scale = 1;
    for (size_t i = 0; i < cfg.depths.size(); ++i) {
      const int64_t out_dim = cfg.embed_dim << i;
      layers->push_back(SwinV2Stage(in_dim, out_dim, grid / scale, cfg.depths[i], i > 0,
                                    cfg.num_heads[i], cfg.window_size, cfg.mlp_ratio, dpr[i]));
      in_dim = out_dim;
      if (i > 0) scale *= 2;
    }
    layers_ = register_module("layers", layers);
    set_num_features(in_dim);
    norm_ = register_module("norm", LayerNorm(in_dim, kEps));
    head_ = register_module("head", ClassifierHead(in_dim, options.num_classes, options.drop_rate));

    // timm's init_weights: Linear trunc_normal_(.02), zero bias; then every block's norm1 and
    // norm2 weight and bias set to 0 (_init_respostnorm).
    torch::NoGradGuard no_grad;
    for (auto& m : modules(/*include_self=*/false)) {
      if (auto* linear = m->as<torch::nn::LinearImpl>()) {
        trunc_normal_(linear->weight, 0.02);
        if (linear->bias.defined()) linear->bias.zero_();
      }
      if (auto* blk = m->as<SwinV2BlockImpl>()) {
        for (auto* n : {blk->norm1.get(), blk->norm2.get()}) {
          n->weight.zero_();
          n->bias.zero_();
        }
      }
    }
  }

  torch::Tensor forward_features(torch::Tensor x) override {
    x = pe_norm_->forward(pe_proj_->forward(x).permute({0, 2, 3, 1}));
    return norm_->forward(layers_->forward(x));  // NHWC
  }
  torch::Tensor forward_head(torch::Tensor x) override { return head_->forward(x.mean({1, 2})); }
  std::vector<std::string> first_conv_names() const override { return {"patch_embed.proj"}; }
  std::optional<int64_t> fixed_input_size() const override { return cfg_.img_size; }

 private:
  SwinV2Config cfg_;
  Conv2d pe_proj_{nullptr};
  LayerNorm pe_norm_{nullptr};
  Sequential layers_{nullptr};
  LayerNorm norm_{nullptr};
};

}  // namespace

void register_swin_transformer_v2_models(Registry& r) {
  SwinV2Config c;
  c.img_size = 256;
  c.window_size = 8;
  c.embed_dim = 128;
  c.depths = {2, 2, 18, 2};
  c.num_heads = {4, 8, 16, 32};
  r.add<SwinTransformerV2>("swinv2_base_window8_256", c);
}

}  // namespace pepr::models
