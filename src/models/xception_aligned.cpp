// timm/models/xception_aligned.py, natively: Aligned Xception 41 / 65 / 71 and the pre-activation
// variants (41p, 65p). stem.0 / stem.1 (ConvNormAct, or a plain conv for preact), blocks.N
// (XceptionModule / PreXceptionModule with stack.conv1..3 separable convs), head (ClassifierHead).
#include <array>
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

using dpnvov::ConvNormAct;

// SeparableConv2d (conv_dw, bn_dw, act, conv_pw, bn_pw, act) or, with preact,
// PreSeparableConv2d (norm with act, conv_dw, conv_pw).
class SeparableConv2dImpl : public torch::nn::Module {
 public:
  SeparableConv2dImpl(int64_t in_chs, int64_t out_chs, int64_t stride, bool preact, bool first_act,
                      Act act, BatchNormOptions bn)
      : preact_(preact) {
    if (preact && first_act) norm = register_module("norm", BatchNormAct2d(in_chs, act, bn));
    conv_dw = register_module(
        "conv_dw", Conv2d(ConvOptions(in_chs, in_chs, 3).stride(stride).depthwise(true)));
    if (!preact) bn_dw = register_module("bn_dw", BatchNormAct2d(in_chs, act, bn));
    conv_pw = register_module("conv_pw", create_conv2d(in_chs, out_chs, 1));
    if (!preact) bn_pw = register_module("bn_pw", BatchNormAct2d(out_chs, act, bn));
  }

  torch::Tensor forward(torch::Tensor x) {
    if (preact_) {
      if (norm) x = norm->forward(x);
      return conv_pw->forward(conv_dw->forward(x));
    }
    x = bn_dw->forward(conv_dw->forward(x));
    return bn_pw->forward(conv_pw->forward(x));
  }

  BatchNormAct2d norm{nullptr}, bn_dw{nullptr}, bn_pw{nullptr};
  Conv2d conv_dw{nullptr}, conv_pw{nullptr};

 private:
  bool preact_;
};
TORCH_MODULE(SeparableConv2d);

struct BlockCfg {
  int64_t in_chs;
  std::array<int64_t, 3> out_chs;
  int64_t stride;
  bool no_skip = false;
  bool start_with_relu = true;
};

BlockCfg blk(int64_t in, int64_t out, int64_t stride) {
  return {in, {out, out, out}, stride};
}

class XceptionModuleImpl : public torch::nn::Module {
 public:
  XceptionModuleImpl(const BlockCfg& b, bool preact, BatchNormOptions bn, double drop_path_rate)
      : preact_(preact),
        no_skip_(b.no_skip),
        start_with_relu_(b.start_with_relu),
        drop_path_rate_(drop_path_rate) {
    const int64_t out = b.out_chs[2];
    const bool project = !b.no_skip && (out != b.in_chs || b.stride != 1);
    if (preact) {
      if (project)
        shortcut_conv = register_module("shortcut", create_conv2d(b.in_chs, out, 1, b.stride));
      norm = register_module("norm", BatchNormAct2d(b.in_chs, Act::relu, bn));
    } else if (project) {
      shortcut = register_module(
          "shortcut",
          ConvNormAct(ConvOptions(b.in_chs, out, 1).stride(b.stride), Act::identity, bn));
    }
    auto stack = register_module("stack", std::make_shared<torch::nn::Module>());
    int64_t in = b.in_chs;
    // Without start_with_relu the separable convs carry their own activations.
    const Act sep_act = preact || !b.start_with_relu ? Act::relu : Act::identity;
    for (int i = 0; i < 3; ++i) {
      convs.push_back(stack->register_module(
          "conv" + std::to_string(i + 1),
          SeparableConv2d(in, b.out_chs[static_cast<size_t>(i)], i == 2 ? b.stride : 1, preact,
                          /*first_act=*/i > 0, sep_act, bn)));
      in = b.out_chs[static_cast<size_t>(i)];
    }
  }

  torch::Tensor forward(torch::Tensor x) {
    if (preact_) x = norm->forward(x);
    const torch::Tensor skip = x;
    for (auto& conv : convs) {
      if (!preact_ && start_with_relu_) x = torch::relu(x);
      x = conv->forward(x);
    }
    if (no_skip_) return x;
    x = drop_path(x, drop_path_rate_, is_training());
    if (shortcut) return x + shortcut->forward(skip);
    if (shortcut_conv) return x + shortcut_conv->forward(skip);
    return x + skip;
  }

  ConvNormAct shortcut{nullptr};
  Conv2d shortcut_conv{nullptr};
  BatchNormAct2d norm{nullptr};
  std::vector<SeparableConv2d> convs;

 private:
  bool preact_, no_skip_, start_with_relu_;
  double drop_path_rate_;
};
TORCH_MODULE(XceptionModule);

struct XceptionConfig {
  std::vector<BlockCfg> blocks;
  bool preact = false;
  double bn_eps = 1e-3;
};

class XceptionAligned : public HeadedClassifier<ClassifierHead> {
 public:
  XceptionAligned(const std::string& arch, const XceptionConfig& cfg, const ModelOptions& options)
      : HeadedClassifier(arch, options), preact_(cfg.preact) {
    const auto bn = BatchNormOptions().eps(cfg.bn_eps);
    stem_ = register_module("stem", Sequential());
    stem_->push_back(ConvNormAct(ConvOptions(options.in_chans, 32, 3).stride(2), Act::relu, bn));
    if (cfg.preact) {
      stem_->push_back(create_conv2d(32, 64, 3));
    } else {
      stem_->push_back(ConvNormAct(ConvOptions(32, 64, 3), Act::relu, bn));
    }
    blocks_ = register_module("blocks", Sequential());
    const auto n = static_cast<double>(cfg.blocks.size());
    for (size_t i = 0; i < cfg.blocks.size(); ++i) {
      const double dpr = options.drop_path_rate * static_cast<double>(i) / (n - 1);
      blocks_->push_back(XceptionModule(cfg.blocks[i], cfg.preact, bn, dpr));
    }
    set_num_features(cfg.blocks.back().out_chs[2]);
    head_ = register_module("head",
                            ClassifierHead(num_features(), options.num_classes, options.drop_rate));
  }

  torch::Tensor forward_features(torch::Tensor x) override {
    x = blocks_->forward(stem_->forward(x));
    return preact_ ? torch::relu(x) : x;
  }
  std::vector<std::string> first_conv_names() const override { return {"stem.0.conv"}; }

 private:
  bool preact_;
  Sequential stem_{nullptr};
  Sequential blocks_{nullptr};
};

// Entry flow, `middle` middle-flow blocks, exit flow.
std::vector<BlockCfg> xception_blocks(std::vector<BlockCfg> entry, int middle, bool exit_relu) {
  auto blocks = std::move(entry);
  for (int i = 0; i < middle; ++i) blocks.push_back(blk(728, 728, 1));
  blocks.push_back({728, {728, 1024, 1024}, 2});
  blocks.push_back({1024, {1536, 1536, 2048}, 1, /*no_skip=*/true, /*start_with_relu=*/exit_relu});
  return blocks;
}

}  // namespace

void register_xception_aligned_models(Registry& r) {
  const std::vector<BlockCfg> entry = {blk(64, 128, 2), blk(128, 256, 2), blk(256, 728, 2)};
  const std::vector<BlockCfg> entry71 = {blk(64, 128, 2), blk(128, 256, 1), blk(256, 256, 2),
                                         blk(256, 728, 1), blk(728, 728, 2)};
  r.add<XceptionAligned, XceptionConfig>("xception41",
                                         {xception_blocks(entry, 8, false), false, 1e-3});
  // timm renamed gluon_xception65 to xception65 (the same definition).
  r.add<XceptionAligned, XceptionConfig>("gluon_xception65",
                                         {xception_blocks(entry, 16, false), false, 1e-3});
  r.add<XceptionAligned, XceptionConfig>("xception71",
                                         {xception_blocks(entry71, 16, false), false, 1e-3});
  // Pre-activation: xception41p uses nn.BatchNorm2d's eps 1e-5, xception65p eps 1e-3.
  r.add<XceptionAligned, XceptionConfig>("xception41p",
                                         {xception_blocks(entry, 8, true), true, 1e-5});
  r.add<XceptionAligned, XceptionConfig>("xception65p",
                                         {xception_blocks(entry, 16, true), true, 1e-3});
}

}  // namespace pepr::models
