// The ByobNet families (byobnet, byoanet, mobilevit): the input-size rules of their attention
// layers give clear errors, and the configurations build what timm builds.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "core/error.hpp"
#include "models/model.hpp"
#include "models/registry.hpp"

namespace {

using namespace pepr::models;

std::string error_of(Classifier& model, int64_t size) {
  torch::NoGradGuard no_grad;
  try {
    model.forward(torch::randn({1, 3, size, size}));
  } catch (const pepr::Error& e) {
    return e.what();
  }
  return "";
}

TEST(ByobNet, FixedSizeModelsRefuseOtherSizes) {
  auto model = create_model("botnet26t_256", {.num_classes = 5});
  model->eval();
  EXPECT_EQ(model->fixed_input_size(), 256);
  EXPECT_EQ(model->min_input_size(), 256);
  EXPECT_EQ(error_of(*model, 224),
            "botnet26t_256: needs inputs of exactly 256x256 pixels, got 224x224; resize the "
            "images to 256x256");
  EXPECT_NE(error_of(*model, 288).find("exactly 256x256"), std::string::npos);
  EXPECT_EQ(error_of(*model, 256), "");
}

TEST(ByobNet, HaloModelsNeedDivisibleFeatureMaps) {
  auto model = create_model("halonet26t", {.num_classes = 5});
  model->eval();
  EXPECT_FALSE(model->fixed_input_size());
  EXPECT_EQ(model->min_input_size(), 256);  // timm's min_input_size
  EXPECT_NE(error_of(*model, 224).find("at least 256x256"), std::string::npos);
  // Halo blocks run at strides 16 and 32 with block size 8: 300 px gives 19x19 and 10x10 maps.
  const auto what = error_of(*model, 300);
  EXPECT_NE(what.find("halo attention"), std::string::npos) << what;
  EXPECT_NE(what.find("multiple of 256 pixels"), std::string::npos) << what;
  EXPECT_NE(what.find("resize the images"), std::string::npos) << what;
  EXPECT_NE(what.find("256x256"), std::string::npos) << what;
  EXPECT_NE(error_of(*model, 384).find("at stride 32"), std::string::npos);  // 12x12 maps
}

TEST(ByobNet, BatNeedsStride32MapsDivisibleBy8) {
  auto model = create_model("bat_resnext26ts", {.num_classes = 5});
  model->eval();
  EXPECT_EQ(model->min_input_size(), 256);
  const auto what = error_of(*model, 320);  // 10x10 at stride 32
  EXPECT_NE(what.find("BAT"), std::string::npos) << what;
  EXPECT_NE(what.find("multiple of 256 pixels"), std::string::npos) << what;
}

TEST(ByobNet, ConvolutionalModelsRunAtAnySize) {
  for (const char* name : {"repvgg_a2", "mobilevit_s", "mobilevitv2_050"}) {
    auto model = create_model(name, {.num_classes = 3});
    model->eval();
    EXPECT_EQ(model->min_input_size(), 1) << name;
    EXPECT_FALSE(model->fixed_input_size()) << name;
    torch::NoGradGuard no_grad;
    // 50 px: odd feature maps on the way, and MobileViT's patch interpolation.
    EXPECT_EQ(model->forward(torch::randn({1, 3, 50, 50})).sizes(), (std::vector<int64_t>{1, 3}))
        << name;
  }
}

TEST(ByobNet, FamiliesAreRegistered) {
  EXPECT_EQ(family_of("repvgg_a2"), "byobnet");
  EXPECT_EQ(family_of("halonet50ts"), "byoanet");
  EXPECT_EQ(family_of("mobilevitv2_050"), "mobilevit");
}

}  // namespace
