// timm/models/dpn.py, natively: Dual Path Networks. features.conv1_1 (ConvNormAct), conv1_pool,
// features.convS_B (DualPathBlock), features.conv5_bn_ac (CatBnAct), classifier (1x1 conv).
// Every BatchNorm has eps 1e-3 and ReLU. (timm passes fc_act_layer='elu' for conv5_bn_ac, but
// get_norm_act_layer keeps the act_layer='relu' already bound in the partial, so it is ReLU.)
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <torch/torch.h>

#include "models/layers/common.hpp"
#include "models/layers/dpnvov.hpp"
#include "models/model.hpp"
#include "models/registry.hpp"

namespace pepr::models {

namespace {

using dpnvov::ConvNormAct;

constexpr double kBnEps = 1e-3;

BatchNormAct2d bn_act(int64_t channels) {
  return BatchNormAct2d(channels, Act::relu, BatchNormOptions().eps(kBnEps));
}

// BatchNorm + ReLU, then a convolution: children "bn", "conv".
class BnActConv2dImpl : public torch::nn::Module {
 public:
  BnActConv2dImpl(int64_t in_chs, int64_t out_chs, int64_t kernel_size, int64_t stride,
                  int64_t groups = 1) {
    bn = register_module("bn", bn_act(in_chs));
    conv = register_module("conv", create_conv2d(in_chs, out_chs, kernel_size, stride, 1, groups));
  }
  torch::Tensor forward(const torch::Tensor& x) { return conv->forward(bn->forward(x)); }

  BatchNormAct2d bn{nullptr};
  Conv2d conv{nullptr};
};
TORCH_MODULE(BnActConv2d);

// The residual and the densely connected paths between blocks.
struct DualPath {
  torch::Tensor resid;
  torch::Tensor dense;  // undefined for the stem's output (a single tensor)
  torch::Tensor joined() const { return dense.defined() ? torch::cat({resid, dense}, 1) : resid; }
};

enum class BlockType { proj, down, normal };

class DualPathBlockImpl : public torch::nn::Module {
 public:
  DualPathBlockImpl(int64_t in_chs, int64_t num_1x1_a, int64_t num_3x3_b, int64_t num_1x1_c,
                    int64_t inc, int64_t groups, BlockType type, bool b)
      : num_1x1_c_(num_1x1_c) {
    const int64_t key_stride = type == BlockType::down ? 2 : 1;
    if (type == BlockType::down) {
      c1x1_w = register_module("c1x1_w_s2", BnActConv2d(in_chs, num_1x1_c + 2 * inc, 1, 2));
    } else if (type == BlockType::proj) {
      c1x1_w = register_module("c1x1_w_s1", BnActConv2d(in_chs, num_1x1_c + 2 * inc, 1, 1));
    }
    c1x1_a = register_module("c1x1_a", BnActConv2d(in_chs, num_1x1_a, 1, 1));
    c3x3_b = register_module("c3x3_b", BnActConv2d(num_1x1_a, num_3x3_b, 3, key_stride, groups));
    if (b) {
      // CatBnAct: a BatchNorm + ReLU named "bn", then two separate 1x1 convs.
      c1x1_c_bn = register_module("c1x1_c", std::make_shared<torch::nn::Module>());
      c1x1_c_bn_bn = c1x1_c_bn->register_module("bn", bn_act(num_3x3_b));
      c1x1_c1 = register_module("c1x1_c1", create_conv2d(num_3x3_b, num_1x1_c, 1));
      c1x1_c2 = register_module("c1x1_c2", create_conv2d(num_3x3_b, inc, 1));
    } else {
      c1x1_c = register_module("c1x1_c", BnActConv2d(num_3x3_b, num_1x1_c + inc, 1, 1));
    }
  }

  DualPath forward(const DualPath& in) {
    const torch::Tensor x_in = in.joined();
    torch::Tensor x_s1, x_s2;
    if (c1x1_w) {
      const auto x_s = c1x1_w->forward(x_in);
      x_s1 = x_s.narrow(1, 0, num_1x1_c_);
      x_s2 = x_s.narrow(1, num_1x1_c_, x_s.size(1) - num_1x1_c_);
    } else {
      x_s1 = in.resid;
      x_s2 = in.dense;
    }
    auto x = c3x3_b->forward(c1x1_a->forward(x_in));
    torch::Tensor out1, out2;
    if (c1x1_c1) {
      x = c1x1_c_bn_bn->forward(x);
      out1 = c1x1_c1->forward(x);
      out2 = c1x1_c2->forward(x);
    } else {
      x = c1x1_c->forward(x);
      out1 = x.narrow(1, 0, num_1x1_c_);
      out2 = x.narrow(1, num_1x1_c_, x.size(1) - num_1x1_c_);
    }
    return {x_s1 + out1, torch::cat({x_s2, out2}, 1)};
  }

  BnActConv2d c1x1_w{nullptr}, c1x1_a{nullptr}, c3x3_b{nullptr}, c1x1_c{nullptr};
  std::shared_ptr<torch::nn::Module> c1x1_c_bn;
  BatchNormAct2d c1x1_c_bn_bn{nullptr};
  Conv2d c1x1_c1{nullptr}, c1x1_c2{nullptr};

 private:
  int64_t num_1x1_c_;
};
TORCH_MODULE(DualPathBlock);

struct DPNConfig {
  bool small = false;
  int64_t num_init_features = 64;
  int64_t k_r = 96;
  int64_t groups = 32;
  bool b = false;
  std::vector<int64_t> k_sec{3, 4, 20, 3};
  std::vector<int64_t> inc_sec{16, 32, 24, 128};
};

class DPN : public Classifier {
 public:
  DPN(const std::string& arch, const DPNConfig& cfg, const ModelOptions& options)
      : Classifier(arch, options) {
    features_ = register_module("features", std::make_shared<torch::nn::Module>());
    const int64_t bw_factor = cfg.small ? 1 : 4;
    conv1_1_ = features_->register_module(
        "conv1_1",
        ConvNormAct(
            ConvOptions(options.in_chans, cfg.num_init_features, cfg.small ? 3 : 7).stride(2),
            Act::relu, BatchNormOptions().eps(kBnEps)));
    int64_t in_chs = cfg.num_init_features;
    for (int stage = 0; stage < 4; ++stage) {
      const int64_t bw = (int64_t{64} << stage) * bw_factor;
      const int64_t inc = cfg.inc_sec[static_cast<size_t>(stage)];
      const int64_t r = (cfg.k_r * bw) / (64 * bw_factor);
      const int64_t depth = cfg.k_sec[static_cast<size_t>(stage)];
      for (int64_t i = 1; i <= depth; ++i) {
        const BlockType type =
            i > 1 ? BlockType::normal : (stage == 0 ? BlockType::proj : BlockType::down);
        blocks_.push_back(features_->register_module(
            fmt::format("conv{}_{}", stage + 2, i),
            DualPathBlock(in_chs, r, r, bw, inc, cfg.groups, type, cfg.b)));
        in_chs = i == 1 ? bw + 3 * inc : in_chs + inc;
      }
    }
    // CatBnAct: "bn" inside "conv5_bn_ac".
    auto cat_bn_act =
        features_->register_module("conv5_bn_ac", std::make_shared<torch::nn::Module>());
    conv5_bn_ac_ = cat_bn_act->register_module("bn", bn_act(in_chs));
    set_num_features(in_chs);
    classifier_ =
        register_module("classifier", dpnvov::conv_classifier(in_chs, options.num_classes));
  }

  torch::Tensor forward_features(torch::Tensor x) override {
    x = conv1_1_->forward(x);
    x = torch::max_pool2d(x, {3, 3}, {2, 2}, {1, 1});
    DualPath path{x, {}};
    for (auto& block : blocks_) path = block->forward(path);
    return conv5_bn_ac_->forward(path.joined());
  }

  torch::Tensor forward_head(torch::Tensor x) override {
    return dpnvov::conv_classifier_forward(classifier_, std::move(x), options().drop_rate,
                                           is_training());
  }

  std::vector<std::string> first_conv_names() const override { return {"features.conv1_1.conv"}; }
  std::vector<std::string> classifier_names() const override { return {"classifier"}; }
  void reset_classifier(int64_t num_classes) override {
    set_num_classes(num_classes);
    classifier_ =
        replace_module("classifier", dpnvov::conv_classifier(num_features(), num_classes));
  }

 private:
  std::shared_ptr<torch::nn::Module> features_;
  ConvNormAct conv1_1_{nullptr};
  std::vector<DualPathBlock> blocks_;
  BatchNormAct2d conv5_bn_ac_{nullptr};
  Conv2d classifier_{nullptr};
};

}  // namespace

void register_dpn_models(Registry& r) {
  // timm's model_args, field for field.
  const DPNConfig dpn68{.small = true,
                        .num_init_features = 10,
                        .k_r = 128,
                        .groups = 32,
                        .k_sec = {3, 4, 12, 3},
                        .inc_sec = {16, 32, 32, 64}};
  r.add<DPN>("dpn68", dpn68);
  DPNConfig dpn68b = dpn68;
  dpn68b.b = true;
  r.add<DPN>("dpn68b", dpn68b);
  r.add<DPN>("dpn92", DPNConfig{.num_init_features = 64,
                                .k_r = 96,
                                .groups = 32,
                                .k_sec = {3, 4, 20, 3},
                                .inc_sec = {16, 32, 24, 128}});
  r.add<DPN>("dpn98", DPNConfig{.num_init_features = 96,
                                .k_r = 160,
                                .groups = 40,
                                .k_sec = {3, 6, 20, 3},
                                .inc_sec = {16, 32, 32, 128}});
  r.add<DPN>("dpn131", DPNConfig{.num_init_features = 128,
                                 .k_r = 160,
                                 .groups = 40,
                                 .k_sec = {4, 8, 28, 3},
                                 .inc_sec = {16, 32, 32, 128}});
  r.add<DPN>("dpn107", DPNConfig{.num_init_features = 128,
                                 .k_r = 200,
                                 .groups = 50,
                                 .k_sec = {4, 8, 20, 3},
                                 .inc_sec = {20, 64, 64, 128}});
}

}  // namespace pepr::models
