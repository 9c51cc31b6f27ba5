// timm/models/byobnet.py, natively. Parameter names equal timm's state dict.
#include "models/byobnet.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>

#include <fmt/format.h>

#include "core/error.hpp"
#include "models/layers/attention.hpp"
#include "models/registry.hpp"

namespace pepr::models::byob {

// ---------------------------------------------------------------------------------------------
// Configuration helpers.

std::vector<BlockCfg> interleave_blocks(const std::string& type0, const std::string& type1,
                                        int64_t d, std::vector<int64_t> every,
                                        const BlockCfg& base) {
  if (every.empty()) every = {d - 1};
  std::vector<BlockCfg> blocks;
  for (int64_t i = 0; i < d; ++i) {
    BlockCfg b = base;
    b.d = 1;
    b.type = std::find(every.begin(), every.end(), i) != every.end() ? type1 : type0;
    blocks.push_back(std::move(b));
  }
  return blocks;
}

std::vector<BlockCfg> interleave_blocks(const std::string& type0, const std::string& type1,
                                        int64_t d, const BlockCfg& base, int64_t every,
                                        bool first) {
  std::vector<int64_t> idx;
  for (int64_t i = first ? 0 : every; i < d; i += every + 1) idx.push_back(i);
  return interleave_blocks(type0, type1, d, idx, base);
}

ConvBnAct conv_norm_act(int64_t in_chs, int64_t out_chs, int64_t kernel_size, int64_t stride,
                        int64_t groups, Act act) {
  return ConvBnAct(ConvOptions(in_chs, out_chs, kernel_size).stride(stride).groups(groups), act);
}

namespace {

int64_t num_groups(int64_t group_size, int64_t channels) {
  if (group_size == 0) return 1;
  if (channels % group_size != 0) {
    throw std::logic_error("byobnet: channels must be a multiple of the group size");
  }
  return channels / group_size;
}

// ---------------------------------------------------------------------------------------------
// Attention layers by timm's get_attn name.

torch::nn::AnyModule create_attn(const std::string& type, const AttnKwargs& kw, int64_t chs) {
  if (type == "se") {
    return torch::nn::AnyModule(SEModule(chs, SEModuleOptions()
                                                  .rd_ratio(kw.rd_ratio.value_or(1.0 / 16))
                                                  .rd_divisor(kw.rd_divisor.value_or(8))));
  }
  if (type == "eca") return torch::nn::AnyModule(EcaModule(chs));
  if (type == "gc" || type == "gca") {
    auto o = GlobalContextOptions()
                 .rd_ratio(kw.rd_ratio.value_or(1.0 / 8))
                 .rd_divisor(kw.rd_divisor.value_or(1));
    if (type == "gca") o.fuse_add(true).fuse_scale(false);
    return torch::nn::AnyModule(GlobalContext(chs, o));
  }
  if (type == "bat") {
    return torch::nn::AnyModule(BatNonLocalAttn(
        chs, kw.block_size.value_or(7), 2, kw.rd_ratio.value_or(0.25), kw.rd_divisor.value_or(8)));
  }
  throw std::logic_error("byobnet: unsupported attn_layer '" + type + "'");
}

torch::nn::AnyModule create_self_attn(const std::string& type, const AttnKwargs& kw, int64_t dim,
                                      int64_t stride,
                                      const std::optional<std::array<int64_t, 2>>& feat_size) {
  if (type == "halo") {
    auto o = HaloAttnOptions()
                 .stride(stride)
                 .num_heads(kw.num_heads.value_or(8))
                 .dim_head(kw.dim_head)
                 .block_size(kw.block_size.value_or(8))
                 .halo_size(kw.halo_size.value_or(3))
                 .qk_ratio(kw.qk_ratio.value_or(1.0));
    return torch::nn::AnyModule(HaloAttn(dim, o));
  }
  if (type == "bottleneck") {
    if (!feat_size) {
      throw std::logic_error("byobnet: bottleneck attention needs a fixed input size (img_size)");
    }
    auto o = BottleneckAttnOptions()
                 .stride(stride)
                 .num_heads(kw.num_heads.value_or(4))
                 .dim_head(kw.dim_head)
                 .qk_ratio(kw.qk_ratio.value_or(1.0));
    return torch::nn::AnyModule(BottleneckAttn(dim, *feat_size, o));
  }
  if (type == "lambda") {
    auto o = LambdaLayerOptions()
                 .stride(stride)
                 .num_heads(kw.num_heads.value_or(4))
                 .dim_head(kw.dim_head.value_or(16))
                 .qk_ratio(kw.qk_ratio.value_or(1.0));
    o.r(kw.lambda_r_none ? std::nullopt : std::optional<int64_t>(kw.r.value_or(9)));
    return torch::nn::AnyModule(LambdaLayer(dim, feat_size, o));
  }
  throw std::logic_error("byobnet: unsupported self_attn_layer '" + type + "'");
}

// ---------------------------------------------------------------------------------------------
// Shortcuts: timm's create_shortcut.

class DownsampleAvgImpl : public torch::nn::Module {
 public:
  DownsampleAvgImpl(int64_t in_chs, int64_t out_chs, int64_t stride) : stride_(stride) {
    conv = register_module("conv", conv_norm_act(in_chs, out_chs, 1, 1, 1, Act::identity));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    if (stride_ > 1) {
      return conv->forward(torch::avg_pool2d(x, {2, 2}, {stride_, stride_}, {0, 0},
                                             /*ceil_mode=*/true, /*count_include_pad=*/false));
    }
    return conv->forward(x);
  }
  ConvBnAct conv{nullptr};

 private:
  int64_t stride_;
};
TORCH_MODULE(DownsampleAvg);

// A block with timm's residual structure: optional shortcut, drop path, final activation.
class ResidualBlock : public BlockBase {
 protected:
  explicit ResidualBlock(const BlockArgs& a, bool linear_out)
      : act_(linear_out ? Act::identity : a.layers.act), drop_path_rate_(a.drop_path_rate) {}

  // Registers "shortcut" where timm has a module; identity and none hold no parameters.
  void build_shortcut(const BlockArgs& a) {
    if (a.in_chs != a.out_chs || a.stride != 1) {
      if (a.downsample.empty()) {
        kind_ = Shortcut::none;
      } else if (a.downsample == "avg") {
        kind_ = Shortcut::module;
        shortcut_ = torch::nn::AnyModule(DownsampleAvg(a.in_chs, a.out_chs, a.stride));
      } else {
        kind_ = Shortcut::module;
        shortcut_ =
            torch::nn::AnyModule(conv_norm_act(a.in_chs, a.out_chs, 1, a.stride, 1, Act::identity));
      }
      if (kind_ == Shortcut::module) register_module("shortcut", shortcut_.ptr());
    } else {
      kind_ = Shortcut::identity;
    }
  }

  bool has_shortcut() const { return kind_ != Shortcut::none; }

  // drop_path(x) + shortcut(input), then the block's activation.
  torch::Tensor finish(torch::Tensor x, const torch::Tensor& input) {
    x = drop_path(x, drop_path_rate_, is_training());
    if (kind_ == Shortcut::identity) x = x + input;
    if (kind_ == Shortcut::module) x = x + shortcut_.forward(input);
    return apply_act(act_, std::move(x), /*inplace=*/kind_ != Shortcut::none);
  }

  static torch::Tensor maybe(torch::nn::AnyModule& m, torch::Tensor x) {
    return m.is_empty() ? x : m.forward(std::move(x));
  }

  torch::nn::AnyModule make_attn(const BlockArgs& a, int64_t chs, const std::string& name) {
    auto m = create_attn(a.layers.attn, a.layers.attn_kwargs, chs);
    register_module(name, m.ptr());
    return m;
  }

  static void zero_bn(ConvBnAct& c) {
    torch::NoGradGuard no_grad;
    c->bn->weight.zero_();
  }

  Act act_;

 private:
  enum class Shortcut { none, identity, module };
  Shortcut kind_ = Shortcut::identity;
  torch::nn::AnyModule shortcut_;
  double drop_path_rate_;
};

// One conv of a ConvChainBlock, as timm names it in the state dict.
struct ChainConv {
  const char* name;
  int64_t in, out, kernel, stride, groups;
  Act act;
};

// timm's basic, bottle, dark and edge blocks: a chain of conv-norm-act layers, the model's attn
// after one of them (timm's "attn") or after the last (timm's "attn_last"), then the residual.
class ConvChainBlockImpl : public ResidualBlock {
 public:
  // `attn_after`: the index of the conv that "attn" follows; `attn_last`: the block has
  // "attn_last" after the last conv instead (timm creates one or the other).
  ConvChainBlockImpl(const BlockArgs& a, const std::vector<ChainConv>& convs,
                     std::size_t attn_after, bool attn_last)
      : ResidualBlock(a, a.kw.linear_out) {
    build_shortcut(a);
    const bool any_attn = !a.layers.attn.empty();
    for (std::size_t i = 0; i < convs.size(); ++i) {
      const ChainConv& c = convs[i];
      convs_.push_back(
          register_module(c.name, conv_norm_act(c.in, c.out, c.kernel, c.stride, c.groups, c.act)));
      if (any_attn && !attn_last && i == attn_after) {
        attn_ = make_attn(a, c.out, "attn");
        attn_at_ = i;
      }
    }
    if (any_attn && attn_last) {
      attn_ = make_attn(a, a.out_chs, "attn_last");
      attn_at_ = convs.size() - 1;
    }
  }
  torch::Tensor forward(torch::Tensor input) override {
    torch::Tensor x = input;
    for (std::size_t i = 0; i < convs_.size(); ++i) {
      x = convs_[i]->forward(x);
      if (i == attn_at_) x = attn_.forward(x);
    }
    return finish(x, input);
  }
  void init_weights(bool zero_init_last) override {
    if (zero_init_last && has_shortcut()) zero_bn(convs_.back());
  }

 private:
  std::vector<ConvBnAct> convs_;
  torch::nn::AnyModule attn_;
  std::size_t attn_at_ = static_cast<std::size_t>(-1);  // no attention
};

int64_t mid_chs(const BlockArgs& a, bool from_in) {
  return make_divisible(static_cast<double>(from_in ? a.in_chs : a.out_chs) * a.bottle_ratio);
}

// ResNet basic block: kxk + kxk.
std::shared_ptr<BlockBase> basic_block(const BlockArgs& a) {
  const int64_t mid = mid_chs(a, false), groups = num_groups(a.group_size, mid);
  return std::make_shared<ConvChainBlockImpl>(
      a,
      std::vector<ChainConv>{
          {"conv1_kxk", a.in_chs, mid, a.kernel_size, a.stride, 1, a.layers.act},
          {"conv2_kxk", mid, a.out_chs, a.kernel_size, 1, groups, Act::identity}},
      0, /*attn_last=*/true);
}

// ResNet-like bottleneck: 1x1 - kxk (- kxk) - 1x1; attn after the last kxk.
std::shared_ptr<BlockBase> bottleneck_block(const BlockArgs& a) {
  const int64_t mid = mid_chs(a, a.kw.bottle_in), groups = num_groups(a.group_size, mid);
  std::vector<ChainConv> convs{
      {"conv1_1x1", a.in_chs, mid, 1, 1, 1, a.layers.act},
      {"conv2_kxk", mid, mid, a.kernel_size, a.stride, groups, a.layers.act}};
  if (a.kw.extra_conv)
    convs.push_back({"conv2b_kxk", mid, mid, a.kernel_size, 1, groups, a.layers.act});
  const std::size_t attn_after = convs.size() - 1;
  convs.push_back({"conv3_1x1", mid, a.out_chs, 1, 1, 1, Act::identity});
  return std::make_shared<ConvChainBlockImpl>(a, convs, attn_after, /*attn_last=*/false);
}

// DarkNet-like: 1x1 + kxk (strided).
std::shared_ptr<BlockBase> dark_block(const BlockArgs& a) {
  const int64_t mid = mid_chs(a, false), groups = num_groups(a.group_size, mid);
  return std::make_shared<ConvChainBlockImpl>(
      a,
      std::vector<ChainConv>{
          {"conv1_1x1", a.in_chs, mid, 1, 1, 1, a.layers.act},
          {"conv2_kxk", mid, a.out_chs, a.kernel_size, a.stride, groups, Act::identity}},
      0, /*attn_last=*/true);
}

// EdgeResidual-like: kxk (strided) + 1x1.
std::shared_ptr<BlockBase> edge_block(const BlockArgs& a) {
  const int64_t mid = mid_chs(a, false), groups = num_groups(a.group_size, mid);
  return std::make_shared<ConvChainBlockImpl>(
      a,
      std::vector<ChainConv>{
          {"conv1_kxk", a.in_chs, mid, a.kernel_size, a.stride, groups, a.layers.act},
          {"conv2_1x1", mid, a.out_chs, 1, 1, 1, Act::identity}},
      0, /*attn_last=*/false);
}

// RepVGG (training-time form): BN identity + kxk conv-bn + 1x1 conv-bn, summed.
class RepVggBlockImpl : public BlockBase {
 public:
  explicit RepVggBlockImpl(const BlockArgs& a)
      : act_(a.layers.act), drop_path_rate_(a.drop_path_rate) {
    const int64_t groups = num_groups(a.group_size, a.in_chs);
    const bool use_ident = a.in_chs == a.out_chs && a.stride == 1;
    if (use_ident) identity = register_module("identity", batch_norm2d(a.out_chs));
    conv_kxk = register_module("conv_kxk", conv_norm_act(a.in_chs, a.out_chs, a.kernel_size,
                                                         a.stride, groups, Act::identity));
    conv_1x1 = register_module(
        "conv_1x1", conv_norm_act(a.in_chs, a.out_chs, 1, a.stride, groups, Act::identity));
    if (!a.layers.attn.empty()) {
      attn = create_attn(a.layers.attn, a.layers.attn_kwargs, a.out_chs);
      register_module("attn", attn.ptr());
    }
  }
  torch::Tensor forward(torch::Tensor input) override {
    auto x = conv_1x1->forward(input) + conv_kxk->forward(input);
    if (identity) {
      x = drop_path(x, drop_path_rate_, is_training());
      x = x + identity->forward(input);
    }
    if (!attn.is_empty()) x = attn.forward(x);
    return apply_act(act_, std::move(x), /*inplace=*/true);
  }
  void init_weights(bool /*zero_init_last*/) override {
    torch::NoGradGuard no_grad;
    for (auto& m : modules(/*include_self=*/false)) {
      if (auto* bn = m->as<BatchNormAct2dImpl>()) {
        bn->weight.normal_(0.1, 0.1);
        bn->bias.normal_(0.0, 0.1);
      }
    }
  }
  BatchNormAct2d identity{nullptr};
  ConvBnAct conv_kxk{nullptr}, conv_1x1{nullptr};
  torch::nn::AnyModule attn;

 private:
  Act act_;
  double drop_path_rate_;
};

// ResNet-like bottleneck with self-attention in place of (or after) the kxk conv.
class SelfAttnBlockImpl : public ResidualBlock {
 public:
  explicit SelfAttnBlockImpl(const BlockArgs& a) : ResidualBlock(a, a.kw.linear_out) {
    const int64_t mid = mid_chs(a, a.kw.bottle_in);
    const int64_t groups = num_groups(a.group_size, mid);
    build_shortcut(a);
    conv1_1x1 = register_module("conv1_1x1", conv_norm_act(a.in_chs, mid, 1, 1, 1, a.layers.act));
    int64_t stride = a.stride;
    if (a.kw.extra_conv) {
      conv2_kxk = register_module(
          "conv2_kxk", conv_norm_act(mid, mid, a.kernel_size, a.stride, groups, a.layers.act));
      stride = 1;  // striding done via conv if enabled
    }
    if (a.layers.self_attn.empty()) {
      throw std::logic_error("byobnet: self_attn block without a self_attn_layer");
    }
    self_attn =
        create_self_attn(a.layers.self_attn, a.layers.self_attn_kwargs, mid, stride, a.feat_size);
    register_module("self_attn", self_attn.ptr());
    post_attn = register_module("post_attn", BatchNormAct2d(mid, a.layers.act));
    conv3_1x1 = register_module("conv3_1x1", conv_norm_act(mid, a.out_chs, 1, 1, 1, Act::identity));
  }
  torch::Tensor forward(torch::Tensor input) override {
    auto x = conv1_1x1->forward(input);
    if (conv2_kxk) x = conv2_kxk->forward(x);
    x = self_attn.forward(x);
    x = post_attn->forward(x);
    x = conv3_1x1->forward(x);
    return finish(x, input);
  }
  void init_weights(bool zero_init_last) override {
    if (zero_init_last && has_shortcut()) zero_bn(conv3_1x1);
    if (auto* m = self_attn.ptr()->as<HaloAttnImpl>()) m->reset_parameters();
    if (auto* m = self_attn.ptr()->as<BottleneckAttnImpl>()) m->reset_parameters();
    if (auto* m = self_attn.ptr()->as<LambdaLayerImpl>()) m->reset_parameters();
  }
  ConvBnAct conv1_1x1{nullptr}, conv2_kxk{nullptr}, conv3_1x1{nullptr};
  torch::nn::AnyModule self_attn;
  BatchNormAct2d post_attn{nullptr};
};

std::shared_ptr<BlockBase> create_block(const BlockCfg& cfg, const BlockArgs& a) {
  if (cfg.factory) return cfg.factory(a);
  if (cfg.type == "basic") return basic_block(a);
  if (cfg.type == "bottle") return bottleneck_block(a);
  if (cfg.type == "dark") return dark_block(a);
  if (cfg.type == "edge") return edge_block(a);
  if (cfg.type == "rep") return std::make_shared<RepVggBlockImpl>(a);
  if (cfg.type == "self_attn") return std::make_shared<SelfAttnBlockImpl>(a);
  throw std::logic_error("byobnet: unknown block type '" + cfg.type + "'");
}

// ---------------------------------------------------------------------------------------------
// Stems: timm's create_byob_stem.

// One ConvNormAct as the stem ("stem.conv", "stem.bn").
class ConvStemImpl : public BlockBase {
 public:
  ConvStemImpl(int64_t in_chs, int64_t out_chs, int64_t kernel_size, Act act) {
    conv = register_module("conv", create_conv2d(in_chs, out_chs, kernel_size, /*stride=*/2));
    bn = register_module("bn", BatchNormAct2d(out_chs, act));
  }
  torch::Tensor forward(torch::Tensor x) override { return bn->forward(conv->forward(x)); }
  Conv2d conv{nullptr};
  BatchNormAct2d bn{nullptr};
};

// timm's Stem: conv1 .. convN (ConvNormAct, or bare convs where num_act < num_rep), then pool.
class StemImpl : public BlockBase {
 public:
  StemImpl(int64_t in_chs, const std::vector<int64_t>& chs, int64_t kernel_size, int64_t stride,
           const std::string& pool, std::optional<int64_t> num_act, Act act) {
    const auto num_rep = static_cast<int64_t>(chs.size());
    std::vector<int64_t> strides(static_cast<size_t>(num_rep), 1);
    strides[0] = 2;
    if (stride == 4 && pool.empty()) strides.back() = 2;
    const int64_t n_act = num_act.value_or(num_rep);
    int64_t prev = in_chs;
    for (int64_t i = 0; i < num_rep; ++i) {
      const auto name = fmt::format("conv{}", i + 1);
      const auto ui = static_cast<size_t>(i);
      if (i >= num_rep - n_act) {
        layers_.emplace_back(
            register_module(name, conv_norm_act(prev, chs[ui], kernel_size, strides[ui], 1, act)));
      } else {
        layers_.emplace_back(
            register_module(name, create_conv2d(prev, chs[ui], kernel_size, strides[ui])));
      }
      prev = chs[ui];
    }
    if (!pool.empty()) {
      if (pool == "max2") {
        layers_.emplace_back(register_module("pool", torch::nn::MaxPool2d(2)));
      } else if (pool == "avg2") {
        layers_.emplace_back(register_module("pool", torch::nn::AvgPool2d(2)));
      } else if (pool.find("max") != std::string::npos) {
        layers_.emplace_back(register_module(
            "pool", torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(3).stride(2).padding(1))));
      } else {
        layers_.emplace_back(register_module(
            "pool",
            torch::nn::AvgPool2d(
                torch::nn::AvgPool2dOptions(3).stride(2).padding(1).count_include_pad(false))));
      }
    }
  }
  torch::Tensor forward(torch::Tensor x) override {
    for (auto& m : layers_) x = m.forward(x);
    return x;
  }

 private:
  std::vector<torch::nn::AnyModule> layers_;
};

// Returns the stem and its reduction.
std::pair<std::shared_ptr<BlockBase>, int64_t> create_stem(int64_t in_chs,
                                                           const std::vector<int64_t>& out_chs,
                                                           const std::string& stem_type,
                                                           const std::string& pool,
                                                           const LayerFns& layers) {
  const int64_t out = out_chs.back();
  if (stem_type.find("quad") != std::string::npos) {
    std::vector<int64_t> chs;
    for (int64_t i = 3; i >= 0; --i)
      chs.push_back(py_round(static_cast<double>(out) * std::pow(0.5, static_cast<double>(i))));
    std::optional<int64_t> num_act;
    if (stem_type.find("quad2") != std::string::npos) num_act = 2;
    return {std::make_shared<StemImpl>(in_chs, chs, 3, 4, pool, num_act, layers.act), 4};
  }
  if (stem_type.find("tiered") != std::string::npos) {
    return {std::make_shared<StemImpl>(in_chs, std::vector<int64_t>{3 * out / 8, out / 2, out}, 3,
                                       4, pool, std::nullopt, layers.act),
            4};
  }
  if (stem_type.find("deep") != std::string::npos) {
    return {std::make_shared<StemImpl>(in_chs, std::vector<int64_t>{out, out, out}, 3, 4, pool,
                                       std::nullopt, layers.act),
            4};
  }
  if (stem_type.find("rep") != std::string::npos) {
    BlockArgs a;
    a.in_chs = in_chs;
    a.out_chs = out;
    a.stride = 2;
    a.layers = layers;
    return {std::make_shared<RepVggBlockImpl>(a), 2};
  }
  if (stem_type.find("7x7") != std::string::npos) {
    if (!pool.empty()) {
      return {std::make_shared<StemImpl>(in_chs, std::vector<int64_t>{out}, 7, 4, pool,
                                         std::nullopt, layers.act),
              4};
    }
    return {std::make_shared<ConvStemImpl>(in_chs, out, 7, layers.act), 2};
  }
  if (out_chs.size() > 1) {
    return {std::make_shared<StemImpl>(in_chs, out_chs, 3, 4, pool, std::nullopt, layers.act), 4};
  }
  if (!pool.empty()) {
    return {std::make_shared<StemImpl>(in_chs, std::vector<int64_t>{out}, 3, 4, pool, std::nullopt,
                                       layers.act),
            4};
  }
  return {std::make_shared<ConvStemImpl>(in_chs, out, 3, layers.act), 2};
}

// timm's update_block_kwargs: a block's attn / self-attn / block kwargs override the model's.
void apply_block_overrides(BlockArgs& a, const BlockCfg& b, const ModelCfg& m) {
  if (b.attn_layer || b.attn_kwargs) {
    if (b.attn_layer && b.attn_layer->empty()) {
      a.layers.attn.clear();
    } else {
      a.layers.attn_kwargs = b.attn_kwargs ? *b.attn_kwargs : m.attn_kwargs;
      a.layers.attn = b.attn_layer ? *b.attn_layer : m.attn_layer;
    }
  }
  if (b.self_attn_layer || b.self_attn_kwargs) {
    if (b.self_attn_layer && b.self_attn_layer->empty()) {
      a.layers.self_attn.clear();
    } else {
      a.layers.self_attn_kwargs = b.self_attn_kwargs ? *b.self_attn_kwargs : m.self_attn_kwargs;
      a.layers.self_attn = b.self_attn_layer ? *b.self_attn_layer : m.self_attn_layer;
    }
  }
  a.kw = b.block_kwargs ? *b.block_kwargs : m.block_kwargs;
}

int64_t ceil_div(int64_t a, int64_t b) {
  return (a + b - 1) / b;
}

}  // namespace

// ---------------------------------------------------------------------------------------------

ByobNet::ByobNet(const std::string& arch, const ModelCfg& cfg, const ModelOptions& options)
    : HeadedClassifier(arch, options), first_conv_(cfg.first_conv) {
  if (cfg.blocks.empty()) throw std::logic_error(arch + ": no stages");
  LayerFns layers;
  layers.act = cfg.act;
  layers.attn = cfg.attn_layer;
  layers.attn_kwargs = cfg.attn_kwargs;
  layers.self_attn = cfg.self_attn_layer;
  layers.self_attn_kwargs = cfg.self_attn_kwargs;

  std::optional<std::array<int64_t, 2>> feat_size;
  if (cfg.img_size) feat_size = std::array<int64_t, 2>{*cfg.img_size, *cfg.img_size};
  auto reduce = [&feat_size](int64_t stride) {
    if (feat_size)
      feat_size = std::array<int64_t, 2>{(*feat_size)[0] / stride, (*feat_size)[1] / stride};
  };

  // Stem.
  std::vector<int64_t> stem_chs;
  if (cfg.stem_chs.size() > 1) {
    for (auto c : cfg.stem_chs) stem_chs.push_back(py_round(c * cfg.width_factor));
  } else {
    const double c = cfg.stem_chs.empty() || cfg.stem_chs[0] == 0
                         ? cfg.blocks[0][0].c
                         : static_cast<double>(cfg.stem_chs[0]);
    stem_chs.push_back(py_round(c * cfg.width_factor));
  }
  int64_t net_stride = 0;
  std::tie(stem_, net_stride) =
      create_stem(options.in_chans, stem_chs, cfg.stem_type, cfg.stem_pool, layers);
  register_module("stem", stem_);
  reduce(net_stride);

  // Stages: timm's create_byob_stages (output stride 32, so no dilation).
  std::vector<std::vector<BlockCfg>> stage_cfgs;
  int64_t total_blocks = 0;
  for (const auto& stage : cfg.blocks) {
    std::vector<BlockCfg> expanded;
    for (const auto& b : stage) {
      for (int64_t i = 0; i < b.d; ++i) {
        BlockCfg one = b;
        one.d = 1;
        expanded.push_back(std::move(one));
      }
    }
    total_blocks += static_cast<int64_t>(expanded.size());
    stage_cfgs.push_back(std::move(expanded));
  }
  int64_t prev_chs = stem_chs.back();
  int64_t block_idx_net = 0;
  auto stages = register_module("stages", torch::nn::ModuleList());
  for (const auto& stage_cfg : stage_cfgs) {
    const int64_t stride = stage_cfg[0].s;
    auto stage = torch::nn::ModuleList();
    std::vector<std::shared_ptr<BlockBase>> blocks;
    for (size_t bi = 0; bi < stage_cfg.size(); ++bi) {
      const auto& bc = stage_cfg[bi];
      BlockArgs a;
      a.in_chs = prev_chs;
      a.out_chs = make_divisible(bc.c * cfg.width_factor);
      a.stride = bi == 0 ? stride : 1;
      a.group_size = bc.gs;
      a.bottle_ratio = bc.br;
      a.downsample = cfg.downsample;
      a.drop_path_rate = total_blocks > 1
                             ? options.drop_path_rate * static_cast<double>(block_idx_net) /
                                   static_cast<double>(total_blocks - 1)
                             : 0.0;
      a.layers = layers;
      if (bc.type == "self_attn") a.feat_size = feat_size;
      apply_block_overrides(a, bc, cfg);

      // Size rules of layers that need divisible feature maps.
      const int64_t stride_in = net_stride;
      const int64_t stride_out = net_stride * a.stride;
      net_stride = stride_out;
      if (bc.type == "self_attn" && a.layers.self_attn == "halo") {
        const int64_t bs = a.layers.self_attn_kwargs.block_size.value_or(8);
        size_rules_.push_back({a.kw.extra_conv ? stride_out : stride_in, bs, "halo attention"});
      }
      if (bc.type != "self_attn" && bc.type != "rep" && !bc.factory && a.layers.attn == "bat") {
        const int64_t bs = a.layers.attn_kwargs.block_size.value_or(7);
        size_rules_.push_back({stride_out, bs, "bilinear attention (BAT)"});
      }

      auto block = create_block(bc, a);
      stage->push_back(block);
      blocks.push_back(block);
      prev_chs = a.out_chs;
      if (a.stride > 1 && bi == 0) reduce(a.stride);
      ++block_idx_net;
    }
    stages->push_back(stage);
    stages_.push_back(std::move(blocks));
  }

  int64_t nf = prev_chs;
  if (cfg.num_features) {
    nf = py_round(cfg.width_factor * static_cast<double>(cfg.num_features));
    final_conv_ = register_module("final_conv", conv_norm_act(prev_chs, nf, 1, 1, 1, cfg.act));
  }
  set_num_features(nf);
  head_ = register_module("head", ClassifierHead(nf, options.num_classes, options.drop_rate));

  // Input sizes.
  if (cfg.img_size) {
    fixed_input_size_ = *cfg.img_size;
    min_input_size_ = *cfg.img_size;
  } else {
    min_input_size_ = cfg.min_input_size;
  }
  for (const auto& rule : size_rules_) {
    if (ceil_div(min_input_size_, rule.stride) % rule.divisor != 0) {
      throw std::logic_error(arch + ": min_input_size does not satisfy the size rules");
    }
  }

  // timm's _init_weights, applied children first, then each block's init_weights.
  {
    torch::NoGradGuard no_grad;
    for (auto& m : modules(/*include_self=*/false)) {
      if (auto* conv = m->as<Conv2dImpl>()) {
        const auto& w = conv->weight;
        const int64_t fan_out = w.size(2) * w.size(3) * w.size(0) / conv->groups();
        w.normal_(0.0, std::sqrt(2.0 / static_cast<double>(fan_out)));
        if (conv->bias.defined()) conv->bias.zero_();
      } else if (auto* linear = m->as<torch::nn::LinearImpl>()) {
        linear->weight.normal_(0.0, 0.01);
        if (linear->bias.defined()) linear->bias.zero_();
      } else if (auto* bn = m->as<BatchNormAct2dImpl>()) {
        bn->reset_parameters();
      }
    }
    for (auto& m : modules(/*include_self=*/false)) {
      if (auto* gc = m->as<GlobalContextImpl>()) gc->reset_parameters();
    }
    stem_->init_weights(cfg.zero_init_last);
    for (auto& stage : stages_) {
      for (auto& block : stage) block->init_weights(cfg.zero_init_last);
    }
  }
}

void ByobNet::check_size(int64_t h, int64_t w) const {
  for (const auto& rule : size_rules_) {
    if (ceil_div(h, rule.stride) % rule.divisor == 0 &&
        ceil_div(w, rule.stride) % rule.divisor == 0) {
      continue;
    }
    // The clean multiple every rule accepts, and the nearest such size not below the minimum.
    int64_t multiple = 1;
    for (const auto& r : size_rules_) multiple = std::lcm(multiple, r.stride * r.divisor);
    const int64_t target =
        std::max(min_input_size_, (std::max(h, w) + multiple / 2) / multiple * multiple);
    throw Error(fmt::format(
        "{}: its {} needs feature maps at stride {} that are multiples of {} pixels, which "
        "inputs of {}x{} do not give; resize the images to a multiple of {} pixels, e.g. {}x{}",
        arch(), rule.what, rule.stride, rule.divisor, h, w, multiple, target, target));
  }
}

torch::Tensor ByobNet::forward_features(torch::Tensor x) {
  if (!size_rules_.empty()) check_size(x.size(2), x.size(3));
  x = stem_->forward(x);
  for (auto& stage : stages_) {
    for (auto& block : stage) x = block->forward(x);
  }
  if (final_conv_) x = final_conv_->forward(x);
  return x;
}

ModelCfg tiered(std::vector<std::vector<BlockCfg>> blocks, const std::string& stem_pool, Act act,
                const std::string& attn_layer, int64_t num_features) {
  return ModelCfg{.blocks = std::move(blocks),
                  .stem_type = "tiered",
                  .stem_pool = stem_pool,
                  .stem_chs = {64},
                  .num_features = num_features,
                  .act = act,
                  .attn_layer = attn_layer,
                  .first_conv = {"stem.conv1.conv"}};
}

void register_model(Registry& r, const std::string& name, ModelCfg cfg) {
  r.add(name, [cfg](const std::string& arch, const ModelOptions& o) {
    return std::make_shared<ByobNet>(arch, cfg, o);
  });
}

}  // namespace pepr::models::byob

// ---------------------------------------------------------------------------------------------
// timm's byobnet.py models.

namespace pepr::models {

namespace {

using byob::BlockCfg;
using byob::ModelCfg;
using byob::tiered;

// _rep_vgg_bcfg (groups = 0): channels 64, 128, 256, 512 times the stage's width factor.
std::vector<std::vector<BlockCfg>> rep_vgg_bcfg(std::array<int64_t, 4> d,
                                                std::array<double, 4> wf) {
  const std::array<double, 4> c = {64, 128, 256, 512};
  std::vector<std::vector<BlockCfg>> stages;
  for (size_t i = 0; i < 4; ++i)
    stages.push_back({BlockCfg{.type = "rep", .d = d[i], .c = c[i] * wf[i], .s = 2}});
  return stages;
}

std::vector<std::vector<BlockCfg>> resnext26_blocks() {
  return {{BlockCfg{.type = "bottle", .d = 2, .c = 256, .s = 1, .gs = 32, .br = 0.25}},
          {BlockCfg{.type = "bottle", .d = 2, .c = 512, .s = 2, .gs = 32, .br = 0.25}},
          {BlockCfg{.type = "bottle", .d = 2, .c = 1024, .s = 2, .gs = 32, .br = 0.25}},
          {BlockCfg{.type = "bottle", .d = 2, .c = 2048, .s = 2, .gs = 32, .br = 0.25}}};
}

std::vector<std::vector<BlockCfg>> resnet33_blocks() {
  return {{BlockCfg{.type = "bottle", .d = 2, .c = 256, .s = 1, .br = 0.25}},
          {BlockCfg{.type = "bottle", .d = 3, .c = 512, .s = 2, .br = 0.25}},
          {BlockCfg{.type = "bottle", .d = 3, .c = 1536, .s = 2, .br = 0.25}},
          {BlockCfg{.type = "bottle", .d = 2, .c = 1536, .s = 2, .br = 0.25}}};
}

std::vector<std::vector<BlockCfg>> resnet50_blocks(int64_t gs) {
  return {{BlockCfg{.type = "bottle", .d = 3, .c = 256, .s = 1, .gs = gs, .br = 0.25}},
          {BlockCfg{.type = "bottle", .d = 4, .c = 512, .s = 2, .gs = gs, .br = 0.25}},
          {BlockCfg{.type = "bottle", .d = 6, .c = 1024, .s = 2, .gs = gs, .br = 0.25}},
          {BlockCfg{.type = "bottle", .d = 3, .c = 2048, .s = 2, .gs = gs, .br = 0.25}}};
}

}  // namespace

void register_byobnet_models(Registry& r) {
  using byob::register_model;
  {
    ModelCfg cfg;
    cfg.blocks = {{BlockCfg{.type = "basic", .d = 1, .c = 128, .s = 2}},
                  {BlockCfg{.type = "basic", .d = 2, .c = 192, .s = 2}},
                  {BlockCfg{.type = "bottle", .d = 6, .c = 640, .s = 2, .br = 1.0 / 4}},
                  {BlockCfg{.type = "bottle", .d = 5, .c = 640, .s = 2, .gs = 1, .br = 3.0}},
                  {BlockCfg{.type = "bottle", .d = 4, .c = 640, .s = 1, .gs = 1, .br = 3.0}}};
    cfg.stem_chs = {32};
    cfg.stem_pool = "";
    cfg.num_features = 2560;
    register_model(r, "gernet_l", cfg);
  }
  {
    ModelCfg cfg;
    cfg.blocks = rep_vgg_bcfg({2, 4, 14, 1}, {1.5, 1.5, 1.5, 2.75});
    cfg.stem_type = "rep";
    cfg.stem_chs = {64};
    cfg.first_conv = {"stem.conv_kxk.conv", "stem.conv_1x1.conv"};
    register_model(r, "repvgg_a2", cfg);
  }
  {
    ModelCfg cfg;
    cfg.blocks = {{BlockCfg{.type = "bottle", .d = 2, .c = 256, .s = 1, .gs = 32, .br = 0.25}},
                  {BlockCfg{.type = "bottle", .d = 4, .c = 512, .s = 2, .gs = 32, .br = 0.25}},
                  {BlockCfg{.type = "bottle", .d = 6, .c = 1536, .s = 2, .gs = 32, .br = 0.25}},
                  {BlockCfg{.type = "bottle", .d = 4, .c = 1536, .s = 2, .gs = 1}}};
    cfg.stem_chs = {128};
    cfg.stem_type = "quad2";
    cfg.stem_pool = "";
    cfg.num_features = 2048;
    cfg.act = Act::silu;
    cfg.first_conv = {"stem.conv1"};
    register_model(r, "resnet51q", cfg);
  }
  {
    ModelCfg cfg;
    BlockCfg edge = BlockCfg{.type = "edge", .d = 1, .c = 256, .s = 1};
    edge.block_kwargs = byob::BlockKwargs{};
    cfg.blocks = {{edge},
                  {BlockCfg{.type = "bottle", .d = 4, .c = 512, .s = 2, .gs = 32, .br = 0.25}},
                  {BlockCfg{.type = "bottle", .d = 6, .c = 1536, .s = 2, .gs = 32, .br = 0.25}},
                  {BlockCfg{.type = "bottle", .d = 4, .c = 1536, .s = 2, .gs = 1}}};
    cfg.stem_chs = {128};
    cfg.stem_type = "quad";
    cfg.stem_pool = "";
    cfg.num_features = 2048;
    cfg.act = Act::silu;
    cfg.block_kwargs.extra_conv = true;
    cfg.first_conv = {"stem.conv1.conv"};
    register_model(r, "resnet61q", cfg);
  }
  register_model(r, "gcresnext26ts", tiered(resnext26_blocks(), "maxpool", Act::silu, "gca", 0));
  register_model(r, "seresnext26ts", tiered(resnext26_blocks(), "maxpool", Act::silu, "se", 0));
  {
    auto cfg = tiered(resnext26_blocks(), "maxpool", Act::silu, "bat", 0);
    cfg.attn_kwargs.block_size = 8;
    cfg.min_input_size = 256;  // timm's min_input_size: BAT needs stride-32 maps % 8 == 0
    register_model(r, "bat_resnext26ts", cfg);
  }
  register_model(r, "resnet32ts", tiered(resnet33_blocks(), "", Act::silu, "", 0));
  register_model(r, "gcresnet33ts", tiered(resnet33_blocks(), "", Act::silu, "gca", 1280));
  register_model(r, "seresnet33ts", tiered(resnet33_blocks(), "", Act::silu, "se", 1280));
  register_model(r, "eca_resnet33ts", tiered(resnet33_blocks(), "", Act::silu, "eca", 1280));
  register_model(r, "gcresnet50t", tiered(resnet50_blocks(0), "", Act::relu, "gca", 0));
  register_model(r, "gcresnext50ts", tiered(resnet50_blocks(32), "maxpool", Act::silu, "gca", 0));
}

}  // namespace pepr::models
