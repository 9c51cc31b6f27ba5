// timm/models/twins.py, natively, for Twins-PCPVT (every block global sub-sampled attention,
// wss = None):
//   for each stage k: patch_embeds.k (Conv2d k=s=patch (4, then 2) + nn.LayerNorm) -> blocks.k.j
//   (norm1 -> GlobalSubSampleAttn (q, kv, sr Conv2d k=s=sr_ratio + nn.LayerNorm, proj) -> norm2
//   -> Mlp (GELU)), with pos_block.k (PosConv: depthwise 3x3 conv + residual) after the first
//   block -> norm -> mean over tokens -> head (Linear).
// Norm eps: blocks and the final norm nn.LayerNorm(eps=1e-6); patch embeddings and the
// sub-sampling norms nn.LayerNorm (1e-5).
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
constexpr double kTorchEps = 1e-5;

struct TwinsConfig {
  int64_t patch_size = 4;
  std::vector<int64_t> embed_dims{64, 128, 256, 512};
  std::vector<int64_t> num_heads{1, 2, 4, 8};
  std::vector<double> mlp_ratios{4, 4, 4, 4};
  std::vector<int64_t> depths{3, 4, 6, 3};
  std::vector<int64_t> sr_ratios{8, 4, 2, 1};
};

class TwinsBlockImpl : public torch::nn::Module {
 public:
  TwinsBlockImpl(int64_t dim, int64_t num_heads, double mlp_ratio, int64_t sr_ratio,
                 double drop_path)
      : drop_path_(drop_path) {
    norm1 = register_module("norm1", LayerNorm(dim, kEps));
    attn = register_module("attn", SpatialReductionAttention(dim, num_heads, sr_ratio, true));
    norm2 = register_module("norm2", LayerNorm(dim, kEps));
    mlp = register_module(
        "mlp", Mlp(MlpOptions(dim, static_cast<int64_t>(static_cast<double>(dim) * mlp_ratio))));
  }

  torch::Tensor forward(torch::Tensor x, int64_t H, int64_t W) {
    x = x + drop_path(attn->forward(norm1->forward(x), H, W), drop_path_, is_training());
    return x + drop_path(mlp->forward(norm2->forward(x)), drop_path_, is_training());
  }

  LayerNorm norm1{nullptr}, norm2{nullptr};
  SpatialReductionAttention attn{nullptr};
  Mlp mlp{nullptr};

 private:
  double drop_path_;
};
TORCH_MODULE(TwinsBlock);

class PatchEmbedImpl : public torch::nn::Module {
 public:
  PatchEmbedImpl(int64_t patch_size, int64_t in_chans, int64_t embed_dim) {
    proj = register_module("proj", Conv2d(ConvOptions(in_chans, embed_dim, patch_size)
                                              .stride(patch_size)
                                              .bias(true)
                                              .padding(torch::ExpandingArray<2>(0))));
    norm = register_module("norm", LayerNorm(embed_dim, kTorchEps));
  }
  // NCHW -> tokens [B, h * w, C]; h, w returned through the references.
  torch::Tensor forward(const torch::Tensor& x, int64_t& h, int64_t& w) {
    auto y = proj->forward(x);
    h = y.size(2);
    w = y.size(3);
    return norm->forward(y.flatten(2).transpose(1, 2));
  }

  Conv2d proj{nullptr};
  LayerNorm norm{nullptr};
};
TORCH_MODULE(PatchEmbed);

class PosConvImpl : public torch::nn::Module {
 public:
  explicit PosConvImpl(int64_t dim) {
    conv_ = Conv2d(ConvOptions(dim, dim, 3).depthwise(true).bias(true));
    register_module("proj", Sequential(conv_));
  }
  torch::Tensor forward(const torch::Tensor& x, int64_t H, int64_t W) {
    const int64_t B = x.size(0), C = x.size(2);
    const auto feat = x.transpose(1, 2).reshape({B, C, H, W});
    return (conv_->forward(feat) + feat).flatten(2).transpose(1, 2);
  }

 private:
  Conv2d conv_{nullptr};
};
TORCH_MODULE(PosConv);

class Twins : public LinearHeadClassifier {
 public:
  Twins(const std::string& arch, const TwinsConfig& cfg, const ModelOptions& options)
      : LinearHeadClassifier(arch, options, "head"), cfg_(cfg) {
    const size_t n = cfg.depths.size();
    patch_embeds_ = register_module("patch_embeds", torch::nn::ModuleList());
    int64_t prev = options.in_chans;
    for (size_t i = 0; i < n; ++i) {
      auto pe = PatchEmbed(i == 0 ? cfg.patch_size : 2, prev, cfg.embed_dims[i]);
      patch_embeds_->push_back(pe);
      pe_list_.push_back(pe);
      prev = cfg.embed_dims[i];
    }
    int64_t total = 0;
    for (int64_t d : cfg.depths) total += d;
    const auto dpr = drop_path_rates(options.drop_path_rate, total);
    blocks_ = register_module("blocks", torch::nn::ModuleList());
    size_t cur = 0;
    for (size_t k = 0; k < n; ++k) {
      torch::nn::ModuleList stage;
      std::vector<TwinsBlock> list;
      for (int64_t i = 0; i < cfg.depths[k]; ++i) {
        auto b = TwinsBlock(cfg.embed_dims[k], cfg.num_heads[k], cfg.mlp_ratios[k],
                            cfg.sr_ratios[k], dpr[cur + static_cast<size_t>(i)]);
        stage->push_back(b);
        list.push_back(b);
      }
      blocks_->push_back(stage);
      block_lists_.push_back(list);
      cur += static_cast<size_t>(cfg.depths[k]);
    }
    pos_block_ = register_module("pos_block", torch::nn::ModuleList());
    for (size_t k = 0; k < n; ++k) {
      auto pc = PosConv(cfg.embed_dims[k]);
      pos_block_->push_back(pc);
      pos_list_.push_back(pc);
    }
    set_num_features(cfg.embed_dims.back());
    norm_ = register_module("norm", LayerNorm(num_features(), kEps));
    register_fc(num_features());

    init_trunc_linear_fan_out_conv(*this);  // timm's _init_weights
  }

  // Output: the normalised tokens of the last stage, [B, h * w, C].
  torch::Tensor forward_features(torch::Tensor x) override {
    const int64_t B = x.size(0);
    const size_t n = pe_list_.size();
    for (size_t i = 0; i < n; ++i) {
      int64_t h = 0, w = 0;
      x = pe_list_[i]->forward(x, h, w);
      for (size_t j = 0; j < block_lists_[i].size(); ++j) {
        x = block_lists_[i][j]->forward(x, h, w);
        if (j == 0) x = pos_list_[i]->forward(x, h, w);
      }
      if (i + 1 < n) x = x.reshape({B, h, w, -1}).permute({0, 3, 1, 2}).contiguous();
    }
    return norm_->forward(x);
  }
  torch::Tensor pre_logits(torch::Tensor x) override { return x.mean(1); }  // tokens [N, L, C]
  std::vector<std::string> first_conv_names() const override { return {"patch_embeds.0.proj"}; }
  // Stage k sees the image reduced by patch_size * 2^k and sub-samples it by sr_ratio[k].
  int64_t min_input_size() const override {
    int64_t need = 1;
    int64_t reduction = cfg_.patch_size;
    for (size_t k = 0; k < cfg_.depths.size(); ++k) {
      need = std::max(need, reduction * std::max<int64_t>(1, cfg_.sr_ratios[k]));
      reduction *= 2;
    }
    return need;
  }

 private:
  TwinsConfig cfg_;
  torch::nn::ModuleList patch_embeds_{nullptr}, blocks_{nullptr}, pos_block_{nullptr};
  std::vector<PatchEmbed> pe_list_;
  std::vector<std::vector<TwinsBlock>> block_lists_;
  std::vector<PosConv> pos_list_;
  LayerNorm norm_{nullptr};
};

}  // namespace

void register_twins_models(Registry& r) {
  TwinsConfig c;
  c.patch_size = 4;
  c.embed_dims = {64, 128, 320, 512};
  c.num_heads = {1, 2, 5, 8};
  c.mlp_ratios = {8, 8, 4, 4};
  c.depths = {3, 4, 18, 3};
  c.sr_ratios = {8, 4, 2, 1};
  r.add<Twins>("twins_pcpvt_base", c);
}

}  // namespace pepr::models
