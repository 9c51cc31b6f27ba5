// timm/models/efficientnet.py, natively: the EfficientNet class and its generators.
#include "models/efficientnet.hpp"

#include "models/registry.hpp"

namespace pepr::models {

EfficientNet::EfficientNet(const std::string& arch, const EfficientNetConfig& cfg,
                           const ModelOptions& options)
    : LinearHeadClassifier(arch, options, "classifier") {
  const int64_t stem_size = stem_channels(cfg);
  conv_stem_ = register_module(
      "conv_stem",
      create_conv2d(options.in_chans, stem_size, cfg.stem_kernel_size, 2, 1, 1, cfg.pad_type));
  bn1_ = register_module("bn1", BatchNormAct2d(stem_size, cfg.act));

  const BuilderOptions b = builder_options(cfg, options.drop_path_rate);
  auto built = build_efficientnet_stages(
      stem_size,
      cfg.depth_multipliers.empty()
          ? decode_arch_def(cfg.arch_def, cfg.depth_multiplier, cfg.depth_trunc, cfg.fix_first_last)
          : decode_arch_def(cfg.arch_def, cfg.depth_multipliers, cfg.depth_trunc,
                            cfg.fix_first_last),
      b);
  blocks_ = register_module("blocks", built.blocks);

  int64_t features = built.out_chs;
  if (cfg.num_features > 0) {
    conv_head_ = register_module(
        "conv_head", create_conv2d(built.out_chs, cfg.num_features, 1, 1, 1, 1, cfg.pad_type));
    bn2_ = register_module("bn2", BatchNormAct2d(cfg.num_features, cfg.act));
    features = cfg.num_features;
  }
  set_num_features(features);
  register_fc(features);
  init_weight_goog(*this);
}

torch::Tensor EfficientNet::forward_features(torch::Tensor x) {
  x = bn1_->forward(conv_stem_->forward(x));
  x = blocks_->forward(x);
  if (conv_head_) x = bn2_->forward(conv_head_->forward(x));
  return x;
}

// ---------------------------------------------------------------------------------------------
// Generators: timm's _gen_<family> functions.

namespace {

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

// timm _gen_mnasnet_a1 (semnasnet_*): MnasNet-A1 with SE, relu.
EfficientNetConfig gen_mnasnet_a1(double channel_multiplier) {
  EfficientNetConfig cfg;
  // clang-format off
  cfg.arch_def = {
      {"ds_r1_k3_s1_e1_c16_noskip"},
      {"ir_r2_k3_s2_e6_c24"},
      {"ir_r3_k5_s2_e3_c40_se0.25"},
      {"ir_r4_k3_s2_e6_c80"},
      {"ir_r2_k3_s1_e6_c112_se0.25"},
      {"ir_r3_k5_s2_e6_c160_se0.25"},
      {"ir_r1_k3_s1_e6_c320"},
  };
  // clang-format on
  cfg.channel_multiplier = channel_multiplier;
  cfg.stem_size = 32;
  cfg.num_features = 1280;  // EfficientNet's default, not scaled
  cfg.act = Act::relu;
  return cfg;
}

// timm _gen_mnasnet_b1 (mnasnet_*): MnasNet-B1, relu, no SE.
EfficientNetConfig gen_mnasnet_b1(double channel_multiplier) {
  EfficientNetConfig cfg;
  // clang-format off
  cfg.arch_def = {
      {"ds_r1_k3_s1_c16_noskip"},
      {"ir_r3_k3_s2_e3_c24"},
      {"ir_r3_k5_s2_e3_c40"},
      {"ir_r3_k5_s2_e6_c80"},
      {"ir_r2_k3_s1_e6_c96"},
      {"ir_r4_k5_s2_e6_c192"},
      {"ir_r1_k3_s1_e6_c320_noskip"},
  };
  // clang-format on
  cfg.channel_multiplier = channel_multiplier;
  cfg.stem_size = 32;
  cfg.num_features = 1280;
  cfg.act = Act::relu;
  return cfg;
}

// timm _gen_fbnetc (fbnetc_100). timm sets bn_eps 1e-3 only when loading pretrained weights; the
// architecture itself (and the reference) uses BatchNorm's default eps.
EfficientNetConfig gen_fbnetc(double channel_multiplier) {
  EfficientNetConfig cfg;
  // clang-format off
  cfg.arch_def = {
      {"ir_r1_k3_s1_e1_c16"},
      {"ir_r1_k3_s2_e6_c24", "ir_r2_k3_s1_e1_c24"},
      {"ir_r1_k5_s2_e6_c32", "ir_r1_k5_s1_e3_c32", "ir_r1_k5_s1_e6_c32", "ir_r1_k3_s1_e6_c32"},
      {"ir_r1_k5_s2_e6_c64", "ir_r1_k5_s1_e3_c64", "ir_r2_k5_s1_e6_c64"},
      {"ir_r3_k5_s1_e6_c112", "ir_r1_k5_s1_e3_c112"},
      {"ir_r4_k5_s2_e6_c184"},
      {"ir_r1_k3_s1_e6_c352"},
  };
  // clang-format on
  cfg.channel_multiplier = channel_multiplier;
  cfg.stem_size = 16;
  cfg.num_features = 1984;  // not scaled
  cfg.act = Act::relu;
  return cfg;
}

// timm _gen_spnasnet (spnasnet_100): Single-Path NAS Pixel1, relu.
EfficientNetConfig gen_spnasnet(double channel_multiplier) {
  EfficientNetConfig cfg;
  // clang-format off
  cfg.arch_def = {
      {"ds_r1_k3_s1_c16_noskip"},
      {"ir_r3_k3_s2_e3_c24"},
      {"ir_r1_k5_s2_e6_c40", "ir_r3_k3_s1_e3_c40"},
      {"ir_r1_k5_s2_e6_c80", "ir_r3_k3_s1_e3_c80"},
      {"ir_r1_k5_s1_e6_c96", "ir_r3_k5_s1_e3_c96"},
      {"ir_r4_k5_s2_e6_c192"},
      {"ir_r1_k3_s1_e6_c320_noskip"},
  };
  // clang-format on
  cfg.channel_multiplier = channel_multiplier;
  cfg.stem_size = 32;
  cfg.num_features = 1280;
  cfg.act = Act::relu;
  return cfg;
}

// The EfficientNet-B0 arch_def shared by _gen_efficientnet and _gen_tinynet.
std::vector<std::vector<std::string>> efficientnet_arch_def() {
  return {
      {"ds_r1_k3_s1_e1_c16_se0.25"},  {"ir_r2_k3_s2_e6_c24_se0.25"},
      {"ir_r2_k5_s2_e6_c40_se0.25"},  {"ir_r3_k3_s2_e6_c80_se0.25"},
      {"ir_r3_k5_s1_e6_c112_se0.25"}, {"ir_r4_k5_s2_e6_c192_se0.25"},
      {"ir_r1_k3_s1_e6_c320_se0.25"},
  };
}

// timm _gen_efficientnet (efficientnet_b*): swish, SE relative to the block input.
EfficientNetConfig gen_efficientnet(double channel_multiplier, double depth_multiplier,
                                    int64_t channel_divisor = 8) {
  EfficientNetConfig cfg;
  cfg.arch_def = efficientnet_arch_def();
  cfg.channel_multiplier = channel_multiplier;
  cfg.depth_multiplier = depth_multiplier;
  cfg.round_divisor = channel_divisor;
  cfg.num_features = cfg.round_chs(1280);
  cfg.stem_size = 32;
  cfg.act = Act::silu;
  return cfg;
}

// timm _gen_tinynet (tinynet_*): EfficientNet's arch_def, depth rounded, stem fixed.
EfficientNetConfig gen_tinynet(double model_width, double depth_multiplier) {
  EfficientNetConfig cfg;
  cfg.arch_def = efficientnet_arch_def();
  cfg.channel_multiplier = model_width;
  cfg.depth_multiplier = depth_multiplier;
  cfg.depth_trunc = DepthTrunc::round;
  cfg.num_features = std::max<int64_t>(1280, round_channels(1280, model_width, 8));
  cfg.stem_size = 32;
  cfg.fix_stem = true;
  cfg.act = Act::silu;
  return cfg;
}

// timm _gen_efficientnetv2_s (efficientnetv2_s / _rw_s / _rw_t / _rw_m, ...). rw: the author's
// original variant (er first stage, 272-channel last stage, 1792 head).
EfficientNetConfig gen_efficientnetv2_s(double channel_multiplier,
                                        std::vector<double> depth_multipliers, bool rw,
                                        SeFactory se_layer = efficientnet_se()) {
  EfficientNetConfig cfg;
  // clang-format off
  cfg.arch_def = {
      {"cn_r2_k3_s1_e1_c24_skip"},
      {"er_r4_k3_s2_e4_c48"},
      {"er_r4_k3_s2_e4_c64"},
      {"ir_r6_k3_s2_e4_c128_se0.25"},
      {"ir_r9_k3_s1_e6_c160_se0.25"},
      {"ir_r15_k3_s2_e6_c256_se0.25"},
  };
  // clang-format on
  int64_t num_features = 1280;
  if (rw) {
    cfg.arch_def.front() = {"er_r2_k3_s1_e1_c24"};
    cfg.arch_def.back() = {"ir_r15_k3_s2_e6_c272_se0.25"};
    num_features = 1792;
  }
  cfg.channel_multiplier = channel_multiplier;
  if (depth_multipliers.size() == 1) {
    cfg.depth_multiplier = depth_multipliers.front();
  } else {
    cfg.depth_multipliers = std::move(depth_multipliers);
  }
  cfg.num_features = cfg.round_chs(static_cast<double>(num_features));
  cfg.stem_size = 24;
  cfg.act = Act::silu;
  cfg.se_layer = std::move(se_layer);
  return cfg;
}

}  // namespace

void register_efficientnet_models(Registry& r) {
  r.add<EfficientNet>("mobilenetv2_050", gen_mobilenet_v2(0.5));
  r.add<EfficientNet>("mobilenetv2_100", gen_mobilenet_v2(1.0));
  r.add<EfficientNet>("efficientnet_b0", gen_efficientnet(1.0, 1.0));
  r.add<EfficientNet>("fbnetc_100", gen_fbnetc(1.0));
  r.add<EfficientNet>("mnasnet_100", gen_mnasnet_b1(1.0));
  r.add<EfficientNet>("semnasnet_075", gen_mnasnet_a1(0.75));
  r.add<EfficientNet>("spnasnet_100", gen_spnasnet(1.0));
  r.add<EfficientNet>("tinynet_a", gen_tinynet(1.0, 1.2));
  r.add<EfficientNet>("efficientnetv2_rw_m",
                      gen_efficientnetv2_s(1.2, {1.2, 1.2, 1.2, 1.2, 1.6, 1.6}, /*rw=*/true));
  r.add<EfficientNet>("gc_efficientnetv2_rw_t",
                      gen_efficientnetv2_s(0.8, {0.9}, /*rw=*/false, global_context_se()));
}

}  // namespace pepr::models
