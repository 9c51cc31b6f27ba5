// timm/models/senet.py (Cadene's SE-ResNet / SENet-154, timm's "legacy_" models), natively.
// Parameter names equal timm's state dict: layer0.{conv,bn}{1,2,3}, layerN.i.se_module,
// last_linear.
#include <fmt/format.h>

#include "models/headed_classifier.hpp"
#include "models/layers/common.hpp"
#include "models/model.hpp"
#include "models/registry.hpp"

namespace pepr::models {

namespace {

enum class SENetBlock {
  se_bottleneck,         // SENet-154: 1x1 to 2 * planes, grouped 3x3 (stride) to 4 * planes
  se_resnet_bottleneck,  // SE-ResNet: stride on the first 1x1 (Caffe style)
};

struct SENetConfig {
  SENetBlock block = SENetBlock::se_resnet_bottleneck;
  std::vector<int64_t> layers;
  int64_t groups = 1;
  int64_t reduction = 16;
  int64_t inplanes = 64;
  bool input_3x3 = false;
  int64_t downsample_kernel_size = 1;
  int64_t downsample_padding = 0;
};

struct BlockArgs {
  int64_t inplanes = 0;
  int64_t planes = 0;
  int64_t groups = 1;
  int64_t reduction = 16;
  int64_t stride = 1;
  Sequential downsample{nullptr};
};

// senet.SEBottleneck / SEResNetBottleneck: conv-bn-relu x2, conv-bn, then
// se_module(out) + shortcut, relu. se_module is the plain SE (fc1/fc2 with bias,
// channels // reduction hidden channels).
class SEBottleneckImpl : public torch::nn::Module {
 public:
  SEBottleneckImpl(SENetBlock kind, const BlockArgs& a) {
    const int64_t out = a.planes * 4;
    if (kind == SENetBlock::se_bottleneck) {
      conv1 = register_module("conv1", create_conv2d(a.inplanes, a.planes * 2, 1));
      bn1 = register_module("bn1", BatchNormAct2d(a.planes * 2, Act::relu));
      conv2 = register_module(
          "conv2", create_conv2d(a.planes * 2, out, 3, a.stride, 1, a.groups, "", false));
      bn2 = register_module("bn2", BatchNormAct2d(out, Act::relu));
      conv3 = register_module("conv3", create_conv2d(out, out, 1));
    } else {
      conv1 = register_module("conv1", create_conv2d(a.inplanes, a.planes, 1, a.stride));
      bn1 = register_module("bn1", BatchNormAct2d(a.planes, Act::relu));
      conv2 = register_module("conv2", create_conv2d(a.planes, a.planes, 3, 1, 1, a.groups));
      bn2 = register_module("bn2", BatchNormAct2d(a.planes, Act::relu));
      conv3 = register_module("conv3", create_conv2d(a.planes, out, 1));
    }
    bn3 = register_module("bn3", batch_norm2d(out));
    se_module = register_module("se_module",
                                SEModule(out, SEModuleOptions().rd_channels(out / a.reduction)));
    if (a.downsample) downsample = register_module("downsample", a.downsample);
  }

  torch::Tensor forward(const torch::Tensor& x) {
    auto out = bn1->forward(conv1->forward(x));
    out = bn2->forward(conv2->forward(out));
    out = bn3->forward(conv3->forward(out));
    out = se_module->forward(out) + (downsample ? downsample->forward(x) : x);
    return apply_act(Act::relu, out, /*inplace=*/true);
  }

  Conv2d conv1{nullptr}, conv2{nullptr}, conv3{nullptr};
  BatchNormAct2d bn1{nullptr}, bn2{nullptr}, bn3{nullptr};
  SEModule se_module{nullptr};
  Sequential downsample{nullptr};
};
TORCH_MODULE(SEBottleneck);

// layer0: conv1/bn1/relu1 (7x7, stride 2) or three 3x3 conv-bn-relu (input_3x3).
class Layer0Impl : public torch::nn::Module {
 public:
  Layer0Impl(int64_t in_chans, int64_t inplanes, bool input_3x3) {
    if (input_3x3) {
      convs_.push_back(register_module("conv1", create_conv2d(in_chans, 64, 3, 2)));
      bns_.push_back(register_module("bn1", BatchNormAct2d(64, Act::relu)));
      convs_.push_back(register_module("conv2", create_conv2d(64, 64, 3)));
      bns_.push_back(register_module("bn2", BatchNormAct2d(64, Act::relu)));
      convs_.push_back(register_module("conv3", create_conv2d(64, inplanes, 3)));
      bns_.push_back(register_module("bn3", BatchNormAct2d(inplanes, Act::relu)));
    } else {
      convs_.push_back(register_module("conv1", create_conv2d(in_chans, inplanes, 7, 2)));
      bns_.push_back(register_module("bn1", BatchNormAct2d(inplanes, Act::relu)));
    }
  }

  torch::Tensor forward(torch::Tensor x) {
    for (size_t i = 0; i < convs_.size(); ++i) x = bns_[i]->forward(convs_[i]->forward(x));
    return x;
  }

 private:
  std::vector<Conv2d> convs_;
  std::vector<BatchNormAct2d> bns_;
};
TORCH_MODULE(Layer0);

class SENet : public LinearHeadClassifier {
 public:
  SENet(const std::string& arch, const SENetConfig& cfg, const ModelOptions& options)
      : LinearHeadClassifier(arch, options, "last_linear") {
    if (cfg.layers.size() != 4) throw std::logic_error(arch + ": SENet has four stages");
    layer0_ = register_module("layer0", Layer0(options.in_chans, cfg.inplanes, cfg.input_3x3));
    int64_t inplanes = cfg.inplanes;
    const int64_t planes_per_stage[] = {64, 128, 256, 512};
    for (size_t stage = 0; stage < 4; ++stage) {
      const int64_t planes = planes_per_stage[stage];
      const int64_t stride = stage == 0 ? 1 : 2;
      // layer1 always projects with a 1x1 convolution; the others use the configured kernel.
      const int64_t dk = stage == 0 ? 1 : cfg.downsample_kernel_size;
      const int64_t dp = stage == 0 ? 0 : cfg.downsample_padding;
      Sequential blocks;
      for (int64_t b = 0; b < cfg.layers[stage]; ++b) {
        BlockArgs a;
        a.inplanes = inplanes;
        a.planes = planes;
        a.groups = cfg.groups;
        a.reduction = cfg.reduction;
        if (b == 0) {
          a.stride = stride;
          if (stride != 1 || inplanes != planes * 4) {
            a.downsample = Sequential();
            a.downsample->push_back(
                Conv2d(ConvOptions(inplanes, planes * 4, dk).stride(stride).padding(dp)));
            a.downsample->push_back(batch_norm2d(planes * 4));
          }
        }
        blocks->push_back(SEBottleneck(cfg.block, a));
        inplanes = planes * 4;
      }
      stages_.push_back(register_module(fmt::format("layer{}", stage + 1), blocks));
    }
    set_num_features(inplanes);
    register_fc(inplanes);
    // timm's _weight_init: kaiming_normal_(fan_out) for convs, BatchNorm 1 / 0.
    init_kaiming_fan_out(*this);
  }

  torch::Tensor forward_features(torch::Tensor x) override {
    x = layer0_->forward(x);
    // pool0: nn.MaxPool2d(3, stride=2, ceil_mode=True), no padding (Caffe compatibility).
    x = torch::max_pool2d(x, {3, 3}, {2, 2}, {0, 0}, {1, 1}, /*ceil_mode=*/true);
    for (auto& stage : stages_) x = stage->forward(x);
    return x;
  }

  std::vector<std::string> first_conv_names() const override { return {"layer0.conv1"}; }

  // The stem halves the input (rounding up); pool0 needs at least 2 pixels: 3 -> 2 -> 1.
  int64_t min_input_size() const override { return 3; }

 private:
  Layer0 layer0_{nullptr};
  std::vector<Sequential> stages_;
};

}  // namespace

void register_senet_models(Registry& r) {
  {
    SENetConfig cfg;
    cfg.block = SENetBlock::se_resnet_bottleneck;
    cfg.layers = {3, 4, 6, 3};
    r.add<SENet>("legacy_seresnet50", cfg);
  }
  {
    SENetConfig cfg;
    cfg.block = SENetBlock::se_bottleneck;
    cfg.layers = {3, 8, 36, 3};
    cfg.groups = 64;
    cfg.downsample_kernel_size = 3;
    cfg.downsample_padding = 1;
    cfg.inplanes = 128;
    cfg.input_3x3 = true;
    r.add<SENet>("legacy_senet154", cfg);
  }
}

}  // namespace pepr::models
