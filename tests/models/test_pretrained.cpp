// Pretrained weights by timm's names: a .safetensors file laid out exactly as timm's state dict
// (names and shapes from ../shared/data/timm-reference, values by the fill rule) loads into the
// native model and reproduces timm's logits; for a 1-channel, 7-class model the head is
// re-initialised and the stem's RGB kernels are summed; weights of another architecture are
// refused and leave the model unchanged.
#include <algorithm>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/error.hpp"
#include "models/model.hpp"
#include "models/pretrained.hpp"
#include "models/registry.hpp"
#include "models/state_dict.hpp"
#include "support/test_support.hpp"
#include "timm_reference.hpp"
#include "weights/safetensors.hpp"

namespace {

using namespace pepr::models;

// timm's state dict for `ref` as a .safetensors file, floats by the fill rule.
void write_timm_named_file(const pepr::test::TimmReference& ref, const std::string& path) {
  std::vector<pepr::weights::TensorData> out;
  for (const auto& e : ref.state_dict) {
    pepr::weights::TensorData d;
    d.name = e.name;
    d.shape = e.shape;
    torch::Tensor t;
    if (e.dtype == "int64") {
      d.dtype = pepr::weights::Dtype::I64;
      t = torch::zeros(e.shape, torch::kInt64);
    } else {
      d.dtype = pepr::weights::Dtype::F32;
      t = pepr::test::fill_rule_tensor(e.name, e.shape).contiguous();
    }
    d.bytes.assign(static_cast<const char*>(t.data_ptr()), t.nbytes());
    out.push_back(std::move(d));
  }
  pepr::weights::write_safetensors(path, out);
}

TEST(Pretrained, TimmNamedFileLoadsAndGivesTimmsLogits) {
  PEPR_REQUIRE_SHARED(json, "timm-reference/resnet18d.json");
  const auto ref = pepr::test::load_timm_reference(json);
  pepr::test::TempDir dir;
  const auto path = (dir / "resnet18d.safetensors").string();
  write_timm_named_file(ref, path);

  auto model = create_model("resnet18d", {.num_classes = 1000});
  PretrainedLoad load = load_pretrained(*model, path);
  EXPECT_EQ(load.loaded, ref.state_dict.size());
  EXPECT_TRUE(load.head_skipped.empty());
  EXPECT_TRUE(load.stem_adapted.empty());
  model->eval();
  torch::NoGradGuard no_grad;
  const auto x = pepr::test::reference_input(3, ref.input_size[1], ref.input_size[2]);
  const auto diff = (model->forward(x) - ref.logits).abs().max().item<double>();
  EXPECT_LE(diff, pepr::test::logits_tolerance(ref.logits));
}

TEST(Pretrained, NewHeadAndOneChannelStemForAMedicalDataset) {
  PEPR_REQUIRE_SHARED(json, "timm-reference/resnet18d.json");
  const auto ref = pepr::test::load_timm_reference(json);
  pepr::test::TempDir dir;
  const auto path = (dir / "resnet18d.safetensors").string();
  write_timm_named_file(ref, path);

  auto model = create_model("resnet18d", {.num_classes = 7, .in_chans = 1});
  const auto head_before = state_dict(*model).at("fc.weight").clone();
  PretrainedLoad load = load_pretrained(*model, path);
  EXPECT_EQ(load.head_skipped, (std::vector<std::string>{"fc.bias", "fc.weight"}));
  EXPECT_EQ(load.stem_adapted, (std::vector<std::string>{"conv1.0.weight"}));
  const auto sd = state_dict(*model);
  EXPECT_TRUE(torch::equal(sd.at("fc.weight"), head_before));  // fresh, not the 1000-class head
  const auto rgb = pepr::test::fill_rule_tensor("conv1.0.weight", {32, 3, 3, 3});
  EXPECT_TRUE(torch::allclose(sd.at("conv1.0.weight"), rgb.sum(1, true)));
  EXPECT_TRUE(torch::equal(sd.at("layer4.1.bn2.running_var"),
                           pepr::test::fill_rule_tensor("layer4.1.bn2.running_var", {512})));
}

// Models where timm lists several stems or heads (RepVGG's 3x3 and 1x1 stem branches, CrossViT's
// patch embedding and classifier per branch): every one of them is adapted or kept fresh, as
// timm does, so timm's weights load into a 1-channel, 7-class model.
TEST(Pretrained, EveryStemAndHeadTimmListsIsAdapted) {
  for (const std::string name : {"repvgg_a2", "crossvit_9_240"}) {
    SCOPED_TRACE(name);
    PEPR_REQUIRE_SHARED(json, "timm-reference/" + name + ".json");
    const auto ref = pepr::test::load_timm_reference(json);
    ASSERT_EQ(ref.first_conv.size() + ref.classifier.size(), name == "repvgg_a2" ? 3u : 4u);
    pepr::test::TempDir dir;
    const auto path = (dir / (name + ".safetensors")).string();
    write_timm_named_file(ref, path);

    auto model = create_model(name, {.num_classes = 7, .in_chans = 1});
    const PretrainedLoad load = load_pretrained(*model, path);
    std::vector<std::string> stems, heads;
    for (const auto& c : ref.first_conv) stems.push_back(c + ".weight");
    for (const auto& c : ref.classifier) {
      heads.push_back(c + ".bias");
      heads.push_back(c + ".weight");
    }
    std::sort(stems.begin(), stems.end());  // the loader reports them in name order
    std::sort(heads.begin(), heads.end());
    EXPECT_EQ(load.stem_adapted, stems);
    EXPECT_EQ(load.head_skipped, heads);
    const auto sd = state_dict(*model);
    for (const auto& ref_entry : ref.state_dict) {
      if (std::find(stems.begin(), stems.end(), ref_entry.name) == stems.end()) continue;
      auto rgb = pepr::test::fill_rule_tensor(ref_entry.name, ref_entry.shape);
      EXPECT_TRUE(torch::allclose(sd.at(ref_entry.name), rgb.sum(1, true))) << ref_entry.name;
    }
    for (const auto& h : heads) EXPECT_EQ(sd.at(h).size(0), 7) << h;
  }
}

TEST(Pretrained, WeightsOfAnotherArchitectureAreRefusedAndChangeNothing) {
  pepr::test::TempDir dir;
  const auto path = (dir / "mnv2.safetensors").string();
  save_safetensors(*create_model("mobilenetv2_050", {.num_classes = 1000}), path);
  auto model = create_model("resnet18", {.num_classes = 1000});
  const auto before = state_dict(*model).at("layer1.0.conv1.weight").clone();
  try {
    load_pretrained(*model, path);
    FAIL() << "no error";
  } catch (const pepr::Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("do not fit resnet18"), std::string::npos) << what;
    EXPECT_NE(what.find("missing"), std::string::npos) << what;
    EXPECT_NE(what.find("unexpected"), std::string::npos) << what;
  }
  EXPECT_TRUE(torch::equal(state_dict(*model).at("layer1.0.conv1.weight"), before));
}

TEST(Pretrained, HalfPrecisionFilesAreConverted) {
  pepr::test::TempDir dir;
  torch::manual_seed(3);
  auto source = create_model("mobilenetv2_050", {.num_classes = 1000});
  std::vector<pepr::weights::TensorData> out;
  const auto sd = state_dict(*source);
  for (const auto& name : state_dict_names(*source)) {
    torch::Tensor t = sd.at(name).detach().contiguous();
    pepr::weights::TensorData d;
    d.name = name;
    d.shape.assign(t.sizes().begin(), t.sizes().end());
    if (t.scalar_type() == torch::kFloat32) {
      t = t.to(torch::kBFloat16).contiguous();
      d.dtype = pepr::weights::Dtype::BF16;
    } else {
      d.dtype = pepr::weights::Dtype::I64;
    }
    d.bytes.assign(static_cast<const char*>(t.data_ptr()), t.nbytes());
    out.push_back(std::move(d));
  }
  const auto path = (dir / "bf16.safetensors").string();
  pepr::weights::write_safetensors(path, out);
  auto target = create_model("mobilenetv2_050", {.num_classes = 1000});
  load_pretrained(*target, path);
  const auto a = sd.at("conv_stem.weight"), b = state_dict(*target).at("conv_stem.weight");
  EXPECT_TRUE(torch::equal(b, a.to(torch::kBFloat16).to(torch::kFloat32)));
  EXPECT_FALSE(torch::equal(b, torch::zeros_like(b)));
}

}  // namespace
