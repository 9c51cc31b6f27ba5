// timm/models/crossvit.py, natively (two branches, patch embedding by one convolution):
//   for each branch i: the image scaled to img_size * img_scale[i] (bicubic interpolation,
//   align_corners=False, as timm's scale_image) -> patch_embed.i.proj (Conv2d k=s=patch) ->
//   [cls_token_i, tokens] + pos_embed_i
//   -> blocks.k (MultiScaleBlock: per-branch ViT blocks; each branch's CLS token projected
//   (projs: LayerNorm, GELU, Linear) to the other branch's width, fused by cross-attention over
//   the other branch's patch tokens (fusion: CrossAttentionBlock), projected back (revert_projs))
//   -> norm.i (LayerNorm) -> the CLS tokens -> head.i (Linear) -> mean over the branches.
// Norms: nn.LayerNorm(eps=1e-6) everywhere; GELU exact. The position embeddings fix the input
// size (timm's fixed_input_size): crossvit_9_240 runs on 240x240 only, its second branch on the
// image interpolated to 224x224.
#include <cmath>
#include <vector>

#include <fmt/format.h>
#include <torch/torch.h>

#include "core/error.hpp"
#include "models/layers/common.hpp"
#include "models/layers/transformer.hpp"
#include "models/model.hpp"
#include "models/registry.hpp"

namespace pepr::models {

namespace {

constexpr double kEps = 1e-6;

struct CrossVitConfig {
  int64_t img_size = 224;
  std::vector<double> img_scale{1.0, 1.0};
  std::vector<int64_t> patch_size{8, 16};
  std::vector<int64_t> embed_dim{192, 384};
  // Per MultiScaleBlock: {depth of branch 0, depth of branch 1, fusion depth}.
  std::vector<std::vector<int64_t>> depth{{1, 3, 1}, {1, 3, 1}, {1, 3, 1}};
  std::vector<int64_t> num_heads{6, 12};
  std::vector<double> mlp_ratio{2.0, 2.0, 4.0};
  bool qkv_bias = true;
};

// timm's CrossAttention: the CLS token (query) attends to all tokens of the sequence.
class CrossAttentionImpl : public torch::nn::Module {
 public:
  CrossAttentionImpl(int64_t dim, int64_t num_heads, bool qkv_bias)
      : num_heads_(num_heads), scale_(std::pow(static_cast<double>(dim / num_heads), -0.5)) {
    const auto lin = [&](int64_t in, int64_t out, bool bias) {
      return torch::nn::Linear(torch::nn::LinearOptions(in, out).bias(bias));
    };
    wq = register_module("wq", lin(dim, dim, qkv_bias));
    wk = register_module("wk", lin(dim, dim, qkv_bias));
    wv = register_module("wv", lin(dim, dim, qkv_bias));
    proj = register_module("proj", lin(dim, dim, true));
  }

  torch::Tensor forward(const torch::Tensor& x) {
    const int64_t B = x.size(0), N = x.size(1), C = x.size(2);
    const int64_t h = num_heads_;
    const auto q = wq->forward(x.narrow(1, 0, 1)).reshape({B, 1, h, C / h}).permute({0, 2, 1, 3});
    const auto k = wk->forward(x).reshape({B, N, h, C / h}).permute({0, 2, 1, 3});
    const auto v = wv->forward(x).reshape({B, N, h, C / h}).permute({0, 2, 1, 3});
    const auto attn = (torch::matmul(q, k.transpose(-2, -1)) * scale_).softmax(-1);
    return proj->forward(torch::matmul(attn, v).transpose(1, 2).reshape({B, 1, C}));
  }

  torch::nn::Linear wq{nullptr}, wk{nullptr}, wv{nullptr}, proj{nullptr};

 private:
  int64_t num_heads_;
  double scale_;
};
TORCH_MODULE(CrossAttention);

class CrossAttentionBlockImpl : public torch::nn::Module {
 public:
  CrossAttentionBlockImpl(int64_t dim, int64_t num_heads, bool qkv_bias, double drop_path)
      : drop_path_(drop_path) {
    norm1 = register_module("norm1", LayerNorm(dim, kEps));
    attn = register_module("attn", CrossAttention(dim, num_heads, qkv_bias));
  }

  torch::Tensor forward(const torch::Tensor& x) {
    return x.narrow(1, 0, 1) +
           drop_path(attn->forward(norm1->forward(x)), drop_path_, is_training());
  }

  LayerNorm norm1{nullptr};
  CrossAttention attn{nullptr};

 private:
  double drop_path_;
};
TORCH_MODULE(CrossAttentionBlock);

// LayerNorm -> GELU -> Linear, as an nn.Sequential (children 0 and 2).
Sequential norm_act_linear(int64_t in, int64_t out) {
  return Sequential(LayerNorm(in, kEps), Activation(Act::gelu), torch::nn::Linear(in, out));
}

class MultiScaleBlockImpl : public torch::nn::Module {
 public:
  MultiScaleBlockImpl(const CrossVitConfig& cfg, const std::vector<int64_t>& depth,
                      const std::vector<double>& dpr, double proj_drop, double attn_drop) {
    const auto& dim = cfg.embed_dim;
    const size_t nb = dim.size();
    blocks = register_module("blocks", torch::nn::ModuleList());
    for (size_t d = 0; d < nb; ++d) {
      Sequential seq;
      for (int64_t i = 0; i < depth[d]; ++i) {
        seq->push_back(TransformerBlock(TransformerBlockOptions(dim[d], cfg.num_heads[d])
                                            .mlp_ratio(cfg.mlp_ratio[d])
                                            .qkv_bias(cfg.qkv_bias)
                                            .norm_eps(kEps)
                                            .proj_drop(proj_drop)
                                            .attn_drop(attn_drop)
                                            .drop_path(dpr[static_cast<size_t>(i)])));
      }
      if (depth[d] == 0) {
        throw Error("crossvit: branches without transformer blocks are not ported");
      }
      blocks->push_back(seq);
      branch_blocks_.push_back(seq);
    }
    projs = register_module("projs", torch::nn::ModuleList());
    for (size_t d = 0; d < nb; ++d) {
      auto seq = norm_act_linear(dim[d], dim[(d + 1) % nb]);
      projs->push_back(seq);
      projs_.push_back(seq);
    }
    if (depth.back() != 0) {
      throw Error("crossvit: fusion depths other than 0 (one CrossAttentionBlock) are not ported");
    }
    fusion = register_module("fusion", torch::nn::ModuleList());
    for (size_t d = 0; d < nb; ++d) {
      const size_t d_ = (d + 1) % nb;
      auto blk = CrossAttentionBlock(dim[d_], cfg.num_heads[d_], cfg.qkv_bias, dpr.back());
      fusion->push_back(blk);
      fusion_.push_back(blk);
    }
    revert_projs = register_module("revert_projs", torch::nn::ModuleList());
    for (size_t d = 0; d < nb; ++d) {
      auto seq = norm_act_linear(dim[(d + 1) % nb], dim[d]);
      revert_projs->push_back(seq);
      revert_projs_.push_back(seq);
    }
  }

  std::vector<torch::Tensor> forward(const std::vector<torch::Tensor>& x) {
    const size_t nb = x.size();
    std::vector<torch::Tensor> outs_b;
    for (size_t i = 0; i < nb; ++i) outs_b.push_back(branch_blocks_[i]->forward(x[i]));
    std::vector<torch::Tensor> outs;
    for (size_t i = 0; i < nb; ++i) {
      const auto proj_cls = projs_[i]->forward(outs_b[i].narrow(1, 0, 1));
      const auto& other = outs_b[(i + 1) % nb];
      auto tmp = torch::cat({proj_cls, other.narrow(1, 1, other.size(1) - 1)}, 1);
      tmp = fusion_[i]->forward(tmp);
      const auto reverted = revert_projs_[i]->forward(tmp.narrow(1, 0, 1));
      outs.push_back(torch::cat({reverted, outs_b[i].narrow(1, 1, outs_b[i].size(1) - 1)}, 1));
    }
    return outs;
  }

  torch::nn::ModuleList blocks{nullptr}, projs{nullptr}, fusion{nullptr}, revert_projs{nullptr};

 private:
  std::vector<Sequential> branch_blocks_, projs_, revert_projs_;
  std::vector<CrossAttentionBlock> fusion_;
};
TORCH_MODULE(MultiScaleBlock);

class CrossVit : public Classifier {
 public:
  CrossVit(const std::string& arch, const CrossVitConfig& cfg, const ModelOptions& options)
      : Classifier(arch, options), cfg_(cfg) {
    const size_t nb = cfg.patch_size.size();
    for (size_t i = 0; i < nb; ++i) {
      // int(img_size * scale), as timm computes img_size_scaled.
      const auto s = static_cast<int64_t>(static_cast<double>(cfg.img_size) * cfg.img_scale[i]);
      img_size_scaled_.push_back(s);
      const int64_t num_patches = (s / cfg.patch_size[i]) * (s / cfg.patch_size[i]);
      pos_embed_.push_back(register_parameter(
          fmt::format("pos_embed_{}", i), torch::zeros({1, 1 + num_patches, cfg.embed_dim[i]})));
      cls_token_.push_back(register_parameter(fmt::format("cls_token_{}", i),
                                              torch::zeros({1, 1, cfg.embed_dim[i]})));
    }
    patch_embed_ = register_module("patch_embed", torch::nn::ModuleList());
    for (size_t i = 0; i < nb; ++i) {
      // PatchEmbed: a module holding "proj".
      auto pe = std::make_shared<torch::nn::Module>();
      auto proj = pe->register_module(
          "proj", Conv2d(ConvOptions(options.in_chans, cfg.embed_dim[i], cfg.patch_size[i])
                             .stride(cfg.patch_size[i])
                             .bias(true)
                             .padding(torch::ExpandingArray<2>(0))));
      patch_embed_->push_back(pe);
      proj_.push_back(proj);
    }
    int64_t total_depth = 0;
    for (const auto& d : cfg.depth) total_depth += d[d.size() - 2] + d.back();
    const auto dpr = drop_path_rates(options.drop_path_rate, total_depth);
    blocks_ = register_module("blocks", torch::nn::ModuleList());
    size_t ptr = 0;
    for (const auto& d : cfg.depth) {
      const auto curr = static_cast<size_t>(*std::max_element(d.begin(), d.end() - 1) + d.back());
      const std::vector<double> dpr_(dpr.begin() + static_cast<std::ptrdiff_t>(ptr),
                                     dpr.begin() + static_cast<std::ptrdiff_t>(ptr + curr));
      auto blk = MultiScaleBlock(cfg, d, dpr_, 0.0, 0.0);
      blocks_->push_back(blk);
      block_list_.push_back(blk);
      ptr += curr;
    }
    norm_ = register_module("norm", torch::nn::ModuleList());
    int64_t features = 0;
    for (size_t i = 0; i < nb; ++i) {
      auto n = LayerNorm(cfg.embed_dim[i], kEps);
      norm_->push_back(n);
      norm_list_.push_back(n);
      features += cfg.embed_dim[i];
    }
    set_num_features(features);
    head_ = register_module("head", make_heads(options.num_classes));

    // timm's init: trunc_normal_(.02) for the position embeddings, CLS tokens and every Linear
    // (zero bias); the patch convolutions keep PyTorch's default.
    torch::NoGradGuard no_grad;
    for (size_t i = 0; i < nb; ++i) {
      trunc_normal_(pos_embed_[i], 0.02);
      trunc_normal_(cls_token_[i], 0.02);
    }
    for (auto& m : modules(/*include_self=*/false)) {
      if (auto* linear = m->as<torch::nn::LinearImpl>()) {
        trunc_normal_(linear->weight, 0.02);
        linear->bias.zero_();
      }
    }
  }

  // The normalised CLS tokens of the branches, concatenated: [N, sum(embed_dim)] (timm's
  // pre-logits features for global_pool 'token').
  torch::Tensor forward_features(torch::Tensor x) override {
    const int64_t B = x.size(0);
    std::vector<torch::Tensor> xs;
    for (size_t i = 0; i < proj_.size(); ++i) {
      auto x_ = x;
      const int64_t ss = img_size_scaled_[i];
      if (x_.size(2) != ss || x_.size(3) != ss) {
        namespace F = torch::nn::functional;
        x_ = F::interpolate(x_, F::InterpolateFuncOptions()
                                    .size(std::vector<int64_t>{ss, ss})
                                    .mode(torch::kBicubic)
                                    .align_corners(false));
      }
      x_ = proj_[i]->forward(x_).flatten(2).transpose(1, 2);
      x_ = torch::cat({cls_token_[i].expand({B, -1, -1}), x_}, 1) + pos_embed_[i];
      xs.push_back(x_);
    }
    for (auto& blk : block_list_) xs = blk->forward(xs);
    std::vector<torch::Tensor> cls;
    for (size_t i = 0; i < xs.size(); ++i) {
      cls.push_back(norm_list_[i]->forward(xs[i].select(1, 0)));
    }
    return torch::cat(cls, 1);
  }

  torch::Tensor forward_head(torch::Tensor x) override {
    if (options().drop_rate > 0.0) x = torch::dropout(x, options().drop_rate, is_training());
    std::vector<torch::Tensor> logits;
    int64_t offset = 0;
    for (size_t i = 0; i < cfg_.embed_dim.size(); ++i) {
      const int64_t d = cfg_.embed_dim[i];
      logits.push_back(head_[i]->as<torch::nn::LinearImpl>()->forward(x.narrow(1, offset, d)));
      offset += d;
    }
    return torch::stack(logits, 0).mean(0);
  }

  // One patch embedding and one classifier per branch, as timm lists them.
  std::vector<std::string> first_conv_names() const override {
    return branch_names("patch_embed", ".proj");
  }
  std::vector<std::string> classifier_names() const override { return branch_names("head", ""); }
  void reset_classifier(int64_t num_classes) override {
    set_num_classes(num_classes);
    head_ = replace_module("head", make_heads(num_classes));
  }
  std::optional<int64_t> fixed_input_size() const override { return cfg_.img_size; }

 private:
  // "<list>.0<suffix>", "<list>.1<suffix>", ...: one name per branch.
  std::vector<std::string> branch_names(const std::string& list, const std::string& suffix) const {
    std::vector<std::string> out;
    for (size_t i = 0; i < cfg_.embed_dim.size(); ++i)
      out.push_back(list + "." + std::to_string(i) + suffix);
    return out;
  }
  torch::nn::ModuleList make_heads(int64_t num_classes) const {
    torch::nn::ModuleList heads;
    for (const int64_t d : cfg_.embed_dim) heads->push_back(torch::nn::Linear(d, num_classes));
    return heads;
  }

  CrossVitConfig cfg_;
  std::vector<int64_t> img_size_scaled_;
  std::vector<torch::Tensor> pos_embed_, cls_token_;
  torch::nn::ModuleList patch_embed_{nullptr}, blocks_{nullptr}, norm_{nullptr}, head_{nullptr};
  std::vector<Conv2d> proj_;
  std::vector<MultiScaleBlock> block_list_;
  std::vector<LayerNorm> norm_list_;
};

}  // namespace

void register_crossvit_models(Registry& r) {
  CrossVitConfig c;
  c.img_size = 240;
  c.img_scale = {1.0, 224.0 / 240.0};
  c.patch_size = {12, 16};
  c.embed_dim = {128, 256};
  c.depth = {{1, 3, 0}, {1, 3, 0}, {1, 3, 0}};
  c.num_heads = {4, 4};
  c.mlp_ratio = {3.0, 3.0, 1.0};
  r.add<CrossVit>("crossvit_9_240", c);
}

}  // namespace pepr::models
