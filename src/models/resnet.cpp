// timm/models/resnet.py, natively. Parameter names equal timm's state dict.
#include "models/resnet.hpp"

#include <fmt/format.h>

#include "core/error.hpp"
#include "models/registry.hpp"

namespace pepr::models {

namespace {

// timm's create_aa(aa_layer, channels, stride): AvgPool2d(2) (create_aa falls back to
// aa_layer(stride), i.e. kernel 2, stride 2) or BlurPool2d(channels, stride).
torch::nn::AnyModule make_aa(ResNetAA aa, int64_t channels, int64_t stride) {
  if (aa == ResNetAA::avg_pool) {
    return torch::nn::AnyModule(torch::nn::AvgPool2d(torch::nn::AvgPool2dOptions(stride)));
  }
  return torch::nn::AnyModule(BlurPool2d(channels, BlurPool2dOptions().stride(stride)));
}

// The shortcut's projection: timm's downsample_conv / downsample_avg (dilation 1).
Sequential make_downsample(int64_t in_chs, int64_t out_chs, int64_t kernel_size, int64_t stride,
                           bool avg_down) {
  Sequential seq;
  if (avg_down) {
    if (stride == 1) {
      seq->push_back(torch::nn::Identity());
    } else {
      seq->push_back(torch::nn::AvgPool2d(
          torch::nn::AvgPool2dOptions(2).stride(stride).ceil_mode(true).count_include_pad(false)));
    }
    seq->push_back(create_conv2d(in_chs, out_chs, 1));
  } else {
    const int64_t k = stride == 1 ? 1 : kernel_size;
    seq->push_back(create_conv2d(in_chs, out_chs, k, stride));
  }
  seq->push_back(batch_norm2d(out_chs));
  return seq;
}

class BasicBlockImpl : public ResNetBlockBase {
 public:
  explicit BasicBlockImpl(const ResNetBlockArgs& a)
      : act_(a.act), drop_path_rate_(a.drop_path_rate) {
    if (a.cardinality != 1 || a.base_width != 64) {
      throw std::logic_error("BasicBlock supports only cardinality 1 and base width 64");
    }
    const int64_t first_planes = a.planes / a.reduce_first;
    const bool use_aa = a.aa != ResNetAA::none && a.stride == 2;
    conv1 =
        register_module("conv1", create_conv2d(a.inplanes, first_planes, 3, use_aa ? 1 : a.stride));
    bn1 = register_module("bn1", BatchNormAct2d(first_planes, a.act));
    if (use_aa) {
      aa = make_aa(a.aa, first_planes, a.stride);
      register_module("aa", aa.ptr());
    }
    conv2 = register_module("conv2", create_conv2d(first_planes, a.planes, 3));
    bn2 = register_module("bn2", batch_norm2d(a.planes));
    if (a.attn_layer) {
      se = a.attn_layer(a.planes);
      register_module("se", se.ptr());
    }
    if (a.downsample) downsample = register_module("downsample", a.downsample);
  }

  torch::Tensor forward(const torch::Tensor& input) {
    auto x = bn1->forward(conv1->forward(input));
    if (!aa.is_empty()) x = aa.forward(x);
    x = bn2->forward(conv2->forward(x));
    if (!se.is_empty()) x = se.forward(x);
    x = drop_path(x, drop_path_rate_, is_training());
    x.add_(downsample ? downsample->forward(input) : input);
    return apply_act(act_, x, /*inplace=*/true);
  }

  void zero_init_last() override {
    torch::NoGradGuard no_grad;
    bn2->weight.zero_();
  }

  Conv2d conv1{nullptr}, conv2{nullptr};
  BatchNormAct2d bn1{nullptr}, bn2{nullptr};
  torch::nn::AnyModule aa, se;
  Sequential downsample{nullptr};

 private:
  Act act_;
  double drop_path_rate_;
};
TORCH_MODULE(BasicBlock);

class BottleneckImpl : public ResNetBlockBase {
 public:
  explicit BottleneckImpl(const ResNetBlockArgs& a)
      : act_(a.act), drop_path_rate_(a.drop_path_rate) {
    // int(math.floor(planes * (base_width / 64)) * cardinality)
    const int64_t width = a.planes * a.base_width / 64 * a.cardinality;
    const int64_t first_planes = width / a.reduce_first;
    const int64_t outplanes = a.planes * 4;
    const bool use_aa = a.aa != ResNetAA::none && a.stride == 2;
    conv1 = register_module("conv1", create_conv2d(a.inplanes, first_planes, 1));
    bn1 = register_module("bn1", BatchNormAct2d(first_planes, a.act));
    conv2 = register_module(
        "conv2", create_conv2d(first_planes, width, 3, use_aa ? 1 : a.stride, 1, a.cardinality));
    bn2 = register_module("bn2", BatchNormAct2d(width, a.act));
    if (use_aa) {
      aa = make_aa(a.aa, width, a.stride);
      register_module("aa", aa.ptr());
    }
    conv3 = register_module("conv3", create_conv2d(width, outplanes, 1));
    bn3 = register_module("bn3", batch_norm2d(outplanes));
    if (a.attn_layer) {
      se = a.attn_layer(outplanes);
      register_module("se", se.ptr());
    }
    if (a.downsample) downsample = register_module("downsample", a.downsample);
  }

  torch::Tensor forward(const torch::Tensor& input) {
    auto x = bn1->forward(conv1->forward(input));
    x = bn2->forward(conv2->forward(x));
    if (!aa.is_empty()) x = aa.forward(x);
    x = bn3->forward(conv3->forward(x));
    if (!se.is_empty()) x = se.forward(x);
    x = drop_path(x, drop_path_rate_, is_training());
    x.add_(downsample ? downsample->forward(input) : input);
    return apply_act(act_, x, /*inplace=*/true);
  }

  void zero_init_last() override {
    torch::NoGradGuard no_grad;
    bn3->weight.zero_();
  }

  Conv2d conv1{nullptr}, conv2{nullptr}, conv3{nullptr};
  BatchNormAct2d bn1{nullptr}, bn2{nullptr}, bn3{nullptr};
  torch::nn::AnyModule aa, se;
  Sequential downsample{nullptr};

 private:
  Act act_;
  double drop_path_rate_;
};
TORCH_MODULE(Bottleneck);

}  // namespace

ResNet::ResNet(const std::string& arch, const ResNetConfig& cfg, const ModelOptions& options)
    : LinearHeadClassifier(arch, options, "fc"), aa_(cfg.aa) {
  if (cfg.layers.size() != cfg.channels.size() || cfg.layers.empty()) {
    throw std::logic_error(arch + ": layers and channels must have the same, non-zero length");
  }
  // Stem.
  deep_stem_ = cfg.stem_type.find("deep") != std::string::npos;
  const int64_t inplanes_stem = deep_stem_ ? cfg.stem_width * 2 : 64;
  if (deep_stem_) {
    int64_t c0 = cfg.stem_width;
    const int64_t c1 = cfg.stem_width;
    if (cfg.stem_type.find("tiered") != std::string::npos) c0 = 3 * (cfg.stem_width / 4);
    Sequential stem;
    stem->push_back(create_conv2d(options.in_chans, c0, 3, 2));
    stem->push_back(batch_norm2d(c0));
    stem->push_back(Activation(cfg.act, true));
    stem->push_back(create_conv2d(c0, c1, 3));
    stem->push_back(batch_norm2d(c1));
    stem->push_back(Activation(cfg.act, true));
    stem->push_back(create_conv2d(c1, inplanes_stem, 3));
    register_module("conv1", stem.ptr());
    conv1_ = torch::nn::AnyModule(stem);
  } else {
    auto conv = create_conv2d(options.in_chans, inplanes_stem, 7, 2);
    register_module("conv1", conv.ptr());
    conv1_ = torch::nn::AnyModule(conv);
  }
  bn1_ = register_module("bn1", BatchNormAct2d(inplanes_stem, cfg.act));

  // Stem pooling (timm keeps the name "maxpool" whatever it holds).
  if (cfg.replace_stem_pool) {
    Sequential pool;
    pool->push_back(
        create_conv2d(inplanes_stem, inplanes_stem, 3, cfg.aa != ResNetAA::none ? 1 : 2));
    if (cfg.aa != ResNetAA::none) pool->push_back(make_aa(cfg.aa, inplanes_stem, 2));
    pool->push_back(BatchNormAct2d(inplanes_stem, Act::identity));
    pool->push_back(Activation(cfg.act, true));
    maxpool_ = torch::nn::AnyModule(pool);
  } else if (cfg.aa == ResNetAA::avg_pool) {
    maxpool_ = torch::nn::AnyModule(torch::nn::AvgPool2d(torch::nn::AvgPool2dOptions(2)));
  } else if (cfg.aa == ResNetAA::blur_pool) {
    Sequential pool;
    pool->push_back(torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(3).stride(1).padding(1)));
    pool->push_back(BlurPool2d(inplanes_stem, BlurPool2dOptions().stride(2)));
    maxpool_ = torch::nn::AnyModule(pool);
  } else {
    maxpool_ = torch::nn::AnyModule(
        torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(3).stride(2).padding(1)));
  }
  register_module("maxpool", maxpool_.ptr());

  // Stages (timm's make_blocks, output stride 32).
  const int64_t expansion = cfg.block_fn                      ? cfg.block_expansion
                            : cfg.block == ResNetBlock::basic ? 1
                                                              : 4;
  const int64_t net_blocks = [&] {
    int64_t n = 0;
    for (auto l : cfg.layers) n += l;
    return n;
  }();
  int64_t inplanes = inplanes_stem;
  int64_t block_idx_net = 0;
  for (size_t stage = 0; stage < cfg.layers.size(); ++stage) {
    const int64_t planes = cfg.channels[stage];
    const int64_t stride = stage == 0 ? 1 : 2;
    Sequential blocks;
    for (int64_t b = 0; b < cfg.layers[stage]; ++b) {
      ResNetBlockArgs a;
      a.inplanes = inplanes;
      a.planes = planes;
      a.stride = b == 0 ? stride : 1;
      a.cardinality = cfg.cardinality;
      a.base_width = cfg.base_width;
      a.reduce_first = cfg.reduce_first;
      a.act = cfg.act;
      a.aa = cfg.aa;
      a.attn_layer = cfg.attn_layer;
      a.drop_path_rate = options.drop_path_rate * static_cast<double>(block_idx_net) /
                         static_cast<double>(std::max<int64_t>(net_blocks - 1, 1));
      if (b == 0 && (stride != 1 || inplanes != planes * expansion)) {
        a.downsample = make_downsample(inplanes, planes * expansion, cfg.down_kernel_size, stride,
                                       cfg.avg_down);
      }
      if (cfg.block_fn) {
        blocks->push_back(cfg.block_fn(a));
      } else if (cfg.block == ResNetBlock::basic) {
        blocks->push_back(BasicBlock(a));
      } else {
        blocks->push_back(Bottleneck(a));
      }
      inplanes = planes * expansion;
      ++block_idx_net;
    }
    stages_.push_back(register_module(fmt::format("layer{}", stage + 1), blocks));
  }
  set_num_features(inplanes);
  register_fc(inplanes);

  // timm's init_weights(zero_init_last=True); Linear and Conv1d keep PyTorch's default.
  init_kaiming_fan_out(*this);
  for (auto& m : modules(/*include_self=*/false)) {
    if (auto* block = dynamic_cast<ResNetBlockBase*>(m.get())) block->zero_init_last();
  }
}

int64_t ResNet::min_input_size() const {
  switch (aa_) {
    case ResNetAA::none:
      return 1;
    case ResNetAA::blur_pool:
      // Reflect padding needs at least 2 pixels before the last blur, after four halvings
      // (rounded up): ceil(H / 16) >= 2.
      return 17;
    case ResNetAA::avg_pool:
      // 2x2 average pools after the stem conv (floor), five halvings in all: 31 -> 16 -> 8 ->
      // 4 -> 2 -> 1.
      return 31;
  }
  return 1;
}

// With 2x2 average-pool anti-aliasing the main path halves rounding down while the shortcut
// halves rounding up, so in timm the residual sum fails unless the feature map entering stages
// 2-4 has an even side. Say so instead of letting LibTorch report a size mismatch.
void ResNet::check_input_size(int64_t h, int64_t w) const {
  if (aa_ != ResNetAA::avg_pool) return;
  for (const int64_t side : {h, w}) {
    int64_t s = (side + 1) / 2;  // stem convolution, stride 2
    s /= 2;                      // stem pool
    for (int stage = 2; stage <= 4; ++stage) {
      if (s % 2 != 0) {
        throw Error(fmt::format(
            "{}: an input of {}x{} pixels gives an odd feature map ({} px) entering stage {}, "
            "where this architecture's 2x2 anti-aliasing pool and its shortcut disagree in size "
            "(as in timm); resize the images to a side within 2 pixels of a multiple of 32, "
            "e.g. 224 or 256",
            arch(), h, w, s, stage));
      }
      s /= 2;
    }
  }
}

torch::Tensor ResNet::forward_features(torch::Tensor x) {
  check_input_size(x.size(2), x.size(3));
  x = bn1_->forward(conv1_.forward(x));
  x = maxpool_.forward(x);
  for (auto& stage : stages_) x = stage->forward(x);
  return x;
}

// ---------------------------------------------------------------------------------------------

namespace {

ResNetConfig config(ResNetBlock block, std::vector<int64_t> layers) {
  ResNetConfig cfg;
  cfg.block = block;
  cfg.layers = std::move(layers);
  return cfg;
}

ResNetConfig bottleneck(std::vector<int64_t> layers) {
  return config(ResNetBlock::bottleneck, std::move(layers));
}

// ResNeXt: grouped 3x3 convolutions.
ResNetConfig next(ResNetConfig cfg, int64_t cardinality, int64_t base_width) {
  cfg.cardinality = cardinality;
  cfg.base_width = base_width;
  return cfg;
}

// timm's "d" variants: deep 3x3 stem of width 32, avg-pool downsampling.
ResNetConfig deep_d(ResNetConfig cfg) {
  cfg.stem_width = 32;
  cfg.stem_type = "deep";
  cfg.avg_down = true;
  return cfg;
}

// timm's "t" variants: tiered deep stem (24, 32, 64), avg-pool downsampling.
ResNetConfig tiered_t(ResNetConfig cfg) {
  cfg.stem_width = 32;
  cfg.stem_type = "deep_tiered";
  cfg.avg_down = true;
  return cfg;
}

// block_args=dict(attn_layer='se'): timm.layers.SEModule (rd_ratio 1/16, divisor 8).
ResNetConfig se(ResNetConfig cfg, double rd_ratio = 1.0 / 16) {
  cfg.attn_layer = [rd_ratio](int64_t channels) {
    return torch::nn::AnyModule(SEModule(channels, SEModuleOptions().rd_ratio(rd_ratio)));
  };
  return cfg;
}

// block_args=dict(attn_layer='eca'): timm.layers.EcaModule with the adaptive kernel size.
ResNetConfig eca(ResNetConfig cfg) {
  cfg.attn_layer = [](int64_t channels) { return torch::nn::AnyModule(EcaModule(channels)); };
  return cfg;
}

ResNetConfig aa(ResNetConfig cfg, ResNetAA layer) {
  cfg.aa = layer;
  return cfg;
}

// ResNet-RS: "d" stem and downsampling, the stem max pool replaced by a strided conv, SE with
// rd_ratio 1/4.
ResNetConfig rs(std::vector<int64_t> layers) {
  auto cfg = se(deep_d(bottleneck(std::move(layers))), 0.25);
  cfg.replace_stem_pool = true;
  return cfg;
}

}  // namespace

void register_resnet_models(Registry& r) {
  using B = ResNetBlock;
  using AA = ResNetAA;
  const std::vector<int64_t> l26{2, 2, 2, 2}, l34{3, 4, 6, 3}, l101{3, 4, 23, 3}, l152{3, 8, 36, 3},
      l200{3, 24, 36, 3};

  r.add<ResNet>("resnet18", config(B::basic, {2, 2, 2, 2}));
  r.add<ResNet>("resnet18d", deep_d(config(B::basic, {2, 2, 2, 2})));
  r.add<ResNet>("resnet34d", deep_d(config(B::basic, l34)));
  r.add<ResNet>("resnet26d", deep_d(bottleneck(l26)));
  r.add<ResNet>("resnet14t", tiered_t(bottleneck({1, 1, 1, 1})));

  // timm's gluon_* names are deprecated aliases of the plain architectures (resnet34.gluon_in1k,
  // resnet152.gluon_in1k, resnext101_32x4d.gluon_in1k, seresnext50_32x4d.gluon_in1k, ...).
  r.add<ResNet>("gluon_resnet34_v1b", config(B::basic, l34));
  r.add<ResNet>("gluon_resnet152_v1b", bottleneck(l152));
  r.add<ResNet>("gluon_resnext101_32x4d", next(bottleneck(l101), 32, 4));
  r.add<ResNet>("gluon_seresnext50_32x4d", se(next(bottleneck(l34), 32, 4)));
  r.add<ResNet>("gluon_seresnext101_32x4d", se(next(bottleneck(l101), 32, 4)));

  r.add<ResNet>("wide_resnet50_2", next(bottleneck(l34), 1, 128));
  r.add<ResNet>("resnext50d_32x4d", deep_d(next(bottleneck(l34), 32, 4)));
  r.add<ResNet>("resnet152d", deep_d(bottleneck(l152)));
  r.add<ResNet>("resnet200d", deep_d(bottleneck(l200)));

  r.add<ResNet>("seresnext26d_32x4d", se(deep_d(next(bottleneck(l26), 32, 4))));
  r.add<ResNet>("seresnext26t_32x4d", se(tiered_t(next(bottleneck(l26), 32, 4))));
  r.add<ResNet>("seresnet152d", se(deep_d(bottleneck(l152))));
  r.add<ResNet>("seresnext101d_32x8d", se(deep_d(next(bottleneck(l101), 32, 8))));
  r.add<ResNet>("seresnextaa101d_32x8d",
                aa(se(deep_d(next(bottleneck(l101), 32, 8))), AA::avg_pool));

  r.add<ResNet>("ecaresnet26t", eca(tiered_t(bottleneck(l26))));
  r.add<ResNet>("ecaresnet50d", eca(deep_d(bottleneck(l34))));
  r.add<ResNet>("ecaresnet50t", eca(tiered_t(bottleneck(l34))));
  r.add<ResNet>("ecaresnet101d", eca(deep_d(bottleneck(l101))));
  r.add<ResNet>("ecaresnet269d", eca(deep_d(bottleneck({3, 30, 48, 8}))));
  {
    // stem_width=32 without a deep stem: the 7x7 stem keeps 64 channels.
    auto cfg = eca(bottleneck({1, 1, 11, 3}));
    cfg.stem_width = 32;
    cfg.avg_down = true;
    r.add<ResNet>("ecaresnetlight", cfg);
  }

  r.add<ResNet>("resnetblur50", aa(bottleneck(l34), AA::blur_pool));
  r.add<ResNet>("resnetaa50", aa(bottleneck(l34), AA::avg_pool));

  r.add<ResNet>("resnetrs50", rs(l34));
  r.add<ResNet>("resnetrs101", rs(l101));
  r.add<ResNet>("resnetrs152", rs(l152));
  r.add<ResNet>("resnetrs200", rs(l200));
  r.add<ResNet>("resnetrs270", rs({4, 29, 53, 4}));
}

}  // namespace pepr::models
