// timm/models/resnet.py, natively. Parameter names equal timm's state dict.
#include "models/resnet.hpp"

#include <fmt/format.h>

#include "core/error.hpp"
#include "models/registry.hpp"

namespace pepr::models {

namespace {

struct BlockArgs {
  int64_t inplanes = 0;
  int64_t planes = 0;
  int64_t stride = 1;
  int64_t cardinality = 1;
  int64_t base_width = 64;
  int64_t reduce_first = 1;
  Act act = Act::relu;
  double drop_path_rate = 0.0;
  Sequential downsample{nullptr};
  std::function<torch::nn::AnyModule(int64_t)> attn_layer;
};

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

class BasicBlockImpl : public torch::nn::Module {
 public:
  explicit BasicBlockImpl(const BlockArgs& a) : act_(a.act), drop_path_rate_(a.drop_path_rate) {
    const int64_t first_planes = a.planes / a.reduce_first;
    conv1 = register_module("conv1", create_conv2d(a.inplanes, first_planes, 3, a.stride));
    bn1 = register_module("bn1", BatchNormAct2d(first_planes, a.act));
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
    x = bn2->forward(conv2->forward(x));
    if (!se.is_empty()) x = se.forward(x);
    x = drop_path(x, drop_path_rate_, is_training());
    x.add_(downsample ? downsample->forward(input) : input);
    return apply_act(act_, x, /*inplace=*/true);
  }

  void zero_init_last() {
    torch::NoGradGuard no_grad;
    bn2->weight.zero_();
  }

  Conv2d conv1{nullptr}, conv2{nullptr};
  BatchNormAct2d bn1{nullptr}, bn2{nullptr};
  torch::nn::AnyModule se;
  Sequential downsample{nullptr};

 private:
  Act act_;
  double drop_path_rate_;
};
TORCH_MODULE(BasicBlock);

class BottleneckImpl : public torch::nn::Module {
 public:
  explicit BottleneckImpl(const BlockArgs& a) : act_(a.act), drop_path_rate_(a.drop_path_rate) {
    const int64_t width = a.planes * a.base_width / 64 * a.cardinality;
    const int64_t first_planes = width / a.reduce_first;
    const int64_t outplanes = a.planes * 4;
    conv1 = register_module("conv1", create_conv2d(a.inplanes, first_planes, 1));
    bn1 = register_module("bn1", BatchNormAct2d(first_planes, a.act));
    conv2 =
        register_module("conv2", create_conv2d(first_planes, width, 3, a.stride, 1, a.cardinality));
    bn2 = register_module("bn2", BatchNormAct2d(width, a.act));
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
    x = bn3->forward(conv3->forward(x));
    if (!se.is_empty()) x = se.forward(x);
    x = drop_path(x, drop_path_rate_, is_training());
    x.add_(downsample ? downsample->forward(input) : input);
    return apply_act(act_, x, /*inplace=*/true);
  }

  void zero_init_last() {
    torch::NoGradGuard no_grad;
    bn3->weight.zero_();
  }

  Conv2d conv1{nullptr}, conv2{nullptr}, conv3{nullptr};
  BatchNormAct2d bn1{nullptr}, bn2{nullptr}, bn3{nullptr};
  torch::nn::AnyModule se;
  Sequential downsample{nullptr};

 private:
  Act act_;
  double drop_path_rate_;
};
TORCH_MODULE(Bottleneck);

}  // namespace

ResNet::ResNet(const std::string& arch, const ResNetConfig& cfg, const ModelOptions& options)
    : Classifier(arch, options) {
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

  // Stages (timm's make_blocks, output stride 32).
  const int64_t expansion = cfg.block == ResNetBlock::basic ? 1 : 4;
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
      BlockArgs a;
      a.inplanes = inplanes;
      a.planes = planes;
      a.stride = b == 0 ? stride : 1;
      a.cardinality = cfg.cardinality;
      a.base_width = cfg.base_width;
      a.reduce_first = cfg.reduce_first;
      a.act = cfg.act;
      a.attn_layer = cfg.attn_layer;
      a.drop_path_rate = options.drop_path_rate * static_cast<double>(block_idx_net) /
                         static_cast<double>(std::max<int64_t>(net_blocks - 1, 1));
      if (b == 0 && (stride != 1 || inplanes != planes * expansion)) {
        a.downsample = make_downsample(inplanes, planes * expansion, cfg.down_kernel_size, stride,
                                       cfg.avg_down);
      }
      if (cfg.block == ResNetBlock::basic) {
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
  fc_ = register_module("fc", torch::nn::Linear(inplanes, options.num_classes));

  // timm's init_weights(zero_init_last=True); Linear keeps PyTorch's default.
  init_kaiming_fan_out(*this);
  for (auto& m : modules(/*include_self=*/false)) {
    if (auto* basic = m->as<BasicBlockImpl>()) basic->zero_init_last();
    if (auto* bottleneck = m->as<BottleneckImpl>()) bottleneck->zero_init_last();
  }
}

torch::Tensor ResNet::forward_features(torch::Tensor x) {
  x = bn1_->forward(conv1_.forward(x));
  x = torch::max_pool2d(x, {3, 3}, {2, 2}, {1, 1});
  for (auto& stage : stages_) x = stage->forward(x);
  return x;
}

torch::Tensor ResNet::forward_head(torch::Tensor x) {
  x = global_avg_pool(x);
  if (options().drop_rate > 0.0) x = torch::dropout(x, options().drop_rate, is_training());
  return fc_->forward(x);
}

void ResNet::reset_classifier(int64_t num_classes) {
  set_num_classes(num_classes);
  fc_ = replace_module("fc", torch::nn::Linear(num_features(), num_classes));
}

// ---------------------------------------------------------------------------------------------

namespace {

void add(Registry& r, const std::string& name, ResNetConfig cfg) {
  r.add(name, [cfg](const std::string& arch, const ModelOptions& o) {
    return std::make_shared<ResNet>(arch, cfg, o);
  });
}

ResNetConfig config(ResNetBlock block, std::vector<int64_t> layers) {
  ResNetConfig cfg;
  cfg.block = block;
  cfg.layers = std::move(layers);
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

}  // namespace

void register_resnet_models(Registry& r) {
  using B = ResNetBlock;
  add(r, "resnet18", config(B::basic, {2, 2, 2, 2}));
  add(r, "resnet18d", deep_d(config(B::basic, {2, 2, 2, 2})));
  add(r, "resnet34d", deep_d(config(B::basic, {3, 4, 6, 3})));
  add(r, "resnet26d", deep_d(config(B::bottleneck, {2, 2, 2, 2})));
  add(r, "resnet14t", tiered_t(config(B::bottleneck, {1, 1, 1, 1})));
}

}  // namespace pepr::models
