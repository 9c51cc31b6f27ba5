// timm/models/maxxvit.py, natively, for the MaxViT / MaxxViT "rw" models made of 'M' blocks
// (MaxxVitBlock: conv block -> block (window) partition attention -> grid partition attention,
// the attention channels-last, PartitionAttentionCl):
//   stem (conv1 3x3 s2 -> norm1 (+act) -> conv2 3x3) -> stages.i.blocks.j (stride 2 in each
//   stage's first block) -> norm (LayerNorm2d, eps 1e-6) -> head (avg pool, fc).
// maxvit_*_rw (_rw_max_cfg): the conv block is MbConvBlock (pre_norm BatchNorm2d without act,
//   1x1 expand from the input channels (x4), BatchNorm2d + SiLU, 3x3 depthwise (stride),
//   BatchNorm2d
//   + SiLU, SE (SiLU, rd = mid / 16), 1x1 project; no conv biases; shortcut avg-pool 2x2 + 1x1
//   expand), stem BatchNorm2d + SiLU; attention with a learnt relative position bias table.
// maxxvit_rmlp_*_rw (_next_cfg): the conv block is ConvNeXtBlock (7x7 depthwise with
//   groups = in_chs (stride), LayerNorm2d, 1x1-conv Mlp (GELU), layer scale "ls.gamma"; shortcut
//   avg-pool 2x2 + 1x1 expand with bias), stem LayerNorm2d + GELU; attention bias from RelPosMlp
//   (mode 'cr': fc1 2 -> 512, ReLU, dropout 0.125, fc2 -> heads on log(1 + |dy|, |dx|) coords);
//   layer scales ls1 / ls2 (1e-6) in the attention blocks.
// Partition (window and grid) size = img_size / 32 = 8: the model runs at its image size only.
// Attention: dim_head 32, heads first in the qkv channels, timm LayerNorm (eps 1e-6), GELU exact.
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

enum class ConvBlockType { mbconv, convnext };
enum class RelPosType { bias, mlp };

struct MaxxVitConfig {
  int64_t img_size = 256;
  std::vector<int64_t> embed_dim{64, 128, 256, 512};
  std::vector<int64_t> depths{1, 2, 3, 1};
  std::vector<int64_t> stem_width{32, 64};
  ConvBlockType conv = ConvBlockType::mbconv;
  RelPosType rel_pos = RelPosType::bias;
  double transformer_init_values = 0.0;  // 0: no layer scale
  double conv_init_values = 1e-6;        // ConvNeXt block layer scale
  double mbconv_attn_ratio = 1.0 / 16;
  int64_t dim_head = 32;
  int64_t partition_ratio = 32;
  int64_t rel_pos_dim = 512;
};

// timm LayerScale (NHWC: x * gamma) and LayerScale2d (NCHW: x * gamma.view(1, C, 1, 1)).
class LayerScaleImpl : public torch::nn::Module {
 public:
  LayerScaleImpl(int64_t dim, double init, bool nchw) : nchw_(nchw) {
    gamma = register_parameter("gamma", torch::full({dim}, init));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    return nchw_ ? x * gamma.view({1, -1, 1, 1}) : x * gamma;
  }
  torch::Tensor gamma;

 private:
  bool nchw_;
};
TORCH_MODULE(LayerScale);

// timm's Downsample2d with pool_type 'avg2': AvgPool2d(2, 2), then a 1x1 "expand" conv when the
// channels change.
class Downsample2dImpl : public torch::nn::Module {
 public:
  Downsample2dImpl(int64_t dim, int64_t dim_out, bool bias) {
    if (dim != dim_out) {
      expand = register_module("expand", Conv2d(ConvOptions(dim, dim_out, 1).bias(bias)));
    }
  }
  torch::Tensor forward(const torch::Tensor& x) {
    auto y = torch::avg_pool2d(x, {2, 2}, {2, 2});
    return expand ? expand->forward(y) : y;
  }
  Conv2d expand{nullptr};
};
TORCH_MODULE(Downsample2d);

class MbConvBlockImpl : public torch::nn::Module {
 public:
  MbConvBlockImpl(int64_t in_chs, int64_t out_chs, int64_t stride, double attn_ratio,
                  double drop_path)
      : drop_path_(drop_path) {
    const int64_t mid = make_divisible(static_cast<double>(in_chs) * 4.0);
    if (stride == 2) shortcut = register_module("shortcut", Downsample2d(in_chs, out_chs, false));
    pre_norm = register_module("pre_norm", BatchNormAct2d(in_chs, Act::identity));
    conv1_1x1 = register_module("conv1_1x1", create_conv2d(in_chs, mid, 1));
    norm1 = register_module("norm1", BatchNormAct2d(mid, Act::silu));
    conv2_kxk = register_module("conv2_kxk", create_conv2d(mid, mid, 3, stride, 1, mid));
    norm2 = register_module("norm2", BatchNormAct2d(mid, Act::silu));
    se = register_module(
        "se",
        SEModule(mid, SEModuleOptions()
                          .rd_channels(static_cast<int64_t>(attn_ratio * static_cast<double>(mid)))
                          .act(Act::silu)));
    conv3_1x1 = register_module("conv3_1x1", create_conv2d(mid, out_chs, 1));
  }

  torch::Tensor forward(const torch::Tensor& x) {
    const auto sc = shortcut ? shortcut->forward(x) : x;
    auto y = norm1->forward(conv1_1x1->forward(pre_norm->forward(x)));
    y = se->forward(norm2->forward(conv2_kxk->forward(y)));
    y = conv3_1x1->forward(y);
    return drop_path(y, drop_path_, is_training()) + sc;
  }

  Downsample2d shortcut{nullptr};
  BatchNormAct2d pre_norm{nullptr}, norm1{nullptr}, norm2{nullptr};
  Conv2d conv1_1x1{nullptr}, conv2_kxk{nullptr}, conv3_1x1{nullptr};
  SEModule se{nullptr};

 private:
  double drop_path_;
};
TORCH_MODULE(MbConvBlock);

class ConvNeXtBlockImpl : public torch::nn::Module {
 public:
  ConvNeXtBlockImpl(int64_t in_chs, int64_t out_chs, int64_t stride, double init_values,
                    double drop_path)
      : drop_path_(drop_path) {
    if (stride == 2) {
      shortcut_ds = register_module("shortcut", Downsample2d(in_chs, out_chs, true));
    } else if (in_chs != out_chs) {
      shortcut_conv =
          register_module("shortcut", Conv2d(ConvOptions(in_chs, out_chs, 1).bias(true)));
    }
    conv_dw = register_module(
        "conv_dw",
        Conv2d(ConvOptions(in_chs, out_chs, 7).stride(stride).depthwise(true).bias(true)));
    norm = register_module("norm", LayerNorm2d(out_chs, kEps));
    mlp = register_module("mlp", Mlp(MlpOptions(out_chs, 4 * out_chs).use_conv(true)));
    ls = register_module("ls", LayerScale(out_chs, init_values, /*nchw=*/true));
  }

  torch::Tensor forward(const torch::Tensor& x) {
    const auto sc =
        shortcut_ds ? shortcut_ds->forward(x) : (shortcut_conv ? shortcut_conv->forward(x) : x);
    auto y = ls->forward(mlp->forward(norm->forward(conv_dw->forward(x))));
    return drop_path(y, drop_path_, is_training()) + sc;
  }

  Downsample2d shortcut_ds{nullptr};
  Conv2d shortcut_conv{nullptr};
  Conv2d conv_dw{nullptr};
  LayerNorm2d norm{nullptr};
  Mlp mlp{nullptr};
  LayerScale ls{nullptr};

 private:
  double drop_path_;
};
TORCH_MODULE(ConvNeXtBlock);

// gen_relative_position_index for a square window: [ws*ws * ws*ws] (long).
torch::Tensor relative_position_index(int64_t ws) {
  const auto c = torch::arange(ws, torch::kLong);
  const auto coords = torch::stack(torch::meshgrid({c, c}, "ij")).flatten(1);
  auto rel = (coords.unsqueeze(2) - coords.unsqueeze(1)).permute({1, 2, 0}).contiguous();
  rel.select(2, 0).add_(ws - 1);
  rel.select(2, 1).add_(ws - 1);
  rel.select(2, 0).mul_(2 * ws - 1);
  return rel.sum(-1).view(-1);
}

// timm RelPosBias: a learnt [(2ws-1)^2, heads] table indexed by relative position.
class RelPosBiasImpl : public torch::nn::Module {
 public:
  RelPosBiasImpl(int64_t ws, int64_t num_heads) : ws_(ws), num_heads_(num_heads) {
    relative_position_bias_table = register_parameter(
        "relative_position_bias_table", torch::zeros({(2 * ws - 1) * (2 * ws - 1), num_heads}));
    trunc_normal_(relative_position_bias_table, 0.02);
    index_ = relative_position_index(ws);
  }
  torch::Tensor get_bias() {
    if (index_.device() != relative_position_bias_table.device()) {
      index_ = index_.to(relative_position_bias_table.device());
    }
    const int64_t n = ws_ * ws_;
    return relative_position_bias_table.index({index_})
        .view({n, n, num_heads_})
        .permute({2, 0, 1})
        .unsqueeze(0)
        .contiguous();
  }
  torch::Tensor relative_position_bias_table;

 private:
  int64_t ws_, num_heads_;
  torch::Tensor index_;  // non-persistent in timm
};
TORCH_MODULE(RelPosBias);

// timm RelPosMlp, mode 'cr': Mlp(2 -> hidden, ReLU, dropout 0.125, -> heads) on
// sign(d) * log(1 + |d|) relative coordinates; no output activation or gain.
class RelPosMlpImpl : public torch::nn::Module {
 public:
  RelPosMlpImpl(int64_t ws, int64_t num_heads, int64_t hidden) : ws_(ws), num_heads_(num_heads) {
    auto m = std::make_shared<torch::nn::Module>();
    fc1 = m->register_module("fc1", torch::nn::Linear(2, hidden));
    fc2 = m->register_module("fc2", torch::nn::Linear(hidden, num_heads));
    register_module("mlp", m);
    index_ = relative_position_index(ws);
    const auto f32 = torch::TensorOptions().dtype(torch::kFloat32);
    const auto r = torch::arange(-(ws - 1), ws, torch::kLong).to(torch::kFloat32);
    auto table = torch::stack(torch::meshgrid({r, r}, "ij")).permute({1, 2, 0}).contiguous();
    coords_ = (torch::sign(table) * torch::log(1.0 + table.abs())).to(f32.dtype());
  }
  torch::Tensor get_bias() {
    // Not registered (timm's are non-persistent buffers), so they follow the weights here: the
    // device, and for coords_ the dtype too (a float64 model, e.g. the equivalence test's check
    // of float32 rounding, would otherwise multiply float32 coordinates by float64 weights).
    if (index_.device() != fc1->weight.device()) index_ = index_.to(fc1->weight.device());
    if (coords_.device() != fc1->weight.device() || coords_.dtype() != fc1->weight.dtype())
      coords_ = coords_.to(fc1->weight.options());
    auto b = torch::relu(fc1->forward(coords_));
    b = torch::dropout(b, 0.125, is_training());
    b = fc2->forward(b);
    const int64_t n = ws_ * ws_;
    b = b.view({-1, num_heads_}).index({index_}).view({n, n, num_heads_});
    return b.permute({2, 0, 1}).unsqueeze(0).contiguous();
  }
  torch::nn::Linear fc1{nullptr}, fc2{nullptr};

 private:
  int64_t ws_, num_heads_;
  torch::Tensor index_, coords_;  // non-persistent in timm
};
TORCH_MODULE(RelPosMlp);

// timm AttentionCl (dim_out == dim, head_first): input [B', ws, ws, C].
class AttentionClImpl : public torch::nn::Module {
 public:
  AttentionClImpl(int64_t dim, int64_t dim_head, int64_t ws, RelPosType rel_pos_type,
                  int64_t rel_pos_dim)
      : num_heads_(dim / dim_head),
        dim_head_(dim_head),
        scale_(std::pow(static_cast<double>(dim_head), -0.5)) {
    qkv = register_module("qkv", torch::nn::Linear(dim, dim * 3));
    if (rel_pos_type == RelPosType::bias) {
      rel_bias = register_module("rel_pos", RelPosBias(ws, num_heads_));
    } else {
      rel_mlp = register_module("rel_pos", RelPosMlp(ws, num_heads_, rel_pos_dim));
    }
    proj = register_module("proj", torch::nn::Linear(dim, dim));
  }

  torch::Tensor forward(const torch::Tensor& x) {
    const int64_t B = x.size(0);
    const auto chunks =
        qkv->forward(x).view({B, -1, num_heads_, dim_head_ * 3}).transpose(1, 2).chunk(3, 3);
    auto attn = torch::matmul(chunks[0] * scale_, chunks[1].transpose(-2, -1));
    attn = attn + (rel_bias ? rel_bias->get_bias() : rel_mlp->get_bias());
    attn = attn.softmax(-1);
    auto out = torch::matmul(attn, chunks[2]).transpose(1, 2);
    auto shape = x.sizes().vec();
    shape.back() = -1;
    return proj->forward(out.reshape(shape));
  }

  torch::nn::Linear qkv{nullptr}, proj{nullptr};
  RelPosBias rel_bias{nullptr};
  RelPosMlp rel_mlp{nullptr};

 private:
  int64_t num_heads_, dim_head_;
  double scale_;
};
TORCH_MODULE(AttentionCl);

torch::Tensor grid_partition(const torch::Tensor& x, int64_t g) {
  const int64_t B = x.size(0), H = x.size(1), W = x.size(2), C = x.size(3);
  return x.view({B, g, H / g, g, W / g, C})
      .permute({0, 2, 4, 1, 3, 5})
      .contiguous()
      .view({-1, g, g, C});
}
torch::Tensor grid_reverse(const torch::Tensor& w, int64_t g, int64_t H, int64_t W) {
  const int64_t C = w.size(-1);
  return w.view({-1, H / g, W / g, g, g, C})
      .permute({0, 3, 1, 4, 2, 5})
      .contiguous()
      .view({-1, H, W, C});
}

class PartitionAttentionClImpl : public torch::nn::Module {
 public:
  PartitionAttentionClImpl(int64_t dim, bool block, const MaxxVitConfig& cfg, int64_t ps,
                           double drop_path)
      : block_(block), ps_(ps), drop_path_(drop_path) {
    norm1 = register_module("norm1", LayerNorm(dim, kEps));
    attn =
        register_module("attn", AttentionCl(dim, cfg.dim_head, ps, cfg.rel_pos, cfg.rel_pos_dim));
    if (cfg.transformer_init_values > 0) {
      ls1 = register_module("ls1", LayerScale(dim, cfg.transformer_init_values, false));
    }
    norm2 = register_module("norm2", LayerNorm(dim, kEps));
    mlp = register_module("mlp", Mlp(MlpOptions(dim, 4 * dim)));
    if (cfg.transformer_init_values > 0) {
      ls2 = register_module("ls2", LayerScale(dim, cfg.transformer_init_values, false));
    }
  }

  torch::Tensor forward(torch::Tensor x) {  // NHWC
    auto y = partition_attn(norm1->forward(x));
    if (ls1) y = ls1->forward(y);
    x = x + drop_path(y, drop_path_, is_training());
    y = mlp->forward(norm2->forward(x));
    if (ls2) y = ls2->forward(y);
    return x + drop_path(y, drop_path_, is_training());
  }

  LayerNorm norm1{nullptr}, norm2{nullptr};
  AttentionCl attn{nullptr};
  LayerScale ls1{nullptr}, ls2{nullptr};
  Mlp mlp{nullptr};

 private:
  torch::Tensor partition_attn(const torch::Tensor& x) {
    const int64_t H = x.size(1), W = x.size(2);
    if (block_) return window_reverse(attn->forward(window_partition(x, ps_)), ps_, H, W);
    return grid_reverse(attn->forward(grid_partition(x, ps_)), ps_, H, W);
  }

  bool block_;
  int64_t ps_;
  double drop_path_;
};
TORCH_MODULE(PartitionAttentionCl);

class MaxxVitBlockImpl : public torch::nn::Module {
 public:
  MaxxVitBlockImpl(int64_t dim, int64_t dim_out, int64_t stride, const MaxxVitConfig& cfg,
                   int64_t ps, double drop_path) {
    if (cfg.conv == ConvBlockType::mbconv) {
      mbconv = register_module("conv",
                               MbConvBlock(dim, dim_out, stride, cfg.mbconv_attn_ratio, drop_path));
    } else {
      convnext = register_module(
          "conv", ConvNeXtBlock(dim, dim_out, stride, cfg.conv_init_values, drop_path));
    }
    attn_block =
        register_module("attn_block", PartitionAttentionCl(dim_out, true, cfg, ps, drop_path));
    attn_grid =
        register_module("attn_grid", PartitionAttentionCl(dim_out, false, cfg, ps, drop_path));
  }

  torch::Tensor forward(torch::Tensor x) {
    x = mbconv ? mbconv->forward(x) : convnext->forward(x);
    x = x.permute({0, 2, 3, 1});
    x = attn_grid->forward(attn_block->forward(x));
    return x.permute({0, 3, 1, 2});
  }

  MbConvBlock mbconv{nullptr};
  ConvNeXtBlock convnext{nullptr};
  PartitionAttentionCl attn_block{nullptr}, attn_grid{nullptr};
};
TORCH_MODULE(MaxxVitBlock);

class MaxxVit : public HeadedClassifier<ClassifierHead> {
 public:
  MaxxVit(const std::string& arch, const MaxxVitConfig& cfg, const ModelOptions& options)
      : HeadedClassifier(arch, options), cfg_(cfg) {
    auto stem = std::make_shared<torch::nn::Module>();
    stem_conv1_ =
        stem->register_module("conv1", create_conv2d(options.in_chans, cfg.stem_width[0], 3, 2));
    if (cfg.conv == ConvBlockType::mbconv) {
      stem_bn_ = stem->register_module("norm1", BatchNormAct2d(cfg.stem_width[0], Act::silu));
    } else {
      stem_ln_ = stem->register_module("norm1", LayerNorm2d(cfg.stem_width[0], kEps));
    }
    stem_conv2_ =
        stem->register_module("conv2", create_conv2d(cfg.stem_width[0], cfg.stem_width[1], 3, 1));
    register_module("stem", stem);

    const int64_t ps = cfg.img_size / cfg.partition_ratio;
    const auto dpr = drop_path_rates(options.drop_path_rate, cfg.depths);
    // timm's stages.i are MaxxVitStage modules holding "blocks".
    stages_ = std::make_shared<torch::nn::Module>();
    int64_t in_chs = cfg.stem_width[1];
    for (size_t i = 0; i < cfg.embed_dim.size(); ++i) {
      Sequential blocks;
      for (int64_t j = 0; j < cfg.depths[i]; ++j) {
        blocks->push_back(MaxxVitBlock(in_chs, cfg.embed_dim[i], j == 0 ? 2 : 1, cfg, ps,
                                       dpr[i][static_cast<size_t>(j)]));
        in_chs = cfg.embed_dim[i];
      }
      auto stage = std::make_shared<torch::nn::Module>();
      stage->register_module("blocks", blocks);
      stages_->register_module(std::to_string(i), stage);
      stage_blocks_.push_back(blocks);
    }
    register_module("stages", stages_);
    set_num_features(in_chs);
    norm_ = register_module("norm", LayerNorm2d(in_chs, kEps));
    head_ = register_module("head", ClassifierHead(in_chs, options.num_classes, options.drop_rate));
    init_weights();
  }

  torch::Tensor forward_features(torch::Tensor x) override {
    x = stem_conv1_->forward(x);
    x = stem_bn_ ? stem_bn_->forward(x) : torch::gelu(stem_ln_->forward(x));
    x = stem_conv2_->forward(x);
    for (auto& b : stage_blocks_) x = b->forward(x);
    return norm_->forward(x);
  }
  std::vector<std::string> first_conv_names() const override { return {"stem.conv1"}; }
  std::optional<int64_t> fixed_input_size() const override { return cfg_.img_size; }

 private:
  // timm's weight_init 'vit_eff' (maxvit rw) / 'normal' (maxxvit rmlp): convs N(0, sqrt(2 /
  // fan_out)) or N(0, .02); attention Linears xavier_uniform_ (MLP biases N(0, 1e-6)) or N(0, .02).
  void init_weights() {
    torch::NoGradGuard no_grad;
    const bool normal = cfg_.conv == ConvBlockType::convnext;
    for (const auto& item : named_modules("", /*include_self=*/false)) {
      const auto& name = item.key();
      if (name.rfind("head", 0) == 0) continue;
      if (auto* conv = item.value()->as<Conv2dImpl>()) {
        const auto& w = conv->weight;
        if (normal) {
          w.normal_(0.0, 0.02);
        } else {
          const int64_t fan_out = w.size(0) * w.size(2) * w.size(3) / conv->groups();
          w.normal_(0.0, std::sqrt(2.0 / static_cast<double>(fan_out)));
        }
        if (conv->bias.defined()) conv->bias.zero_();
      } else if (auto* linear = item.value()->as<torch::nn::LinearImpl>()) {
        if (name.find("rel_pos") != std::string::npos) continue;  // Linear default, as timm
        if (normal) {
          linear->weight.normal_(0.0, 0.02);
          linear->bias.zero_();
        } else {
          torch::nn::init::xavier_uniform_(linear->weight);
          if (name.find("mlp") != std::string::npos) {
            linear->bias.normal_(0.0, 1e-6);
          } else {
            linear->bias.zero_();
          }
        }
      }
    }
  }

  MaxxVitConfig cfg_;
  Conv2d stem_conv1_{nullptr}, stem_conv2_{nullptr};
  BatchNormAct2d stem_bn_{nullptr};
  LayerNorm2d stem_ln_{nullptr};
  std::shared_ptr<torch::nn::Module> stages_;
  std::vector<Sequential> stage_blocks_;
  LayerNorm2d norm_{nullptr};
};

}  // namespace

void register_maxxvit_models(Registry& r) {
  {
    MaxxVitConfig c;  // maxvit_nano_rw: _rw_max_cfg()
    c.conv = ConvBlockType::mbconv;
    c.rel_pos = RelPosType::bias;
    r.add<MaxxVit>("maxvit_nano_rw_256", c);
  }
  {
    MaxxVitConfig c;  // maxxvit_rmlp_nano_rw: _next_cfg()
    c.conv = ConvBlockType::convnext;
    c.rel_pos = RelPosType::mlp;
    c.transformer_init_values = 1e-6;
    c.conv_init_values = 1e-6;
    r.add<MaxxVit>("maxxvit_rmlp_nano_rw_256", c);
  }
}

}  // namespace pepr::models
