// timm/models/cspnet.py, natively: CSPResNet(X)t, CSPDarkNet, DarkNet and the CS3 variants.
// stem.convN (ConvNormAct) [+ stem.pool], stages.N (CrossStage "csp", CrossStage3 "cs3" or
// DarkStage "dark") whose blocks are BottleneckBlock / DarkBlock / EdgeBlock, head
// (ClassifierHead).
#include <array>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <torch/torch.h>

#include "models/headed_classifier.hpp"
#include "models/layers/common.hpp"
#include "models/layers/dpnvov.hpp"
#include "models/model.hpp"
#include "models/registry.hpp"

namespace pepr::models {

namespace {

using dpnvov::ConvNormAct;

enum class StageType { csp, cs3, dark };
enum class BlockType { bottle, dark, edge };

struct CspConfig {
  // Stem (CspStemCfg).
  std::vector<int64_t> stem_out_chs{32};
  int64_t stem_stride = 2;
  int64_t stem_kernel_size = 3;
  std::optional<int64_t> stem_padding;  // "" (symmetric) when unset
  bool stem_pool = false;
  // Stages (CspStagesCfg); a single value applies to every stage.
  std::vector<int64_t> depth;
  std::vector<int64_t> out_chs;
  std::vector<int64_t> stride{2};
  std::vector<int64_t> groups{1};
  std::vector<double> block_ratio{1.0};
  std::vector<double> bottle_ratio{1.0};
  std::vector<bool> avg_down{false};
  std::vector<double> expand_ratio{1.0};
  std::vector<bool> cross_linear{false};
  std::vector<bool> down_growth{false};
  StageType stage_type = StageType::csp;
  BlockType block_type = BlockType::bottle;
  bool se = false;  // attn_layer 'se' (timm.layers.SEModule with the model's activation)
  double se_rd_ratio = 1.0 / 16;
  Act act = Act::leaky_relu;
};

template <typename T>
T at(const std::vector<T>& v, size_t i) {
  return i < v.size() ? v[i] : v.back();
}

// int(round(x)) in Python.
int64_t round_chs(double x) {
  return py_round(x);
}

ConvNormAct conv_norm_act(int64_t in, int64_t out, int64_t k, Act act, int64_t stride = 1,
                          int64_t groups = 1) {
  return ConvNormAct(ConvOptions(in, out, k).stride(stride).groups(groups), act);
}

struct BlockArgs {
  int64_t in_chs = 0;
  int64_t out_chs = 0;
  double bottle_ratio = 1.0;
  int64_t groups = 1;
  Act act = Act::relu;
  bool se = false;
  double se_rd_ratio = 1.0 / 16;
  double drop_path_rate = 0.0;
};

SEModule make_se(int64_t channels, const BlockArgs& a) {
  return SEModule(channels, SEModuleOptions().rd_ratio(a.se_rd_ratio).act(a.act));
}

// BottleneckBlock: conv1 (1x1), conv2 (3x3, groups), attn2, conv3 (1x1, no act), attn3 (unused
// here: attn_last is False), + shortcut, act3.
class BottleneckBlockImpl : public torch::nn::Module {
 public:
  explicit BottleneckBlockImpl(const BlockArgs& a) : act_(a.act), dpr_(a.drop_path_rate) {
    const int64_t mid = round_chs(static_cast<double>(a.out_chs) * a.bottle_ratio);
    conv1 = register_module("conv1", conv_norm_act(a.in_chs, mid, 1, a.act));
    conv2 = register_module("conv2", conv_norm_act(mid, mid, 3, a.act, 1, a.groups));
    if (a.se) attn = register_module("attn2", make_se(mid, a));
    conv3 = register_module("conv3", conv_norm_act(mid, a.out_chs, 1, Act::identity));
  }
  torch::Tensor forward(const torch::Tensor& input) {
    auto x = conv2->forward(conv1->forward(input));
    if (attn) x = attn->forward(x);
    x = conv3->forward(x);
    x = drop_path(x, dpr_, is_training()) + input;
    return apply_act(act_, x, /*inplace=*/true);
  }
  void zero_init_last() {
    torch::NoGradGuard no_grad;
    conv3->bn->weight.zero_();
  }
  ConvNormAct conv1{nullptr}, conv2{nullptr}, conv3{nullptr};
  SEModule attn{nullptr};

 private:
  Act act_;
  double dpr_;
};
TORCH_MODULE(BottleneckBlock);

// DarkBlock (conv1 1x1, attn, conv2 3x3) and EdgeBlock (conv1 3x3, attn, conv2 1x1): + shortcut.
class DarkEdgeBlockImpl : public torch::nn::Module {
 public:
  DarkEdgeBlockImpl(const BlockArgs& a, bool edge) : dpr_(a.drop_path_rate) {
    const int64_t mid = round_chs(static_cast<double>(a.out_chs) * a.bottle_ratio);
    if (edge) {
      conv1 = register_module("conv1", conv_norm_act(a.in_chs, mid, 3, a.act, 1, a.groups));
      if (a.se) attn = register_module("attn", make_se(mid, a));
      conv2 = register_module("conv2", conv_norm_act(mid, a.out_chs, 1, a.act));
    } else {
      conv1 = register_module("conv1", conv_norm_act(a.in_chs, mid, 1, a.act));
      if (a.se) attn = register_module("attn", make_se(mid, a));
      conv2 = register_module("conv2", conv_norm_act(mid, a.out_chs, 3, a.act, 1, a.groups));
    }
  }
  torch::Tensor forward(const torch::Tensor& input) {
    auto x = conv1->forward(input);
    if (attn) x = attn->forward(x);
    x = conv2->forward(x);
    return drop_path(x, dpr_, is_training()) + input;
  }
  void zero_init_last() {
    torch::NoGradGuard no_grad;
    conv2->bn->weight.zero_();
  }
  ConvNormAct conv1{nullptr}, conv2{nullptr};
  SEModule attn{nullptr};

 private:
  double dpr_;
};
TORCH_MODULE(DarkEdgeBlock);

struct StageArgs {
  int64_t in_chs, out_chs, stride, depth, groups;
  double block_ratio, bottle_ratio, expand_ratio;
  bool avg_down, cross_linear, down_growth;
  StageType type;
  BlockType block;
  BlockArgs block_args;  // act, se, se_rd_ratio
  std::vector<double> dpr;
};

// One stage of any of the three kinds; members absent from a kind stay unregistered.
class CspStageImpl : public torch::nn::Module {
 public:
  explicit CspStageImpl(const StageArgs& s) : type_(s.type) {
    const Act act = s.block_args.act;
    int64_t prev_chs = s.in_chs;
    if (s.type == StageType::dark || s.stride != 1) {
      const int64_t down_chs =
          s.type == StageType::dark ? s.out_chs : (s.down_growth ? s.out_chs : s.in_chs);
      if (s.avg_down) {
        // nn.Sequential(AvgPool2d(2) or Identity, ConvNormAct 1x1 to out_chs).
        avg_pool_ = s.stride == 2;
        conv_down_seq = register_module("conv_down", Sequential());
        conv_down_seq->push_back(torch::nn::Identity());
        conv_down_seq->push_back(conv_norm_act(s.in_chs, s.out_chs, 1, act, 1, s.groups));
        prev_chs = s.out_chs;
      } else {
        conv_down = register_module("conv_down",
                                    conv_norm_act(s.in_chs, down_chs, 3, act, s.stride, s.groups));
        prev_chs = down_chs;
      }
    }
    if (s.type != StageType::dark) {
      exp_chs_ = round_chs(static_cast<double>(s.out_chs) * s.expand_ratio);
      conv_exp = register_module(
          "conv_exp", conv_norm_act(prev_chs, exp_chs_, 1, s.cross_linear ? Act::identity : act));
      prev_chs = exp_chs_ / 2;
    }
    const int64_t block_out_chs = round_chs(static_cast<double>(s.out_chs) * s.block_ratio);
    blocks = register_module("blocks", Sequential());
    for (int64_t i = 0; i < s.depth; ++i) {
      BlockArgs b = s.block_args;
      b.in_chs = prev_chs;
      b.out_chs = block_out_chs;
      b.bottle_ratio = s.bottle_ratio;
      b.groups = s.groups;
      b.drop_path_rate = s.dpr.empty() ? 0.0 : s.dpr[static_cast<size_t>(i)];
      if (s.block == BlockType::bottle) {
        blocks->push_back(BottleneckBlock(b));
      } else {
        blocks->push_back(DarkEdgeBlock(b, s.block == BlockType::edge));
      }
      prev_chs = block_out_chs;
    }
    if (s.type == StageType::csp) {
      conv_transition_b =
          register_module("conv_transition_b", conv_norm_act(prev_chs, exp_chs_ / 2, 1, act));
    }
    if (s.type != StageType::dark) {
      conv_transition =
          register_module("conv_transition", conv_norm_act(exp_chs_, s.out_chs, 1, act));
    }
  }

  torch::Tensor forward(torch::Tensor x) {
    if (conv_down) x = conv_down->forward(x);
    if (conv_down_seq) {
      if (avg_pool_) x = torch::avg_pool2d(x, {2, 2}, {2, 2});
      x = conv_down_seq->forward(x);
    }
    if (type_ == StageType::dark) return blocks->forward(x);
    x = conv_exp->forward(x);
    const auto halves = x.split(exp_chs_ / 2, 1);
    if (type_ == StageType::csp) {
      // CrossStage: the blocks run on the second half.
      auto xb = conv_transition_b->forward(blocks->forward(halves[1])).contiguous();
      return conv_transition->forward(torch::cat({halves[0], xb}, 1));
    }
    // CrossStage3: the blocks run on the first half.
    auto x1 = blocks->forward(halves[0]);
    return conv_transition->forward(torch::cat({x1, halves[1]}, 1));
  }

  ConvNormAct conv_down{nullptr};
  Sequential conv_down_seq{nullptr};
  ConvNormAct conv_exp{nullptr};
  Sequential blocks{nullptr};
  ConvNormAct conv_transition_b{nullptr}, conv_transition{nullptr};

 private:
  StageType type_;
  bool avg_pool_ = false;
  int64_t exp_chs_ = 0;
};
TORCH_MODULE(CspStage);

class CspNet : public HeadedClassifier<ClassifierHead> {
 public:
  CspNet(const std::string& arch, const CspConfig& cfg, const ModelOptions& options)
      : HeadedClassifier(arch, options) {
    // Each spatial reduction as (kernel, stride, padding, is_avg_pool) for min_input_size.
    std::vector<std::array<int64_t, 4>> reductions;

    stem_ = register_module("stem", std::make_shared<torch::nn::Module>());
    int64_t prev_chs = options.in_chans;
    const size_t last_idx = cfg.stem_out_chs.size() - 1;
    for (size_t i = 0; i < cfg.stem_out_chs.size(); ++i) {
      const bool s2 = (i == 0 && cfg.stem_stride > 1) ||
                      (i == last_idx && cfg.stem_stride > 2 && !cfg.stem_pool);
      const int64_t stride = s2 ? 2 : 1;
      const int64_t k = cfg.stem_kernel_size;
      ConvOptions co(prev_chs, cfg.stem_out_chs[i], k);
      co.stride(stride);
      int64_t pad = get_padding(k, stride);
      if (i == 0 && cfg.stem_padding) {
        pad = *cfg.stem_padding;
        co.padding(torch::ExpandingArray<2>(pad));
      }
      reductions.push_back({k, stride, pad, 0});
      stem_convs_.push_back(
          stem_->register_module(fmt::format("conv{}", i + 1), ConvNormAct(co, cfg.act)));
      prev_chs = cfg.stem_out_chs[i];
    }
    if (cfg.stem_pool) reductions.push_back({3, 2, 1, 0});
    stem_pool_ = cfg.stem_pool;

    const size_t n = cfg.depth.size();
    int64_t total_blocks = 0;
    for (auto d : cfg.depth) total_blocks += d;
    const auto dpr = dpnvov::drop_path_rates(options.drop_path_rate, total_blocks);
    stages_ = register_module("stages", Sequential());
    size_t block_idx = 0;
    for (size_t i = 0; i < n; ++i) {
      StageArgs s;
      s.in_chs = prev_chs;
      s.out_chs = cfg.out_chs[i];
      s.stride = at(cfg.stride, i);
      s.depth = cfg.depth[i];
      s.groups = at(cfg.groups, i);
      s.block_ratio = at(cfg.block_ratio, i);
      s.bottle_ratio = at(cfg.bottle_ratio, i);
      s.expand_ratio = at(cfg.expand_ratio, i);
      s.avg_down = at(cfg.avg_down, i);
      s.cross_linear = at(cfg.cross_linear, i);
      s.down_growth = at(cfg.down_growth, i);
      s.type = cfg.stage_type;
      s.block = cfg.block_type;
      s.block_args.act = cfg.act;
      s.block_args.se = cfg.se;
      s.block_args.se_rd_ratio = cfg.se_rd_ratio;
      if (options.drop_path_rate > 0.0) {
        s.dpr.assign(dpr.begin() + static_cast<std::ptrdiff_t>(block_idx),
                     dpr.begin() + static_cast<std::ptrdiff_t>(block_idx + s.depth));
      }
      block_idx += static_cast<size_t>(s.depth);
      if (s.avg_down && s.stride == 2) {
        reductions.push_back({2, 2, 0, 1});
      } else if (s.stride != 1) {
        reductions.push_back({3, s.stride, 1, 0});
      }
      stages_->push_back(CspStage(s));
      prev_chs = s.out_chs;
    }
    set_num_features(prev_chs);
    head_ =
        register_module("head", ClassifierHead(prev_chs, options.num_classes, options.drop_rate));

    min_size_ = dpnvov::smallest_size([reductions](int64_t s) {
      for (const auto& r : reductions) {
        s = dpnvov::pool_out_size(s, r[0], r[1], r[2], false);
        if (s < 1) return false;
      }
      return true;
    });

    // timm _init_weights(zero_init_last=True).
    init_kaiming_fan_out(*this);
    torch::NoGradGuard no_grad;
    head_->fc->weight.normal_(0.0, 0.01);
    head_->fc->bias.zero_();
    for (auto& m : modules(/*include_self=*/false)) {
      if (auto* b = m->as<BottleneckBlockImpl>()) b->zero_init_last();
      if (auto* b = m->as<DarkEdgeBlockImpl>()) b->zero_init_last();
    }
  }

  torch::Tensor forward_features(torch::Tensor x) override {
    for (auto& conv : stem_convs_) x = conv->forward(x);
    if (stem_pool_) x = torch::max_pool2d(x, {3, 3}, {2, 2}, {1, 1});
    return stages_->forward(x);
  }
  std::vector<std::string> first_conv_names() const override { return {"stem.conv1.conv"}; }
  int64_t min_input_size() const override { return min_size_; }

 private:
  std::shared_ptr<torch::nn::Module> stem_;
  std::vector<ConvNormAct> stem_convs_;
  bool stem_pool_ = false;
  Sequential stages_{nullptr};
  int64_t min_size_ = 1;
};

// timm's _cs3_cfg.
CspConfig cs3_cfg(double width_multiplier = 1.0, double depth_multiplier = 1.0, bool focus = false,
                  bool se = false, double se_rd_ratio = 1.0 / 16, double bottle_ratio = 1.0,
                  BlockType block_type = BlockType::dark) {
  auto wm = [&](int64_t c) { return make_divisible(static_cast<double>(c) * width_multiplier); };
  CspConfig c;
  if (focus) {
    c.stem_out_chs = {wm(64)};
    c.stem_kernel_size = 6;
    c.stem_stride = 2;
    c.stem_padding = 2;
  } else {
    c.stem_out_chs = {wm(32), wm(64)};
    c.stem_kernel_size = 3;
    c.stem_stride = 2;
  }
  c.out_chs = {wm(128), wm(256), wm(512), wm(1024)};
  for (int64_t d : {3, 6, 9, 3}) {
    c.depth.push_back(static_cast<int64_t>(static_cast<double>(d) * depth_multiplier));
  }
  c.stride = {2};
  c.bottle_ratio = {bottle_ratio};
  c.block_ratio = {0.5};
  c.se = se;
  c.se_rd_ratio = se_rd_ratio;
  c.stage_type = StageType::cs3;
  c.block_type = block_type;
  c.act = Act::silu;
  return c;
}

}  // namespace

void register_cspnet_models(Registry& r) {
  {
    CspConfig c;
    c.stem_out_chs = {64};
    c.stem_kernel_size = 7;
    c.stem_stride = 4;
    c.stem_pool = true;
    c.depth = {3, 3, 5, 2};
    c.out_chs = {128, 256, 512, 1024};
    c.stride = {1, 2};
    c.expand_ratio = {2.0};
    c.bottle_ratio = {0.5};
    c.cross_linear = {true};
    r.add<CspNet>("cspresnet50", c);
  }
  {
    CspConfig c;
    c.stem_out_chs = {64};
    c.stem_kernel_size = 7;
    c.stem_stride = 4;
    c.stem_pool = true;
    c.depth = {3, 3, 5, 2};
    c.out_chs = {256, 512, 1024, 2048};
    c.stride = {1, 2};
    c.groups = {32};
    c.expand_ratio = {1.0};
    c.bottle_ratio = {1.0};
    c.block_ratio = {0.5};
    c.cross_linear = {true};
    r.add<CspNet>("cspresnext50", c);
  }
  {
    CspConfig c;
    c.stem_out_chs = {32};
    c.stem_kernel_size = 3;
    c.stem_stride = 1;
    c.depth = {1, 2, 8, 8, 4};
    c.out_chs = {64, 128, 256, 512, 1024};
    c.stride = {2};
    c.expand_ratio = {2.0, 1.0};
    c.bottle_ratio = {0.5, 1.0};
    c.block_ratio = {1.0, 0.5};
    c.down_growth = {true};
    c.block_type = BlockType::dark;
    r.add<CspNet>("cspdarknet53", c);
  }
  {
    CspConfig c;
    c.stem_out_chs = {32};
    c.stem_kernel_size = 3;
    c.stem_stride = 1;
    c.depth = {1, 2, 8, 8, 4};
    c.out_chs = {64, 128, 256, 512, 1024};
    c.stride = {2};
    c.bottle_ratio = {0.5};
    c.block_ratio = {1.0};
    c.avg_down = {true};
    c.stage_type = StageType::dark;
    c.block_type = BlockType::dark;
    r.add<CspNet>("darknetaa53", c);
  }
  r.add<CspNet>("cs3darknet_focus_l", cs3_cfg(1.0, 1.0, /*focus=*/true));
  r.add<CspNet>("cs3sedarknet_l", cs3_cfg(1.0, 1.0, false, /*se=*/true, 0.25));
  r.add<CspNet>("cs3edgenet_x",
                cs3_cfg(1.25, 1.33, false, false, 1.0 / 16, /*bottle_ratio=*/1.5, BlockType::edge));
  r.add<CspNet>("cs3se_edgenet_x", cs3_cfg(1.25, 1.33, false, true, 0.25, 1.5, BlockType::edge));
}

}  // namespace pepr::models
