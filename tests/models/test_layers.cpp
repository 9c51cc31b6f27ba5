// The building blocks and the arch_def builder against values computed by timm's Python code.
#include <gtest/gtest.h>

#include "core/error.hpp"
#include "models/efficientnet_blocks.hpp"
#include "models/layers/common.hpp"
#include "models/state_dict.hpp"
#include "timm_reference.hpp"

namespace {

using namespace pepr::models;

TEST(Layers, MakeDivisibleMatchesTimm) {
  // Expected values from timm.layers.make_divisible.
  EXPECT_EQ(make_divisible(16), 16);
  EXPECT_EQ(make_divisible(32 * 0.5), 16);
  EXPECT_EQ(make_divisible(1280 * 0.5), 640);
  EXPECT_EQ(make_divisible(8 * 6), 48);
  EXPECT_EQ(make_divisible(20), 24);
  EXPECT_EQ(make_divisible(10), 16);  // 8 is below 0.9 * 10
  EXPECT_EQ(make_divisible(18), 24);
  EXPECT_EQ(make_divisible(3), 8);
  EXPECT_EQ(make_divisible(1280 * 1.4), 1792);
  EXPECT_EQ(make_divisible(24 * 0.35), 8);
  EXPECT_EQ(make_divisible(37, 8, std::nullopt, 0.0), 40);
  EXPECT_EQ(make_divisible(4, 8, std::nullopt, 0.0), 8);
}

TEST(Layers, PyRoundIsHalfToEven) {
  EXPECT_EQ(py_round(2.5), 2);
  EXPECT_EQ(py_round(3.5), 4);
  EXPECT_EQ(py_round(0.5), 0);
  EXPECT_EQ(py_round(1.4999), 1);
  EXPECT_EQ(py_round(9.6), 10);
}

TEST(Layers, GetPadding) {
  EXPECT_EQ(get_padding(3), 1);
  EXPECT_EQ(get_padding(7, 2), 3);
  EXPECT_EQ(get_padding(1, 2), 0);
  EXPECT_EQ(get_padding(3, 1, 2), 2);
  EXPECT_EQ(get_padding(5, 2), 2);
}

TEST(Layers, ActivationNames) {
  EXPECT_EQ(act_from_name("swish"), Act::silu);
  EXPECT_EQ(act_from_name("relu6"), Act::relu6);
  EXPECT_EQ(act_from_name("hard_sigmoid"), Act::hard_sigmoid);
  EXPECT_THROW(act_from_name("nope"), pepr::Error);
  auto x = torch::linspace(-8, 8, 33);
  EXPECT_TRUE(torch::allclose(apply_act(Act::relu6, x), torch::clamp(x, 0, 6)));
  EXPECT_TRUE(torch::allclose(apply_act(Act::hard_sigmoid, x), torch::clamp(x + 3, 0, 6) / 6));
  EXPECT_TRUE(torch::allclose(apply_act(Act::silu, x), x * torch::sigmoid(x)));
  auto y = x.clone();
  apply_act(Act::relu, y, /*inplace=*/true);
  EXPECT_TRUE(torch::equal(y, torch::relu(x)));
}

TEST(Layers, ConvPaddingKeepsTimmShapes) {
  // "" padding: symmetric get_padding; stride 2 halves (rounding up for odd sizes).
  auto conv = create_conv2d(3, 8, 3, 2);
  EXPECT_EQ(conv->forward(torch::zeros({1, 3, 15, 16})).sizes(),
            (std::vector<int64_t>{1, 8, 8, 8}));
  EXPECT_FALSE(conv->bias.defined());
  EXPECT_EQ(conv->weight.sizes(), (std::vector<int64_t>{8, 3, 3, 3}));
  // "same" with stride 2 pads dynamically (TF): output = ceil(input / stride), padding mostly
  // on the right/bottom.
  auto same = Conv2d(ConvOptions(1, 1, 3).stride(2).pad_type("same"));
  {
    torch::NoGradGuard no_grad;
    same->weight.fill_(1.0);
  }
  auto out = same->forward(torch::ones({1, 1, 4, 4}));
  EXPECT_EQ(out.sizes(), (std::vector<int64_t>{1, 1, 2, 2}));
  // Input 4, kernel 3, stride 2: total padding 1, all of it on the far side.
  EXPECT_FLOAT_EQ(out[0][0][0][0].item<float>(), 9.0f);
  EXPECT_FLOAT_EQ(out[0][0][1][1].item<float>(), 4.0f);
  // Depthwise: groups = in_channels.
  auto dw = Conv2d(ConvOptions(6, 6, 5).depthwise(true));
  EXPECT_EQ(dw->weight.sizes(), (std::vector<int64_t>{6, 1, 5, 5}));
  EXPECT_THROW(Conv2d(ConvOptions(6, 4, 3).groups(3)), pepr::Error);
}

TEST(Layers, BatchNormActHasTorchNamesAndTracksBatches) {
  BatchNormAct2d bn(4, Act::relu);
  const auto names = state_dict_names(*bn);
  EXPECT_EQ(names, (std::vector<std::string>{"weight", "bias", "running_mean", "running_var",
                                             "num_batches_tracked"}));
  EXPECT_EQ(bn->num_batches_tracked.scalar_type(), torch::kInt64);
  bn->train();
  auto x = torch::randn({2, 4, 3, 3}) * 3 + 1;
  auto y = bn->forward(x);
  EXPECT_EQ(bn->num_batches_tracked.item<int64_t>(), 1);
  EXPECT_GE(y.min().item<float>(), 0.0f);  // relu applied
  EXPECT_FALSE(torch::allclose(bn->running_mean, torch::zeros({4})));
  // Eval: uses running statistics, as torch::nn::BatchNorm2d does.
  torch::nn::BatchNorm2d ref(4);
  {
    torch::NoGradGuard no_grad;
    ref->running_mean.copy_(bn->running_mean);
    ref->running_var.copy_(bn->running_var);
  }
  bn->eval();
  ref->eval();
  EXPECT_TRUE(torch::allclose(bn->forward(x), torch::relu(ref->forward(x)), 1e-5, 1e-6));
}

TEST(Layers, SqueezeExciteNamesAndReduction) {
  SqueezeExcite se(96, SqueezeExciteOptions().rd_ratio(0.25 / 6));  // EfficientNet: round(96/24)
  const auto sd = state_dict(*se);
  ASSERT_EQ(sd.count("conv_reduce.weight"), 1u);
  EXPECT_EQ(sd.at("conv_reduce.weight").sizes(), (std::vector<int64_t>{4, 96, 1, 1}));
  EXPECT_EQ(sd.count("conv_expand.bias"), 1u);
  SqueezeExcite se3(72, SqueezeExciteOptions().rd_ratio(0.25).rd_divisor(8));  // MobileNetV3
  EXPECT_EQ(se3->conv_reduce->weight.size(0), 24);
  SEModule sem(256);
  EXPECT_EQ(sem->fc1->weight.size(0), 16);
  EXPECT_EQ(se->forward(torch::randn({2, 96, 5, 5})).sizes(), (std::vector<int64_t>{2, 96, 5, 5}));
}

TEST(Builder, DecodesTimmBlockStrings) {
  int64_t r = 0;
  auto a = decode_block_str("ir_r2_k5_s2_e6_c24_se0.25_nsw", r);
  EXPECT_EQ(r, 2);
  EXPECT_EQ(a.block_type, "ir");
  EXPECT_EQ(a.dw_kernel_size, 5);
  EXPECT_EQ(a.stride, 2);
  EXPECT_DOUBLE_EQ(a.exp_ratio, 6.0);
  EXPECT_EQ(a.out_chs, 24);
  EXPECT_DOUBLE_EQ(a.se_ratio, 0.25);
  ASSERT_TRUE(a.act.has_value());
  EXPECT_EQ(*a.act, Act::silu);
  EXPECT_FALSE(a.noskip);

  auto ds = decode_block_str("ds_r1_k3_s1_c16", r);
  EXPECT_EQ(ds.block_type, "ds");
  EXPECT_FALSE(ds.noskip);
  EXPECT_FALSE(ds.pw_act);
  EXPECT_FALSE(ds.act.has_value());
  auto dsa = decode_block_str("dsa_r1_k3_s1_c16", r);
  EXPECT_TRUE(dsa.noskip);
  EXPECT_TRUE(dsa.pw_act);

  auto er = decode_block_str("er_r1_k3_s1_e4_c24_fc24_noskip", r);
  EXPECT_EQ(er.exp_kernel_size, 3);
  EXPECT_EQ(er.force_in_chs, 24);
  EXPECT_TRUE(er.noskip);
}

TEST(Builder, RejectsWhatItCannotBuild) {
  int64_t r = 0;
  EXPECT_THROW(decode_block_str("ir_r1_k3.5.7_s1_e6_c24", r), pepr::Error);  // MixNet
  EXPECT_THROW(decode_block_str("uir_r1_a3_k5_s2_e4_c48", r), pepr::Error);
  EXPECT_THROW(decode_block_str("ir_r1_k3_s1_c24", r), pepr::Error);  // no e
  EXPECT_THROW(decode_block_str("ir_r1_k3_s1_e6_c24_cc4", r), pepr::Error);
}

TEST(Builder, ScalesDepthLikeTimm) {
  // efficientnet_b2 (depth 1.2): timm builds 2, 3, 3, 4, 4, 5, 2 blocks.
  const std::vector<std::vector<std::string>> b0 = {
      {"ds_r1_k3_s1_e1_c16_se0.25"}, {"ir_r2_k3_s2_e6_c24_se0.25"},  {"ir_r2_k5_s2_e6_c40_se0.25"},
      {"ir_r3_k3_s2_e6_c80_se0.25"}, {"ir_r3_k5_s1_e6_c112_se0.25"}, {"ir_r4_k5_s2_e6_c192_se0.25"},
      {"ir_r1_k3_s1_e6_c320_se0.25"}};
  const auto stages = decode_arch_def(b0, 1.2);
  std::vector<size_t> counts;
  for (const auto& s : stages) counts.push_back(s.size());
  EXPECT_EQ(counts, (std::vector<size_t>{2, 3, 3, 4, 4, 5, 2}));
  // Python's round(2.5) == 2 decides: [r1, r5] x 0.5 -> 1 + 2 blocks; [r2, r2] x 1.25 -> 3 + 2.
  auto two = decode_arch_def({{"ir_r1_k3_s1_e1_c8", "ir_r5_k3_s1_e2_c8"}}, 0.5);
  ASSERT_EQ(two[0].size(), 3u);
  EXPECT_DOUBLE_EQ(two[0][0].exp_ratio, 1.0);
  EXPECT_DOUBLE_EQ(two[0][1].exp_ratio, 2.0);
  auto five = decode_arch_def({{"ir_r2_k3_s1_e1_c8", "ir_r2_k3_s1_e2_c8"}}, 1.25);
  ASSERT_EQ(five[0].size(), 5u);
  EXPECT_DOUBLE_EQ(five[0][2].exp_ratio, 1.0);
  EXPECT_DOUBLE_EQ(five[0][3].exp_ratio, 2.0);
  // fix_first_last keeps the first and last stage at depth 1.
  auto fixed = decode_arch_def(b0, 1.2, DepthTrunc::ceil, true);
  EXPECT_EQ(fixed.front().size(), 1u);
  EXPECT_EQ(fixed.back().size(), 1u);
}

TEST(Builder, BuildsEfficientNetB0NamesAndShapes) {
  // timm's efficientnet_b0 blocks: SE from the block input, SiLU; names blocks.i.j.*.
  const std::vector<std::vector<std::string>> b0 = {
      {"ds_r1_k3_s1_e1_c16_se0.25"}, {"ir_r2_k3_s2_e6_c24_se0.25"},  {"ir_r2_k5_s2_e6_c40_se0.25"},
      {"ir_r3_k3_s2_e6_c80_se0.25"}, {"ir_r3_k5_s1_e6_c112_se0.25"}, {"ir_r4_k5_s2_e6_c192_se0.25"},
      {"ir_r1_k3_s1_e6_c320_se0.25"}};
  BuilderOptions o;
  o.act = Act::silu;
  auto built = build_efficientnet_stages(32, decode_arch_def(b0), o);
  EXPECT_EQ(built.out_chs, 320);
  const auto sd = state_dict(*built.blocks);
  EXPECT_EQ(sd.at("0.0.conv_dw.weight").sizes(), (std::vector<int64_t>{32, 1, 3, 3}));
  EXPECT_EQ(sd.at("0.0.se.conv_reduce.weight").sizes(), (std::vector<int64_t>{8, 32, 1, 1}));
  EXPECT_EQ(sd.at("0.0.conv_pw.weight").sizes(), (std::vector<int64_t>{16, 32, 1, 1}));
  EXPECT_EQ(sd.at("1.0.conv_pw.weight").sizes(), (std::vector<int64_t>{96, 16, 1, 1}));
  EXPECT_EQ(sd.at("1.0.se.conv_reduce.weight").sizes(), (std::vector<int64_t>{4, 96, 1, 1}));
  EXPECT_EQ(sd.at("2.1.conv_dw.weight").sizes(), (std::vector<int64_t>{240, 1, 5, 5}));
  EXPECT_EQ(sd.at("6.0.conv_pwl.weight").sizes(), (std::vector<int64_t>{320, 1152, 1, 1}));
  // timm's efficientnet_b0: 5,288,548 parameters, minus stem (864 + 64), head (409,600 + 2,560)
  // and classifier (1,281,000) leaves 3,594,460 in its blocks.
  int64_t n = 0;
  for (const auto& p : built.blocks->parameters()) n += p.numel();
  EXPECT_EQ(n, 5288548 - 864 - 64 - 409600 - 2560 - 1281000);
  auto y = built.blocks->forward(torch::randn({1, 32, 32, 32}));
  EXPECT_EQ(y.sizes(), (std::vector<int64_t>{1, 320, 2, 2}));
}

TEST(FillRule, MatchesKnownVectors) {
  // FNV-1a 64 and splitmix64 test vectors.
  EXPECT_EQ(pepr::test::fnv1a64(""), 0xcbf29ce484222325ULL);
  EXPECT_EQ(pepr::test::fnv1a64("a"), 0xaf63dc4c8601ec8cULL);
  EXPECT_EQ(pepr::test::splitmix64_at(0, 0), 0xe220a8397b1dcdafULL);
  // running_var lies in [0.5, 1.5), weights near 1, fan-scaled matrices within sqrt(6 / fan).
  auto v = pepr::test::fill_rule_tensor("bn1.running_var", {64});
  EXPECT_GE(v.min().item<float>(), 0.5f);
  EXPECT_LT(v.max().item<float>(), 1.5f);
  auto w = pepr::test::fill_rule_tensor("fc.weight", {10, 20});
  EXPECT_LE(w.abs().max().item<double>(), std::sqrt(6.0 / 20));
  auto g = pepr::test::fill_rule_tensor("bn1.weight", {16});
  EXPECT_LE((g - 1).abs().max().item<double>(), 0.1 + 1e-7);
}

}  // namespace
