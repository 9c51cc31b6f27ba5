// timm/models/convnext.py, natively (patch stem, output stride 32, no GRN):
//   stem (Conv2d k4 s4 + LayerNorm2d) -> stages.i (downsample: LayerNorm2d + Conv2d k2 s2; blocks:
//   depthwise 7x7 -> LayerNorm -> Mlp (GELU) -> layer scale "gamma" -> + shortcut)
//   -> head: NormMlpClassifierHead (avg pool, LayerNorm2d, fc), or with head_norm_first
//   norm_pre (LayerNorm2d) + ClassifierHead.
// All norms are timm's LayerNorm / LayerNorm2d with eps 1e-6. With conv_mlp the block's norm is
// LayerNorm2d and the MLP uses 1x1 convolutions (NCHW); without it the block permutes to NHWC and
// uses LayerNorm + Linear.
#include <vector>

#include <torch/torch.h>

#include "models/layers/common.hpp"
#include "models/layers/transformer.hpp"
#include "models/model.hpp"
#include "models/registry.hpp"

namespace pepr::models {

namespace {

constexpr double kEps = 1e-6;

struct ConvNeXtConfig {
  std::vector<int64_t> depths{3, 3, 9, 3};
  std::vector<int64_t> dims{96, 192, 384, 768};
  int64_t kernel_size = 7;
  double ls_init_value = 1e-6;
  int64_t patch_size = 4;
  bool head_norm_first = false;
  bool conv_mlp = false;
  double mlp_ratio = 4.0;
};

class ConvNeXtBlockImpl : public torch::nn::Module {
 public:
  ConvNeXtBlockImpl(int64_t dim, int64_t kernel_size, double ls_init_value, bool conv_mlp,
                    double mlp_ratio, double drop_path)
      : conv_mlp_(conv_mlp), drop_path_(drop_path) {
    conv_dw = register_module(
        "conv_dw", Conv2d(ConvOptions(dim, dim, kernel_size).depthwise(true).bias(true)));
    const auto hidden = static_cast<int64_t>(mlp_ratio * static_cast<double>(dim));
    if (conv_mlp) {
      norm2d = register_module("norm", LayerNorm2d(dim, kEps));
    } else {
      norm = register_module("norm", LayerNorm(dim, kEps));
    }
    mlp = register_module("mlp", Mlp(MlpOptions(dim, hidden).use_conv(conv_mlp)));
    gamma = register_parameter("gamma", torch::full({dim}, ls_init_value));
  }

  torch::Tensor forward(torch::Tensor x) {
    const auto shortcut = x;
    x = conv_dw->forward(x);
    if (conv_mlp_) {
      x = mlp->forward(norm2d->forward(x));
    } else {
      x = mlp->forward(norm->forward(x.permute({0, 2, 3, 1}))).permute({0, 3, 1, 2});
    }
    x = x.mul(gamma.reshape({1, -1, 1, 1}));
    return drop_path(x, drop_path_, is_training()) + shortcut;
  }

  Conv2d conv_dw{nullptr};
  LayerNorm2d norm2d{nullptr};
  LayerNorm norm{nullptr};
  Mlp mlp{nullptr};
  torch::Tensor gamma;

 private:
  bool conv_mlp_;
  double drop_path_;
};
TORCH_MODULE(ConvNeXtBlock);

// timm's ConvNeXtStage: a 2x2 (or, for a width change alone, 1x1) downsample, then the blocks.
NormConvStage convnext_stage(int64_t in_chs, int64_t out_chs, int64_t stride, int64_t depth,
                             const ConvNeXtConfig& cfg, const std::vector<double>& dpr) {
  Sequential b;
  for (int64_t i = 0; i < depth; ++i) {
    b->push_back(ConvNeXtBlock(out_chs, cfg.kernel_size, cfg.ls_init_value, cfg.conv_mlp,
                               cfg.mlp_ratio, dpr[static_cast<size_t>(i)]));
  }
  const int64_t downsample = in_chs != out_chs || stride > 1 ? (stride > 1 ? 2 : 1) : 0;
  return NormConvStage(in_chs, out_chs, downsample, kEps, b);
}

class ConvNeXt : public Classifier {
 public:
  ConvNeXt(const std::string& arch, const ConvNeXtConfig& cfg, const ModelOptions& options)
      : Classifier(arch, options), cfg_(cfg) {
    const auto& dims = cfg.dims;
    stem_ = register_module("stem", patchify_stem(options.in_chans, dims[0], cfg.patch_size, kEps));
    const auto dpr = drop_path_rates(options.drop_path_rate, cfg.depths);
    Sequential stages;
    int64_t prev = dims[0];
    for (size_t i = 0; i < 4; ++i) {
      const int64_t stride = i > 0 ? 2 : 1;
      stages->push_back(convnext_stage(prev, dims[i], stride, cfg.depths[i], cfg, dpr[i]));
      prev = dims[i];
    }
    stages_ = register_module("stages", stages);
    set_num_features(prev);
    if (cfg.head_norm_first) {
      norm_pre_ = register_module("norm_pre", LayerNorm2d(prev, kEps));
      head_ = register_module("head", ClassifierHead(prev, options.num_classes, options.drop_rate));
    } else {
      norm_head_ = register_module(
          "head", NormMlpClassifierHead(prev, options.num_classes, options.drop_rate, kEps));
    }
    // timm's _init_weights: trunc_normal_(std .02) for Conv2d and Linear, zero biases.
    init_trunc_normal(*this, 0.02);
  }

  torch::Tensor forward_features(torch::Tensor x) override {
    x = stages_->forward(stem_->forward(x));
    if (norm_pre_) x = norm_pre_->forward(x);
    return x;
  }
  torch::Tensor forward_head(torch::Tensor x) override {
    return norm_head_ ? norm_head_->forward(x) : head_->forward(x);
  }
  std::vector<std::string> first_conv_names() const override { return {"stem.0"}; }
  std::vector<std::string> classifier_names() const override { return {"head.fc"}; }
  void reset_classifier(int64_t num_classes) override {
    set_num_classes(num_classes);
    if (norm_head_) {
      norm_head_->reset(num_classes);
    } else {
      head_->reset(num_classes);
    }
  }
  // The stem's 4x4 patches and three 2x2 downsampling convolutions.
  int64_t min_input_size() const override { return cfg_.patch_size * 8; }

 private:
  ConvNeXtConfig cfg_;
  Sequential stem_{nullptr}, stages_{nullptr};
  LayerNorm2d norm_pre_{nullptr};
  ClassifierHead head_{nullptr};
  NormMlpClassifierHead norm_head_{nullptr};
};

}  // namespace

void register_convnext_models(Registry& r) {
  {
    ConvNeXtConfig c;
    c.depths = {2, 2, 6, 2};
    c.dims = {40, 80, 160, 320};
    c.conv_mlp = true;
    r.add<ConvNeXt>("convnext_atto", c);
  }
  {
    ConvNeXtConfig c;
    c.depths = {3, 3, 9, 3};
    c.dims = {96, 192, 384, 768};
    c.head_norm_first = true;
    c.conv_mlp = true;
    r.add<ConvNeXt>("convnext_tiny_hnf", c);
  }
}

}  // namespace pepr::models
