// The registry and state-dict loading.
#include <algorithm>

#include <gtest/gtest.h>

#include "core/error.hpp"
#include "models/model.hpp"
#include "models/registry.hpp"
#include "models/state_dict.hpp"

namespace {

using namespace pepr::models;

TEST(Registry, ListsTheFirstArchitecturesByFamily) {
  const auto names = native_model_names();
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
  EXPECT_EQ(family_of("resnet18d"), "resnet");
  EXPECT_EQ(family_of("resnet14t"), "resnet");
  EXPECT_EQ(family_of("mobilenetv2_050"), "efficientnet");
  EXPECT_EQ(family_of("vgg11"), "vgg");
  EXPECT_TRUE(is_native("resnet26d"));
  EXPECT_FALSE(is_native("resnet9000"));
  EXPECT_FALSE(is_native(""));
}

TEST(Registry, UnknownNamesSayWhatIsNative) {
  try {
    create_model("resnet9000");
    FAIL() << "expected pepr::Error";
  } catch (const pepr::Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("'resnet9000' is not a native model"), std::string::npos) << what;
    EXPECT_NE(what.find("`pepr zoo list --native` lists all"), std::string::npos) << what;
  }
  // Issue 31: `-m resnet81` printed a 1,970-character list of every native model.
  auto message = [](const std::string& name) {
    try {
      create_model(name);
    } catch (const pepr::Error& e) {
      return std::string(e.what());
    }
    return std::string("(created)");
  };
  const std::string typo = message("resnet81");
  EXPECT_NE(typo.find("(did you mean resnet18?)"), std::string::npos) << typo;
  EXPECT_LT(typo.size(), 200u) << typo;
  const std::string upper = message("ResNet18");
  EXPECT_NE(upper.find("(names are lower case: did you mean resnet18?)"), std::string::npos)
      << upper;
  EXPECT_THROW(family_of("nope"), pepr::Error);
}

TEST(Registry, CreatesWhatWasAskedFor) {
  ModelOptions o;
  o.num_classes = 7;
  o.in_chans = 1;
  auto m = create_model("resnet18", o);
  EXPECT_EQ(m->arch(), "resnet18");
  EXPECT_EQ(m->num_classes(), 7);
  EXPECT_EQ(m->in_chans(), 1);
  EXPECT_EQ(m->num_features(), 512);
  o.num_classes = 0;
  EXPECT_THROW(create_model("resnet18", o), pepr::Error);
  o.num_classes = 3;
  o.drop_rate = 1.5;
  EXPECT_THROW(create_model("resnet18", o), pepr::Error);
}

TEST(StateDict, RoundTripsBetweenModels) {
  torch::manual_seed(1);
  auto a = create_model("mobilenetv2_050", {.num_classes = 5});
  auto b = create_model("mobilenetv2_050", {.num_classes = 5});
  a->eval();
  b->eval();
  // Give a's BatchNorm statistics non-trivial values so that buffers are checked too.
  {
    torch::NoGradGuard no_grad;
    for (auto& buf : a->buffers()) {
      if (buf.is_floating_point()) buf.uniform_(0.5, 1.5);
    }
  }
  torch::NoGradGuard no_grad;
  auto x = torch::randn({2, 3, 32, 32});
  EXPECT_FALSE(torch::allclose(a->forward(x), b->forward(x)));
  const auto result = load_state_dict(*b, state_dict(*a));
  EXPECT_TRUE(result.ok());
  EXPECT_TRUE(torch::equal(a->forward(x), b->forward(x)));
  // The map holds the module's own tensors.
  auto sd = state_dict(*a);
  EXPECT_EQ(sd.at("bn1.running_var").data_ptr(), a->named_buffers()["bn1.running_var"].data_ptr());
}

TEST(StateDict, ReportsMissingUnexpectedAndMismatched) {
  auto model = create_model("resnet18", {.num_classes = 10});
  auto source = state_dict(*create_model("resnet18", {.num_classes = 1000}));
  source.erase("layer1.0.bn1.running_mean");
  source["extra.weight"] = torch::zeros({1});
  try {
    load_state_dict(*model, source, /*strict=*/true);
    FAIL() << "expected pepr::Error";
  } catch (const pepr::Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("layer1.0.bn1.running_mean"), std::string::npos) << what;
    EXPECT_NE(what.find("extra.weight"), std::string::npos) << what;
    EXPECT_NE(what.find("fc.weight: [10, 512] vs [1000, 512]"), std::string::npos) << what;
  }
  // Not strict: loads the rest and reports the differences.
  const auto before = model->named_parameters()["conv1.weight"].clone();
  const auto result = load_state_dict(*model, source, /*strict=*/false);
  EXPECT_EQ(result.missing, std::vector<std::string>{"layer1.0.bn1.running_mean"});
  EXPECT_EQ(result.unexpected, std::vector<std::string>{"extra.weight"});
  EXPECT_EQ(result.mismatched.size(), 2u);  // fc.weight, fc.bias
  EXPECT_TRUE(torch::equal(model->named_parameters()["conv1.weight"], source.at("conv1.weight")));
  EXPECT_FALSE(torch::equal(before, source.at("conv1.weight")));
}

TEST(StateDict, NamesFollowTorchOrder) {
  auto model = create_model("resnet18");
  const auto names = state_dict_names(*model);
  ASSERT_GE(names.size(), 7u);
  EXPECT_EQ(names[0], "conv1.weight");
  EXPECT_EQ(names[1], "bn1.weight");
  EXPECT_EQ(names[5], "bn1.num_batches_tracked");
  EXPECT_EQ(names.back(), "fc.bias");
}

}  // namespace
