// timm/models/densenet.py, natively: features (conv0 / norm0 / pool0 stem, or the deep 3x3 stem
// conv0..conv2 / norm0..norm2; denseblockN of denselayerM; transitionN; norm5), classifier
// (Linear after global average pooling). Every norm is timm's BatchNormAct2d (BN + ReLU), norm5
// included. Parameter names equal timm's state dict.
#include <array>
#include <cmath>
#include <vector>

#include <fmt/format.h>
#include <torch/torch.h>

#include "models/headed_classifier.hpp"
#include "models/layers/common.hpp"
#include "models/model.hpp"
#include "models/registry.hpp"

namespace pepr::models {

namespace {

// timm DenseLayer: norm1 (BN + ReLU), conv1 1x1 to bn_size * growth, norm2, conv2 3x3 to growth.
class DenseLayerImpl : public torch::nn::Module {
 public:
  DenseLayerImpl(int64_t in_features, int64_t growth_rate, int64_t bn_size) {
    norm1 = register_module("norm1", BatchNormAct2d(in_features, Act::relu));
    conv1 = register_module("conv1", create_conv2d(in_features, bn_size * growth_rate, 1));
    norm2 = register_module("norm2", BatchNormAct2d(bn_size * growth_rate, Act::relu));
    conv2 = register_module("conv2", create_conv2d(bn_size * growth_rate, growth_rate, 3));
  }

  torch::Tensor forward(const std::vector<torch::Tensor>& features) {
    auto x = conv1->forward(norm1->forward(torch::cat(features, 1)));
    return conv2->forward(norm2->forward(x));
  }

  BatchNormAct2d norm1{nullptr}, norm2{nullptr};
  Conv2d conv1{nullptr}, conv2{nullptr};
};
TORCH_MODULE(DenseLayer);

// timm DenseBlock: each layer sees the concatenation of the block input and all earlier outputs.
class DenseBlockImpl : public torch::nn::Module {
 public:
  DenseBlockImpl(int64_t num_layers, int64_t in_features, int64_t bn_size, int64_t growth_rate) {
    for (int64_t i = 0; i < num_layers; ++i) {
      layers_.push_back(
          register_module(fmt::format("denselayer{}", i + 1),
                          DenseLayer(in_features + i * growth_rate, growth_rate, bn_size)));
    }
  }

  torch::Tensor forward(const torch::Tensor& x) {
    std::vector<torch::Tensor> features{x};
    features.reserve(layers_.size() + 1);
    for (auto& layer : layers_) features.push_back(layer->forward(features));
    return torch::cat(features, 1);
  }

 private:
  std::vector<DenseLayer> layers_;
};
TORCH_MODULE(DenseBlock);

struct DenseNetConfig {
  int64_t growth_rate = 32;
  std::vector<int64_t> block_config{6, 12, 24, 16};
  int64_t bn_size = 4;
  bool deep_stem = false;  // stem_type "deep"
  bool blur_stem = false;  // aa_layer = BlurPool2d (aa_stem_only: the stem pool only)
};

class DenseNet : public LinearHeadClassifier {
 public:
  DenseNet(const std::string& arch, const DenseNetConfig& cfg, const ModelOptions& options)
      : LinearHeadClassifier(arch, options, "classifier") {
    const int64_t init_features = cfg.growth_rate * 2;
    features = Sequential();
    if (cfg.deep_stem) {
      const int64_t c = cfg.growth_rate;
      features->push_back("conv0", create_conv2d(options.in_chans, c, 3, 2));
      features->push_back("norm0", BatchNormAct2d(c, Act::relu));
      features->push_back("conv1", create_conv2d(c, c, 3));
      features->push_back("norm1", BatchNormAct2d(c, Act::relu));
      features->push_back("conv2", create_conv2d(c, init_features, 3));
      features->push_back("norm2", BatchNormAct2d(init_features, Act::relu));
    } else {
      features->push_back("conv0", create_conv2d(options.in_chans, init_features, 7, 2));
      features->push_back("norm0", BatchNormAct2d(init_features, Act::relu));
    }
    if (cfg.blur_stem) {
      Sequential pool;
      pool->push_back(torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(3).stride(1).padding(1)));
      pool->push_back(BlurPool2d(init_features));
      features->push_back("pool0", pool);
    } else {
      features->push_back(
          "pool0", torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(3).stride(2).padding(1)));
    }

    int64_t num = init_features;
    const auto n_blocks = cfg.block_config.size();
    for (size_t i = 0; i < n_blocks; ++i) {
      const int64_t layers = cfg.block_config[i];
      features->push_back(fmt::format("denseblock{}", i + 1),
                          DenseBlock(layers, num, cfg.bn_size, cfg.growth_rate));
      num += layers * cfg.growth_rate;
      if (i + 1 != n_blocks) {
        // timm DenseTransition (an nn.Sequential): norm, conv 1x1 to half, pool (AvgPool 2x2).
        Sequential trans;
        trans->push_back("norm", BatchNormAct2d(num, Act::relu));
        trans->push_back("conv", create_conv2d(num, num / 2, 1));
        trans->push_back("pool", torch::nn::AvgPool2d(torch::nn::AvgPool2dOptions(2).stride(2)));
        features->push_back(fmt::format("transition{}", i + 1), trans);
        num /= 2;
        ++num_transitions_;
      }
    }
    features->push_back("norm5", BatchNormAct2d(num, Act::relu));
    register_module("features", features);
    set_num_features(num);
    register_fc(num);

    // timm's "official init from torch repo": conv kaiming_normal_ (fan_in, gain sqrt(2)),
    // BatchNorm 1 / 0, Linear bias 0.
    torch::NoGradGuard no_grad;
    for (auto& m : modules(/*include_self=*/false)) {
      if (auto* conv = m->as<Conv2dImpl>()) {
        torch::nn::init::kaiming_normal_(conv->weight);
      } else if (auto* linear = m->as<torch::nn::LinearImpl>()) {
        linear->bias.zero_();
      }
    }
  }

  torch::Tensor forward_features(torch::Tensor x) override { return features->forward(x); }

  std::vector<std::string> first_conv_names() const override { return {"features.conv0"}; }

  // The stem halves the size twice (conv0 or the deep stem's conv0, then the max / blur pool,
  // both ceil-like: s -> (s + 1) / 2), and each AvgPool 2x2 transition floors it: the last
  // transition needs 2 pixels, i.e. 2^transitions after the stem; 29 px for DenseNet-121.
  int64_t min_input_size() const override {
    const int64_t after_stem = int64_t{1} << num_transitions_;
    return 4 * after_stem - 3;  // (s + 1) / 2 applied twice reaches after_stem
  }

  Sequential features{nullptr};

 private:
  int64_t num_transitions_ = 0;
};

DenseNetConfig config(int64_t growth_rate, std::vector<int64_t> block_config) {
  DenseNetConfig cfg;
  cfg.growth_rate = growth_rate;
  cfg.block_config = std::move(block_config);
  return cfg;
}

}  // namespace

void register_densenet_models(Registry& r) {
  r.add<DenseNet>("densenet121", config(32, {6, 12, 24, 16}));
  r.add<DenseNet>("densenet161", config(48, {6, 12, 36, 24}));
  r.add<DenseNet>("densenet169", config(32, {6, 12, 32, 32}));
  r.add<DenseNet>("densenet201", config(32, {6, 12, 48, 32}));
  DenseNetConfig blur = config(32, {6, 12, 24, 16});
  blur.deep_stem = true;
  blur.blur_stem = true;
  r.add<DenseNet>("densenetblur121d", blur);
}

}  // namespace pepr::models
