// timm/models/ghostnet.py, natively: GhostNet (v1). Stem conv_stem/bn1/relu, stages of
// GhostBottlenecks (ghost1, [conv_dw, bn_dw], [se], ghost2, shortcut), a final ConvBnAct, then
// MobileNetV3's efficient head (global pool, conv_head with bias, relu, classifier).
#include <cmath>

#include "models/efficientnet_blocks.hpp"
#include "models/headed_classifier.hpp"
#include "models/layers/common.hpp"
#include "models/model.hpp"
#include "models/registry.hpp"

namespace pepr::models {

namespace {

// nn.Conv2d(in, out, k, stride, padding = k // 2 or (k - 1) // 2, groups, bias = False).
Conv2d plain_conv(int64_t in, int64_t out, int64_t k, int64_t stride = 1, int64_t groups = 1) {
  return Conv2d(ConvOptions(in, out, k)
                    .stride(stride)
                    .groups(groups)
                    .padding(torch::ExpandingArray<2>(k / 2)));
}

// timm GhostModule: primary_conv (1x1 conv, bn, act) gives ceil(out / ratio) channels,
// cheap_operation (depthwise dw_size conv, bn, act) the rest; concatenated and cut to out.
class GhostModuleImpl : public torch::nn::Module {
 public:
  GhostModuleImpl(int64_t in_chs, int64_t out_chs, Act act, int64_t kernel_size = 1,
                  int64_t ratio = 2, int64_t dw_size = 3, int64_t stride = 1)
      : out_chs_(out_chs) {
    const auto init_chs =
        static_cast<int64_t>(std::ceil(static_cast<double>(out_chs) / static_cast<double>(ratio)));
    const int64_t new_chs = init_chs * (ratio - 1);
    primary_conv_ = Sequential();
    primary_conv_->push_back(plain_conv(in_chs, init_chs, kernel_size, stride));
    primary_conv_->push_back(batch_norm2d(init_chs));
    primary_conv_->push_back(Activation(act));
    register_module("primary_conv", primary_conv_);
    cheap_operation_ = Sequential();
    cheap_operation_->push_back(plain_conv(init_chs, new_chs, dw_size, 1, init_chs));
    cheap_operation_->push_back(batch_norm2d(new_chs));
    cheap_operation_->push_back(Activation(act));
    register_module("cheap_operation", cheap_operation_);
  }

  torch::Tensor forward(const torch::Tensor& x) {
    auto x1 = primary_conv_->forward(x);
    auto x2 = cheap_operation_->forward(x1);
    auto out = torch::cat({x1, x2}, 1);
    return out.size(1) == out_chs_ ? out : out.narrow(1, 0, out_chs_);
  }

 private:
  int64_t out_chs_;
  Sequential primary_conv_{nullptr}, cheap_operation_{nullptr};
};
TORCH_MODULE(GhostModule);

// timm GhostBottleneck (mode 'original').
class GhostBottleneckImpl : public torch::nn::Module {
 public:
  GhostBottleneckImpl(int64_t in_chs, int64_t mid_chs, int64_t out_chs, int64_t dw_kernel_size,
                      int64_t stride, double se_ratio) {
    ghost1_ = register_module("ghost1", GhostModule(in_chs, mid_chs, Act::relu));
    if (stride > 1) {
      conv_dw_ = register_module(
          "conv_dw", Conv2d(ConvOptions(mid_chs, mid_chs, dw_kernel_size)
                                .stride(stride)
                                .groups(mid_chs)
                                .padding(torch::ExpandingArray<2>((dw_kernel_size - 1) / 2))));
      bn_dw_ = register_module("bn_dw", batch_norm2d(mid_chs));
    }
    if (se_ratio > 0.0) {
      // timm _SE_LAYER: SqueezeExcite(gate hard_sigmoid, rd = make_divisible(chs * ratio, 4)).
      const int64_t rd = make_divisible(static_cast<double>(mid_chs) * se_ratio, 4);
      se_ = register_module(
          "se", SqueezeExcite(mid_chs, SqueezeExciteOptions().rd_channels(rd).act(Act::relu).gate(
                                           Act::hard_sigmoid)));
    }
    ghost2_ = register_module("ghost2", GhostModule(mid_chs, out_chs, Act::identity));
    if (!(in_chs == out_chs && stride == 1)) {
      shortcut_ = Sequential();
      shortcut_->push_back(
          Conv2d(ConvOptions(in_chs, in_chs, dw_kernel_size)
                     .stride(stride)
                     .groups(in_chs)
                     .padding(torch::ExpandingArray<2>((dw_kernel_size - 1) / 2))));
      shortcut_->push_back(batch_norm2d(in_chs));
      shortcut_->push_back(plain_conv(in_chs, out_chs, 1));
      shortcut_->push_back(batch_norm2d(out_chs));
      register_module("shortcut", shortcut_);
    }
  }

  torch::Tensor forward(const torch::Tensor& input) {
    auto x = ghost1_->forward(input);
    if (conv_dw_) x = bn_dw_->forward(conv_dw_->forward(x));
    if (se_) x = se_->forward(x);
    x = ghost2_->forward(x);
    return x + (shortcut_ ? shortcut_->forward(input) : input);
  }

 private:
  GhostModule ghost1_{nullptr}, ghost2_{nullptr};
  Conv2d conv_dw_{nullptr};
  BatchNormAct2d bn_dw_{nullptr};
  SqueezeExcite se_{nullptr};
  Sequential shortcut_{nullptr};
};
TORCH_MODULE(GhostBottleneck);

struct GhostLayer {
  int64_t k, exp_size, c;
  double se_ratio;
  int64_t s;
};

class GhostNet : public LinearHeadClassifier {
 public:
  GhostNet(const std::string& arch, double width, const ModelOptions& options)
      : LinearHeadClassifier(arch, options, "classifier") {
    // clang-format off
    // k, t (expansion channels), c, SE ratio, s
    const std::vector<std::vector<GhostLayer>> cfgs = {
        {{3, 16, 16, 0, 1}},
        {{3, 48, 24, 0, 2}},
        {{3, 72, 24, 0, 1}},
        {{5, 72, 40, 0.25, 2}},
        {{5, 120, 40, 0.25, 1}},
        {{3, 240, 80, 0, 2}},
        {{3, 200, 80, 0, 1}, {3, 184, 80, 0, 1}, {3, 184, 80, 0, 1}, {3, 480, 112, 0.25, 1},
         {3, 672, 112, 0.25, 1}},
        {{5, 672, 160, 0.25, 2}},
        {{5, 960, 160, 0, 1}, {5, 960, 160, 0.25, 1}, {5, 960, 160, 0, 1},
         {5, 960, 160, 0.25, 1}},
    };
    // clang-format on
    const int64_t stem_chs = make_divisible(16 * width, 4);
    conv_stem_ = register_module("conv_stem", plain_conv(options.in_chans, stem_chs, 3, 2));
    bn1_ = register_module("bn1", BatchNormAct2d(stem_chs, Act::relu));
    int64_t prev_chs = stem_chs;
    blocks_ = Sequential();
    int64_t exp_size = 0;
    for (const auto& cfg : cfgs) {
      Sequential stage;
      for (const auto& l : cfg) {
        const int64_t out_chs = make_divisible(static_cast<double>(l.c) * width, 4);
        const int64_t mid_chs = make_divisible(static_cast<double>(l.exp_size) * width, 4);
        stage->push_back(GhostBottleneck(prev_chs, mid_chs, out_chs, l.k, l.s, l.se_ratio));
        prev_chs = out_chs;
        exp_size = l.exp_size;
      }
      blocks_->push_back(stage);
    }
    const int64_t out_chs = make_divisible(static_cast<double>(exp_size) * width, 4);
    Sequential last;
    last->push_back(ConvBnAct(ConvOptions(prev_chs, out_chs, 1), Act::relu, "conv", "bn1"));
    blocks_->push_back(last);
    register_module("blocks", blocks_);
    set_num_features(out_chs);

    conv_head_ = register_module("conv_head", Conv2d(ConvOptions(out_chs, kHeadHiddenSize, 1)
                                                         .bias(true)
                                                         .padding(torch::ExpandingArray<2>(0))));
    register_fc(kHeadHiddenSize);
    // timm leaves PyTorch's default initialisation in place ("FIXME init").
  }

  torch::Tensor forward_features(torch::Tensor x) override {
    x = bn1_->forward(conv_stem_->forward(x));
    return blocks_->forward(x);
  }

  torch::Tensor pre_logits(torch::Tensor x) override {
    x = x.mean({2, 3}, /*keepdim=*/true);
    return torch::relu(conv_head_->forward(x)).flatten(1);
  }

  std::vector<std::string> first_conv_names() const override { return {"conv_stem"}; }

 private:
  static constexpr int64_t kHeadHiddenSize = 1280;
  Conv2d conv_stem_{nullptr};
  BatchNormAct2d bn1_{nullptr};
  Sequential blocks_{nullptr};
  Conv2d conv_head_{nullptr};
};

}  // namespace

void register_ghostnet_models(Registry& r) {
  r.add("ghostnet_100", [](const std::string& arch, const ModelOptions& o) {
    return std::make_shared<GhostNet>(arch, 1.0, o);
  });
}

}  // namespace pepr::models
