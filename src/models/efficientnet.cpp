// timm/models/efficientnet.py, natively: the EfficientNet class and its generators.
#include "models/efficientnet.hpp"

#include "models/registry.hpp"

namespace pepr::models {

EfficientNet::EfficientNet(const std::string& arch, const EfficientNetConfig& cfg,
                           const ModelOptions& options)
    : Classifier(arch, options) {
  const int64_t stem_size =
      cfg.fix_stem ? cfg.stem_size : cfg.round_chs(static_cast<double>(cfg.stem_size));
  conv_stem_ = register_module(
      "conv_stem",
      create_conv2d(options.in_chans, stem_size, cfg.stem_kernel_size, 2, 1, 1, cfg.pad_type));
  bn1_ = register_module("bn1", BatchNormAct2d(stem_size, cfg.act));

  BuilderOptions b;
  b.pad_type = cfg.pad_type;
  b.round_chs_fn = [cfg](double c) { return cfg.round_chs(c); };
  b.se_from_exp = cfg.se_from_exp;
  b.act = cfg.act;
  b.se_layer = cfg.se_layer;
  b.drop_path_rate = options.drop_path_rate;
  auto built = build_efficientnet_stages(
      stem_size,
      decode_arch_def(cfg.arch_def, cfg.depth_multiplier, cfg.depth_trunc, cfg.fix_first_last), b);
  blocks_ = register_module("blocks", built.blocks);

  int64_t features = built.out_chs;
  if (cfg.num_features > 0) {
    conv_head_ = register_module(
        "conv_head", create_conv2d(built.out_chs, cfg.num_features, 1, 1, 1, 1, cfg.pad_type));
    bn2_ = register_module("bn2", BatchNormAct2d(cfg.num_features, cfg.act));
    features = cfg.num_features;
  }
  set_num_features(features);
  classifier_ = register_module("classifier", torch::nn::Linear(features, options.num_classes));
  init_weight_goog(*this);
}

torch::Tensor EfficientNet::forward_features(torch::Tensor x) {
  x = bn1_->forward(conv_stem_->forward(x));
  x = blocks_->forward(x);
  if (conv_head_) x = bn2_->forward(conv_head_->forward(x));
  return x;
}

torch::Tensor EfficientNet::forward_head(torch::Tensor x) {
  x = global_avg_pool(x);
  if (options().drop_rate > 0.0) x = torch::dropout(x, options().drop_rate, is_training());
  return classifier_->forward(x);
}

void EfficientNet::reset_classifier(int64_t num_classes) {
  set_num_classes(num_classes);
  // timm's reset_classifier: a plain Linear with PyTorch's default initialisation.
  classifier_ = replace_module("classifier", torch::nn::Linear(num_features(), num_classes));
}

// ---------------------------------------------------------------------------------------------
// Generators: timm's _gen_<family> functions.

namespace {

void add(Registry& r, const std::string& name, EfficientNetConfig cfg) {
  r.add(name, [cfg](const std::string& arch, const ModelOptions& o) {
    return std::make_shared<EfficientNet>(arch, cfg, o);
  });
}

// timm _gen_mobilenet_v2.
EfficientNetConfig gen_mobilenet_v2(double channel_multiplier, double depth_multiplier = 1.0,
                                    bool fix_stem_head = false) {
  EfficientNetConfig cfg;
  // clang-format off
  cfg.arch_def = {
      {"ds_r1_k3_s1_c16"},
      {"ir_r2_k3_s2_e6_c24"},
      {"ir_r3_k3_s2_e6_c32"},
      {"ir_r4_k3_s2_e6_c64"},
      {"ir_r3_k3_s1_e6_c96"},
      {"ir_r3_k3_s2_e6_c160"},
      {"ir_r1_k3_s1_e6_c320"},
  };
  // clang-format on
  cfg.channel_multiplier = channel_multiplier;
  cfg.depth_multiplier = depth_multiplier;
  cfg.fix_first_last = fix_stem_head;
  cfg.num_features = fix_stem_head ? 1280 : std::max<int64_t>(1280, cfg.round_chs(1280));
  cfg.stem_size = 32;
  cfg.fix_stem = fix_stem_head;
  cfg.act = Act::relu6;
  return cfg;
}

}  // namespace

void register_efficientnet_models(Registry& r) {
  add(r, "mobilenetv2_050", gen_mobilenet_v2(0.5));
  add(r, "mobilenetv2_100", gen_mobilenet_v2(1.0));
}

}  // namespace pepr::models
