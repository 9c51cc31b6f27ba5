// --image-size auto | 0 | N: read and written in every form, and resolved per model against the
// data's size and the model's rule (minimum, fixed size).
#include <gtest/gtest.h>

#include "core/error.hpp"
#include "run/config.hpp"
#include "run/image_size.hpp"

namespace {

using pepr::run::ImageSize;
using pepr::run::InputSizeRule;
using pepr::run::resolve_image_size;
using pepr::run::RunConfig;

TEST(ImageSize, AutoIsTheDefaultAndReadsAndWritesInEveryForm) {
  EXPECT_TRUE(RunConfig{}.image_size.is_auto());
  // The default is not written on a child's command line; 0 and N are.
  RunConfig c;
  c.model = "m", c.data = "d";
  EXPECT_EQ(pepr::run::to_args(c), (std::vector<std::string>{"--model", "m", "--data", "d"}));
  c.image_size = ImageSize::pixels(0);
  EXPECT_EQ(pepr::run::from_args(pepr::run::to_args(c)).image_size, ImageSize::pixels(0));
  EXPECT_EQ(pepr::run::from_args({"--image-size", "auto"}).image_size, ImageSize::auto_size());
  EXPECT_EQ(pepr::run::from_args({"--image-size=64"}).image_size, ImageSize::pixels(64));
  // JSON: "auto" or the number.
  EXPECT_EQ(pepr::run::to_json(RunConfig{})["image_size"], "auto");
  c.image_size = ImageSize::pixels(32);
  EXPECT_EQ(pepr::run::to_json(c)["image_size"], 32);
  EXPECT_EQ(pepr::run::from_json(pepr::run::to_json(c)).image_size, ImageSize::pixels(32));
  EXPECT_EQ(pepr::run::from_json({{"image_size", "auto"}}).image_size, ImageSize::auto_size());
  // Anything else names the flag and what it takes.
  for (const char* bad : {"-1", "big", "", "32px"}) {
    try {
      pepr::run::from_args({"--image-size", bad});
      ADD_FAILURE() << bad;
    } catch (const pepr::Error& e) {
      EXPECT_EQ(std::string(e.what()),
                std::string("--image-size '") + bad + "': expected auto or a non-negative integer");
    }
  }
  EXPECT_THROW(pepr::run::from_json({{"image_size", -1}}), pepr::Error);
  EXPECT_THROW(pepr::run::from_json({{"image_size", "Auto"}}), pepr::Error);
}

TEST(ImageSize, AutoKeepsTheDataWhereTheModelAcceptsItElseTheSmallestItAccepts) {
  const InputSizeRule any{}, min32{32, std::nullopt}, fixed240{1, 240};
  const ImageSize autos = ImageSize::auto_size();
  auto r = resolve_image_size(autos, 28, 28, any, "resnet18");
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.size, 28);
  EXPECT_FALSE(r.resize);  // as stored
  r = resolve_image_size(autos, 28, 28, min32, "vgg11");
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.size, 32);
  EXPECT_TRUE(r.resize);
  r = resolve_image_size(autos, 64, 64, min32, "vgg11");  // large enough already
  EXPECT_EQ(r.size, 64);
  EXPECT_FALSE(r.resize);
  r = resolve_image_size(autos, 28, 28, fixed240, "crossvit_9_240");
  EXPECT_EQ(r.size, 240);
  EXPECT_TRUE(r.resize);
  r = resolve_image_size(autos, 256, 256, fixed240, "crossvit_9_240");  // larger: down to 240
  EXPECT_EQ(r.size, 240);
  EXPECT_TRUE(r.resize);
  r = resolve_image_size(autos, 240, 240, fixed240, "crossvit_9_240");
  EXPECT_FALSE(r.resize);
  EXPECT_DOUBLE_EQ(pepr::run::relative_compute(56, 28), 4.0);
}

TEST(ImageSize, AnExplicitSizeTheModelRefusesIsAProblemWithTheFix) {
  const InputSizeRule min32{32, std::nullopt}, fixed240{1, 240};
  auto r = resolve_image_size(ImageSize::pixels(28), 28, 28, min32, "vgg11", "image_size");
  EXPECT_EQ(r.problem,
            "vgg11 needs inputs of at least 32x32 pixels; image_size 28 is smaller: use "
            "image_size = 32 or \"auto\" (per model)");
  r = resolve_image_size(ImageSize::pixels(0), 28, 28, min32, "vgg11");
  EXPECT_EQ(r.problem,
            "vgg11 needs inputs of at least 32x32 pixels; the data is 28x28 and --image-size 0 "
            "keeps it: use --image-size 32 or --image-size auto");
  r = resolve_image_size(ImageSize::pixels(256), 28, 28, fixed240, "crossvit_9_240");
  EXPECT_EQ(r.problem,
            "crossvit_9_240 needs inputs of exactly 240x240 pixels; --image-size 256 is another "
            "size: use --image-size 240 or --image-size auto");
  r = resolve_image_size(ImageSize::pixels(32), 28, 28, min32, "vgg11");
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.size, 32);
  EXPECT_TRUE(r.resize);
  r = resolve_image_size(ImageSize::pixels(0), 28, 28, InputSizeRule{}, "resnet18");
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.size, 28);
  EXPECT_FALSE(r.resize);
}

}  // namespace
