// timm/models/resnetv2.py, natively, for the BatchNorm pre-activation variants (resnetv2_50):
// stem (7x7 conv, max pool), stages.N.blocks.M (PreActBottleneck: norm1 conv1 norm2 conv2 norm3
// conv3, downsample.conv on the pre-activated input), norm (BatchNorm + ReLU), head
// (ClassifierHead with a 1x1 conv "fc"). The BiT models (StdConv2d + GroupNorm) are not here.
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "models/headed_classifier.hpp"
#include "models/layers/common.hpp"
#include "models/layers/dpnvov.hpp"
#include "models/model.hpp"
#include "models/registry.hpp"

namespace pepr::models {

namespace {

// DownsampleConv with preact=True: a 1x1 (strided) conv, no norm.
class DownsampleConvImpl : public torch::nn::Module {
 public:
  DownsampleConvImpl(int64_t in_chs, int64_t out_chs, int64_t stride) {
    conv = register_module("conv", create_conv2d(in_chs, out_chs, 1, stride));
  }
  torch::Tensor forward(const torch::Tensor& x) { return conv->forward(x); }
  Conv2d conv{nullptr};
};
TORCH_MODULE(DownsampleConv);

class PreActBottleneckImpl : public torch::nn::Module {
 public:
  PreActBottleneckImpl(int64_t in_chs, int64_t out_chs, double bottle_ratio, int64_t stride,
                       bool proj, Act act, double drop_path_rate)
      : drop_path_rate_(drop_path_rate) {
    const int64_t mid_chs = make_divisible(static_cast<double>(out_chs) * bottle_ratio);
    if (proj) downsample = register_module("downsample", DownsampleConv(in_chs, out_chs, stride));
    norm1 = register_module("norm1", BatchNormAct2d(in_chs, act));
    conv1 = register_module("conv1", create_conv2d(in_chs, mid_chs, 1));
    norm2 = register_module("norm2", BatchNormAct2d(mid_chs, act));
    conv2 = register_module("conv2", create_conv2d(mid_chs, mid_chs, 3, stride));
    norm3 = register_module("norm3", BatchNormAct2d(mid_chs, act));
    conv3 = register_module("conv3", create_conv2d(mid_chs, out_chs, 1));
  }

  torch::Tensor forward(const torch::Tensor& input) {
    const auto x_preact = norm1->forward(input);
    const auto shortcut = downsample ? downsample->forward(x_preact) : input;
    auto x = conv1->forward(x_preact);
    x = conv2->forward(norm2->forward(x));
    x = conv3->forward(norm3->forward(x));
    x = drop_path(x, drop_path_rate_, is_training());
    return x + shortcut;
  }

  DownsampleConv downsample{nullptr};
  BatchNormAct2d norm1{nullptr}, norm2{nullptr}, norm3{nullptr};
  Conv2d conv1{nullptr}, conv2{nullptr}, conv3{nullptr};

 private:
  double drop_path_rate_;
};
TORCH_MODULE(PreActBottleneck);

// ResNetStage: its only child is "blocks".
class ResNetStageImpl : public torch::nn::Module {
 public:
  explicit ResNetStageImpl(Sequential b) : blocks(register_module("blocks", std::move(b))) {}
  torch::Tensor forward(torch::Tensor x) { return blocks->forward(std::move(x)); }
  Sequential blocks;
};
TORCH_MODULE(ResNetStage);

struct ResNetV2Config {
  std::vector<int64_t> layers;
  std::vector<int64_t> channels{256, 512, 1024, 2048};
  int64_t stem_chs = 64;
  double bottle_ratio = 0.25;
  Act act = Act::relu;
};

class ResNetV2 : public HeadedClassifier<dpnvov::ConvClassifierHead> {
 public:
  ResNetV2(const std::string& arch, const ResNetV2Config& cfg, const ModelOptions& options)
      : HeadedClassifier(arch, options) {
    const int64_t stem_chs = make_divisible(static_cast<double>(cfg.stem_chs));
    auto stem = register_module("stem", std::make_shared<torch::nn::Module>());
    stem_conv_ = stem->register_module("conv", create_conv2d(options.in_chans, stem_chs, 7, 2));

    int64_t total_blocks = 0;
    for (auto d : cfg.layers) total_blocks += d;
    const auto dpr = dpnvov::drop_path_rates(options.drop_path_rate, total_blocks);
    stages_ = register_module("stages", Sequential());
    int64_t prev_chs = stem_chs;
    size_t block_idx = 0;
    for (size_t s = 0; s < cfg.layers.size(); ++s) {
      const int64_t out_chs = make_divisible(static_cast<double>(cfg.channels[s]));
      Sequential blocks;
      for (int64_t b = 0; b < cfg.layers[s]; ++b) {
        const int64_t stride = (s == 0 || b > 0) ? 1 : 2;
        blocks->push_back(PreActBottleneck(prev_chs, out_chs, cfg.bottle_ratio, stride, b == 0,
                                           cfg.act, dpr[block_idx++]));
        prev_chs = out_chs;
      }
      stages_->push_back(ResNetStage(blocks));
    }
    set_num_features(prev_chs);
    norm_ = register_module("norm", BatchNormAct2d(prev_chs, cfg.act));
    head_ = register_module(
        "head", dpnvov::ConvClassifierHead(prev_chs, options.num_classes, options.drop_rate));
    init_weights();
  }

  torch::Tensor forward_features(torch::Tensor x) override {
    x = stem_conv_->forward(x);
    x = torch::max_pool2d(x, {3, 3}, {2, 2}, {1, 1});
    x = stages_->forward(x);
    return norm_->forward(x);
  }
  std::vector<std::string> first_conv_names() const override { return {"stem.conv"}; }

 private:
  // timm _init_weights: Linear N(0, 0.01), conv kaiming_normal_(fan_out, relu) with zero bias,
  // the head conv N(0, 0.01) with zero bias; BatchNorm keeps 1 / 0 (zero_init_last is False).
  void init_weights() {
    init_kaiming_fan_out(*this);
    torch::NoGradGuard no_grad;
    head_->fc->weight.normal_(0.0, 0.01);
    head_->fc->bias.zero_();
  }

  Conv2d stem_conv_{nullptr};
  Sequential stages_{nullptr};
  BatchNormAct2d norm_{nullptr};
};

}  // namespace

void register_resnetv2_models(Registry& r) {
  ResNetV2Config resnetv2_50;
  resnetv2_50.layers = {3, 4, 6, 3};
  r.add<ResNetV2>("resnetv2_50", resnetv2_50);
}

}  // namespace pepr::models
