// timm/models/metaformer.py, natively, for PoolFormer (v1): token mixer = pooling, NCHW all the
// way:
//   stem (Conv2d k7 s4 p2) -> stages.i (downsample for i > 0: Conv2d k3 s2 p1; blocks:
//   x + layer_scale1 * (avgpool3(norm1 x) - norm1 x); x + layer_scale2 * Mlp(norm2 x), the Mlp
//   with 1x1 convolutions and GELU) -> head (avg pool, LayerNorm2d (eps 1e-6), fc).
// PoolFormer v1's block norms are GroupNorm1 (nn.GroupNorm(1, C), eps 1e-5); the head has no
// dropout (timm's MetaFormer only applies drop_rate inside an MlpHead).
#include <vector>

#include <torch/torch.h>

#include "models/layers/common.hpp"
#include "models/layers/transformer.hpp"
#include "models/model.hpp"
#include "models/registry.hpp"

namespace pepr::models {

namespace {

struct PoolFormerConfig {
  std::vector<int64_t> depths{2, 2, 6, 2};
  std::vector<int64_t> dims{64, 128, 320, 512};
  double layer_scale_init_value = 1e-5;
};

// timm's metaformer Scale (use_nchw): x * scale.view(C, 1, 1).
class ScaleImpl : public torch::nn::Module {
 public:
  ScaleImpl(int64_t dim, double init_value) {
    scale = register_parameter("scale", torch::full({dim}, init_value));
  }
  torch::Tensor forward(const torch::Tensor& x) { return x * scale.view({-1, 1, 1}); }
  torch::Tensor scale;
};
TORCH_MODULE(Scale);

class PoolFormerBlockImpl : public torch::nn::Module {
 public:
  PoolFormerBlockImpl(int64_t dim, double ls_init, double drop_path) : drop_path_(drop_path) {
    norm1 = register_module("norm1", GroupNorm1(dim));
    layer_scale1 = register_module("layer_scale1", Scale(dim, ls_init));
    norm2 = register_module("norm2", GroupNorm1(dim));
    mlp = register_module("mlp", Mlp(MlpOptions(dim, 4 * dim).use_conv(true).bias(true)));
    layer_scale2 = register_module("layer_scale2", Scale(dim, ls_init));
  }

  torch::Tensor forward(torch::Tensor x) {
    auto y = norm1->forward(x);
    // Pooling: AvgPool2d(3, stride 1, padding 1, count_include_pad=False), minus its input.
    y = torch::avg_pool2d(y, {3, 3}, {1, 1}, {1, 1}, /*ceil_mode=*/false,
                          /*count_include_pad=*/false) -
        y;
    x = x + layer_scale1->forward(drop_path(y, drop_path_, is_training()));
    return x + layer_scale2->forward(
                   drop_path(mlp->forward(norm2->forward(x)), drop_path_, is_training()));
  }

  GroupNorm1 norm1{nullptr}, norm2{nullptr};
  Scale layer_scale1{nullptr}, layer_scale2{nullptr};
  Mlp mlp{nullptr};

 private:
  double drop_path_;
};
TORCH_MODULE(PoolFormerBlock);

class MetaFormerStageImpl : public torch::nn::Module {
 public:
  MetaFormerStageImpl(int64_t in_chs, int64_t out_chs, int64_t depth, double ls_init,
                      const std::vector<double>& dpr) {
    if (in_chs != out_chs) {
      auto ds = std::make_shared<torch::nn::Module>();
      down_conv_ = ds->register_module("conv", Conv2d(ConvOptions(in_chs, out_chs, 3)
                                                          .stride(2)
                                                          .bias(true)
                                                          .padding(torch::ExpandingArray<2>(1))));
      register_module("downsample", ds);
    }
    Sequential b;
    for (int64_t i = 0; i < depth; ++i) {
      b->push_back(PoolFormerBlock(out_chs, ls_init, dpr[static_cast<size_t>(i)]));
    }
    blocks = register_module("blocks", b);
  }

  torch::Tensor forward(torch::Tensor x) {
    if (down_conv_) x = down_conv_->forward(x);
    return blocks->forward(x);
  }

  Sequential blocks{nullptr};

 private:
  Conv2d down_conv_{nullptr};
};
TORCH_MODULE(MetaFormerStage);

class MetaFormer : public Classifier {
 public:
  MetaFormer(const std::string& arch, const PoolFormerConfig& cfg, const ModelOptions& options)
      : Classifier(arch, options) {
    const auto& dims = cfg.dims;
    auto stem = std::make_shared<torch::nn::Module>();
    stem_conv_ = stem->register_module("conv", Conv2d(ConvOptions(options.in_chans, dims[0], 7)
                                                          .stride(4)
                                                          .bias(true)
                                                          .padding(torch::ExpandingArray<2>(2))));
    register_module("stem", stem);
    const auto dpr = drop_path_rates(options.drop_path_rate, cfg.depths);
    Sequential stages;
    int64_t prev = dims[0];
    for (size_t i = 0; i < dims.size(); ++i) {
      stages->push_back(
          MetaFormerStage(prev, dims[i], cfg.depths[i], cfg.layer_scale_init_value, dpr[i]));
      prev = dims[i];
    }
    stages_ = register_module("stages", stages);
    set_num_features(prev);
    auto head = std::make_shared<torch::nn::Module>();
    head_norm_ = head->register_module("norm", LayerNorm2d(prev, 1e-6));
    head_fc_ = head->register_module("fc", torch::nn::Linear(prev, options.num_classes));
    head_ = register_module("head", head);
    // timm's _init_weights: trunc_normal_(.02) for Conv2d and Linear, zero biases.
    init_trunc_normal(*this, 0.02);
  }

  torch::Tensor forward_features(torch::Tensor x) override {
    return stages_->forward(stem_conv_->forward(x));
  }
  torch::Tensor forward_head(torch::Tensor x) override {
    x = head_norm_->forward(x.mean({2, 3}, /*keepdim=*/true)).flatten(1);
    return head_fc_->forward(x);
  }
  std::vector<std::string> first_conv_names() const override { return {"stem.conv"}; }
  std::vector<std::string> classifier_names() const override { return {"head.fc"}; }
  void reset_classifier(int64_t num_classes) override {
    set_num_classes(num_classes);
    head_fc_ = head_->replace_module("fc", torch::nn::Linear(num_features(), num_classes));
  }
  // The 7x7 stride-4 stem with padding 2 needs 3 pixels; everything after runs on 1x1.
  int64_t min_input_size() const override { return 3; }

 private:
  Conv2d stem_conv_{nullptr};
  Sequential stages_{nullptr};
  std::shared_ptr<torch::nn::Module> head_;
  LayerNorm2d head_norm_{nullptr};
  torch::nn::Linear head_fc_{nullptr};
};

}  // namespace

void register_metaformer_models(Registry& r) {
  PoolFormerConfig c;
  c.depths = {6, 6, 18, 6};
  c.dims = {96, 192, 384, 768};
  c.layer_scale_init_value = 1e-6;
  r.add<MetaFormer>("poolformer_m36", c);
}

}  // namespace pepr::models
