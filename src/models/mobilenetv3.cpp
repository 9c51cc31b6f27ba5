// timm/models/mobilenetv3.py, natively: the MobileNetV3 class (EfficientNet's builder and blocks
// with MobileNetV3's "efficient head": global pool, then conv_head + act, no BatchNorm) and the
// generators that use it: HardCoReNAS (timm/models/hardcorenas.py) and FBNetV3.
#include <optional>

#include "models/efficientnet_blocks.hpp"
#include "models/headed_classifier.hpp"
#include "models/model.hpp"
#include "models/registry.hpp"

namespace pepr::models {

namespace {

struct MobileNetV3Config {
  std::vector<std::vector<std::string>> arch_def;
  double channel_multiplier = 1.0;  // round_chs_fn = round_channels(., this, 8, None, round_limit)
  double round_limit = 0.9;
  int64_t stem_size = 16;
  bool fix_stem = false;
  int64_t num_features = 1280;  // conv_head width (head_hidden_size)
  bool head_bias = true;
  std::string pad_type;
  Act act = Act::hard_swish;
  SeFactory se_layer = efficientnet_se();
  bool se_from_exp = true;  // timm MobileNetV3's default

  int64_t round_chs(double channels) const {
    return round_channels(channels, channel_multiplier, 8, std::nullopt, round_limit);
  }
};

// timm MobileNetV3 (head_norm = False): conv_stem, bn1, blocks, global pool, conv_head (bias =
// head_bias), act2, flatten, dropout, classifier.
class MobileNetV3 : public LinearHeadClassifier {
 public:
  MobileNetV3(const std::string& arch, const MobileNetV3Config& cfg, const ModelOptions& options)
      : LinearHeadClassifier(arch, options, "classifier"),
        act_(cfg.act),
        head_hidden_size_(cfg.num_features) {
    const int64_t stem_size = stem_channels(cfg);
    conv_stem_ = register_module(
        "conv_stem", create_conv2d(options.in_chans, stem_size, 3, 2, 1, 1, cfg.pad_type));
    bn1_ = register_module("bn1", BatchNormAct2d(stem_size, cfg.act));

    const BuilderOptions b = builder_options(cfg, options.drop_path_rate);
    auto built = build_efficientnet_stages(stem_size, decode_arch_def(cfg.arch_def), b);
    blocks_ = register_module("blocks", built.blocks);
    set_num_features(built.out_chs);  // timm: num_features is the last stage's width

    conv_head_ = register_module("conv_head", create_conv2d(built.out_chs, head_hidden_size_, 1, 1,
                                                            1, 1, cfg.pad_type, cfg.head_bias));
    register_fc(head_hidden_size_);
    init_weight_goog(*this);
  }

  torch::Tensor forward_features(torch::Tensor x) override {
    x = bn1_->forward(conv_stem_->forward(x));
    return blocks_->forward(x);
  }

  torch::Tensor pre_logits(torch::Tensor x) override {
    x = x.mean({2, 3}, /*keepdim=*/true);
    return apply_act(act_, conv_head_->forward(x), /*inplace=*/true).flatten(1);
  }

  std::vector<std::string> first_conv_names() const override { return {"conv_stem"}; }

 private:
  Act act_;
  int64_t head_hidden_size_;
  Conv2d conv_stem_{nullptr};
  BatchNormAct2d bn1_{nullptr};
  Sequential blocks_{nullptr};
  Conv2d conv_head_{nullptr};
};

// timm hardcorenas._gen_hardcorenas: hard_swish, SE with relu, hard_sigmoid gate and
// round_channels(mid * 0.25) (se_from_exp), stem 32, head 1280 with bias.
MobileNetV3Config gen_hardcorenas(std::vector<std::vector<std::string>> arch_def) {
  MobileNetV3Config cfg;
  cfg.arch_def = std::move(arch_def);
  cfg.num_features = 1280;
  cfg.stem_size = 32;
  cfg.act = Act::hard_swish;
  cfg.se_layer = mobilenetv3_se();
  return cfg;
}

// timm _gen_fbnetv3 (fbnetv3_a/b/d/g): hard_swish; SE with the block's act, hard_sigmoid gate,
// rd = round_chs_fn(chs * ratio) and ratio relative to the block input (se_from_exp = False);
// channels rounded with round_limit 0.95; head 1984 without bias.
MobileNetV3Config gen_fbnetv3(char variant, double channel_multiplier = 1.0) {
  MobileNetV3Config cfg;
  if (variant == 'a' || variant == 'b') {
    cfg.stem_size = 16;
    // clang-format off
    cfg.arch_def = {
        {"ds_r2_k3_s1_e1_c16"},
        {"ir_r1_k5_s2_e4_c24", "ir_r3_k5_s1_e2_c24"},
        {"ir_r1_k5_s2_e5_c40_se0.25", "ir_r4_k5_s1_e3_c40_se0.25"},
        {"ir_r1_k5_s2_e5_c72", "ir_r4_k3_s1_e3_c72"},
        {"ir_r1_k3_s1_e5_c120_se0.25", "ir_r5_k5_s1_e3_c120_se0.25"},
        {"ir_r1_k3_s2_e6_c184_se0.25", "ir_r5_k5_s1_e4_c184_se0.25", "ir_r1_k5_s1_e6_c224_se0.25"},
        {"cn_r1_k1_s1_c1344"},
    };
    // clang-format on
  } else if (variant == 'd') {
    cfg.stem_size = 24;
    // clang-format off
    cfg.arch_def = {
        {"ds_r2_k3_s1_e1_c16"},
        {"ir_r1_k3_s2_e5_c24", "ir_r5_k3_s1_e2_c24"},
        {"ir_r1_k5_s2_e4_c40_se0.25", "ir_r4_k3_s1_e3_c40_se0.25"},
        {"ir_r1_k3_s2_e5_c72", "ir_r4_k3_s1_e3_c72"},
        {"ir_r1_k3_s1_e5_c128_se0.25", "ir_r6_k5_s1_e3_c128_se0.25"},
        {"ir_r1_k3_s2_e6_c208_se0.25", "ir_r5_k5_s1_e5_c208_se0.25", "ir_r1_k5_s1_e6_c240_se0.25"},
        {"cn_r1_k1_s1_c1440"},
    };
    // clang-format on
  } else {  // 'g'
    cfg.stem_size = 32;
    // clang-format off
    cfg.arch_def = {
        {"ds_r3_k3_s1_e1_c24"},
        {"ir_r1_k5_s2_e4_c40", "ir_r4_k5_s1_e2_c40"},
        {"ir_r1_k5_s2_e4_c56_se0.25", "ir_r4_k5_s1_e3_c56_se0.25"},
        {"ir_r1_k5_s2_e5_c104", "ir_r4_k3_s1_e3_c104"},
        {"ir_r1_k3_s1_e5_c160_se0.25", "ir_r8_k5_s1_e3_c160_se0.25"},
        {"ir_r1_k3_s2_e6_c264_se0.25", "ir_r6_k5_s1_e5_c264_se0.25", "ir_r2_k5_s1_e6_c288_se0.25"},
        {"cn_r1_k1_s1_c1728"},
    };
    // clang-format on
  }
  cfg.channel_multiplier = channel_multiplier;
  cfg.round_limit = 0.95;
  cfg.num_features = 1984;
  cfg.head_bias = false;
  cfg.se_from_exp = false;
  cfg.act = Act::hard_swish;
  cfg.se_layer = squeeze_excite_se(Act::hard_sigmoid, std::nullopt,
                                   [cfg](double c) { return cfg.round_chs(c); });
  return cfg;
}

}  // namespace

void register_mobilenetv3_models(Registry& r) {
  // clang-format off
  r.add<MobileNetV3>("hardcorenas_a", gen_hardcorenas({
      {"ds_r1_k3_s1_e1_c16_nre"},
      {"ir_r1_k5_s2_e3_c24_nre", "ir_r1_k5_s1_e3_c24_nre_se0.25"},
      {"ir_r1_k5_s2_e3_c40_nre", "ir_r1_k5_s1_e6_c40_nre_se0.25"},
      {"ir_r1_k5_s2_e6_c80_se0.25", "ir_r1_k5_s1_e6_c80_se0.25"},
      {"ir_r1_k5_s1_e6_c112_se0.25", "ir_r1_k5_s1_e6_c112_se0.25"},
      {"ir_r1_k5_s2_e6_c192_se0.25", "ir_r1_k5_s1_e6_c192_se0.25"},
      {"cn_r1_k1_s1_c960"},
  }));
  // clang-format on
  r.add<MobileNetV3>("fbnetv3_b", gen_fbnetv3('b'));
}

}  // namespace pepr::models
