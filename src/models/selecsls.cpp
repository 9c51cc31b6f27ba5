// timm/models/selecsls.py, natively: stem (conv_bn), features.N (SelecSlsBlock: conv1..conv6, each
// conv_bn = Sequential(conv, BatchNorm, ReLU)), head.N (conv_bn), fc (Linear).
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "models/headed_classifier.hpp"
#include "models/layers/common.hpp"
#include "models/model.hpp"
#include "models/registry.hpp"

namespace pepr::models {

namespace {

// timm's conv_bn: children "0" (conv, symmetric padding, no bias), "1" (BatchNorm; the ReLU at
// "2" holds nothing and is folded into it).
Sequential conv_bn(int64_t in_chs, int64_t out_chs, int64_t k = 3, int64_t stride = 1) {
  Sequential seq;
  seq->push_back(create_conv2d(in_chs, out_chs, k, stride));
  seq->push_back(BatchNormAct2d(out_chs, Act::relu));
  return seq;
}

struct BlockArgs {
  int64_t in_chs, skip_chs, mid_chs, out_chs;
  bool is_first;
  int64_t stride;
};

class SelecSlsBlockImpl : public torch::nn::Module {
 public:
  explicit SelecSlsBlockImpl(const BlockArgs& a) : is_first_(a.is_first) {
    conv1 = register_module("conv1", conv_bn(a.in_chs, a.mid_chs, 3, a.stride));
    conv2 = register_module("conv2", conv_bn(a.mid_chs, a.mid_chs, 1));
    conv3 = register_module("conv3", conv_bn(a.mid_chs, a.mid_chs / 2, 3));
    conv4 = register_module("conv4", conv_bn(a.mid_chs / 2, a.mid_chs, 1));
    conv5 = register_module("conv5", conv_bn(a.mid_chs, a.mid_chs / 2, 3));
    conv6 = register_module("conv6",
                            conv_bn(2 * a.mid_chs + (a.is_first ? 0 : a.skip_chs), a.out_chs, 1));
  }

  // x = {features, skip}; the first block of a stage starts a new skip from its own output.
  std::pair<torch::Tensor, torch::Tensor> forward(const torch::Tensor& x,
                                                  const torch::Tensor& skip) {
    const auto d1 = conv1->forward(x);
    const auto d2 = conv3->forward(conv2->forward(d1));
    const auto d3 = conv5->forward(conv4->forward(d2));
    if (is_first_) {
      auto out = conv6->forward(torch::cat({d1, d2, d3}, 1));
      return {out, out};
    }
    return {conv6->forward(torch::cat({d1, d2, d3, skip}, 1)), skip};
  }

  Sequential conv1{nullptr}, conv2{nullptr}, conv3{nullptr}, conv4{nullptr}, conv5{nullptr},
      conv6{nullptr};

 private:
  bool is_first_;
};
TORCH_MODULE(SelecSlsBlock);

struct HeadConv {
  int64_t in_chs, out_chs, k, stride;
};

struct SelecSlsConfig {
  std::vector<BlockArgs> features;
  std::vector<HeadConv> head;
  int64_t num_features;
};

class SelecSls : public LinearHeadClassifier {
 public:
  SelecSls(const std::string& arch, const SelecSlsConfig& cfg, const ModelOptions& options)
      : LinearHeadClassifier(arch, options, "fc") {
    stem_ = register_module("stem", conv_bn(options.in_chans, 32, 3, 2));
    auto features = register_module("features", std::make_shared<torch::nn::Module>());
    for (size_t i = 0; i < cfg.features.size(); ++i) {
      blocks_.push_back(
          features->register_module(std::to_string(i), SelecSlsBlock(cfg.features[i])));
    }
    head_ = register_module("head", Sequential());
    for (const auto& h : cfg.head) head_->push_back(conv_bn(h.in_chs, h.out_chs, h.k, h.stride));
    set_num_features(cfg.num_features);
    register_fc(cfg.num_features);
    // timm: kaiming_normal_(fan_out, relu) for every conv; BatchNorm and Linear keep defaults.
    torch::NoGradGuard no_grad;
    for (auto& m : modules(/*include_self=*/false)) {
      if (auto* conv = m->as<Conv2dImpl>()) {
        torch::nn::init::kaiming_normal_(conv->weight, 0.0, torch::kFanOut, torch::kReLU);
      }
    }
  }

  torch::Tensor forward_features(torch::Tensor x) override {
    x = stem_->forward(x);
    torch::Tensor skip;
    for (auto& block : blocks_) std::tie(x, skip) = block->forward(x, skip);
    return head_->forward(x);
  }
  std::vector<std::string> first_conv_names() const override { return {"stem.0"}; }

 private:
  Sequential stem_{nullptr};
  std::vector<SelecSlsBlock> blocks_;
  Sequential head_{nullptr};
};

}  // namespace

void register_selecsls_models(Registry& r) {
  // in_chs, skip_chs, mid_chs, out_chs, is_first, stride
  const std::vector<BlockArgs> f42 = {
      {32, 0, 64, 64, true, 2},       {64, 64, 64, 128, false, 1}, {128, 0, 144, 144, true, 2},
      {144, 144, 144, 288, false, 1}, {288, 0, 304, 304, true, 2}, {304, 304, 304, 480, false, 1},
  };
  const std::vector<BlockArgs> f60 = {
      {32, 0, 64, 64, true, 2},       {64, 64, 64, 128, false, 1},
      {128, 0, 128, 128, true, 2},    {128, 128, 128, 128, false, 1},
      {128, 128, 128, 288, false, 1}, {288, 0, 288, 288, true, 2},
      {288, 288, 288, 288, false, 1}, {288, 288, 288, 288, false, 1},
      {288, 288, 288, 416, false, 1},
  };
  r.add<SelecSls, SelecSlsConfig>(
      "selecsls42b",
      {f42, {{480, 960, 3, 2}, {960, 1024, 3, 1}, {1024, 1280, 3, 2}, {1280, 1024, 1, 1}}, 1024});
  r.add<SelecSls, SelecSlsConfig>(
      "selecsls60",
      {f60, {{416, 756, 3, 2}, {756, 1024, 3, 1}, {1024, 1024, 3, 2}, {1024, 1280, 1, 1}}, 1280});
  r.add<SelecSls, SelecSlsConfig>(
      "selecsls60b",
      {f60, {{416, 756, 3, 2}, {756, 1024, 3, 1}, {1024, 1280, 3, 2}, {1280, 1024, 1, 1}}, 1024});
}

}  // namespace pepr::models
