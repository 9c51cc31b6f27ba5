// Classifier::clone: a deep copy that computes the same, shares nothing, and keeps what was done
// to the model after creation (a new head, frozen layers, channels_last, training mode).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "models/model.hpp"
#include "models/registry.hpp"

namespace {

using namespace pepr::models;

std::shared_ptr<Classifier> as_classifier(const std::shared_ptr<torch::nn::Module>& m) {
  auto c = std::dynamic_pointer_cast<Classifier>(m);
  EXPECT_NE(c, nullptr) << "clone() did not return a Classifier";
  return c;
}

class Clone : public ::testing::TestWithParam<const char*> {};

TEST_P(Clone, IsADeepCopyThatComputesTheSame) {
  torch::manual_seed(0);
  auto model = create_model(GetParam(), {.num_classes = 3});
  model->eval();
  // Move the batch-norm statistics away from their initial values, so that buffers count.
  {
    torch::NoGradGuard no_grad;
    for (auto& b : model->buffers())
      if (b.is_floating_point()) b.add_(0.25);
  }
  auto copy = as_classifier(model->clone());
  ASSERT_NE(copy, nullptr);
  EXPECT_NE(copy.get(), model.get());
  EXPECT_EQ(copy->arch(), model->arch());
  EXPECT_FALSE(copy->is_training());

  const auto x = torch::randn({2, 3, 64, 64});
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(torch::equal(model->forward(x), copy->forward(x)));

  // Nothing is shared: changing the original leaves the copy as it was.
  const auto before = copy->forward(x);
  for (auto& p : model->parameters()) p.mul_(0.5);
  EXPECT_TRUE(torch::equal(copy->forward(x), before));
  EXPECT_FALSE(torch::equal(model->forward(x), before));
}

INSTANTIATE_TEST_SUITE_P(Native, Clone,
                         ::testing::Values("resnet18", "mobilenetv2_050", "convnext_atto",
                                           "gcresnet33ts"));

TEST(CloneState, KeepsTheNewHeadFrozenLayersLayoutAndMode) {
  auto model = create_model("resnet18", {.num_classes = 10, .in_chans = 1});
  model->reset_classifier(4);
  model->named_parameters()["conv1.weight"].set_requires_grad(false);
  to_channels_last(*model);
  model->train();

  auto copy = as_classifier(model->clone(torch::Device(torch::kCPU)));
  ASSERT_NE(copy, nullptr);
  EXPECT_EQ(copy->num_classes(), 4);
  EXPECT_EQ(copy->in_chans(), 1);
  EXPECT_TRUE(copy->is_training());
  const auto params = copy->named_parameters();
  EXPECT_FALSE(params["conv1.weight"].requires_grad());
  EXPECT_TRUE(params["fc.weight"].requires_grad());
  EXPECT_EQ(params["fc.weight"].size(0), 4);
  EXPECT_TRUE(params["conv1.weight"].is_contiguous(at::MemoryFormat::ChannelsLast));
  EXPECT_TRUE(torch::equal(params["fc.weight"], model->named_parameters()["fc.weight"]));
  // The copy trains on its own.
  auto loss = copy->forward(torch::randn({2, 1, 32, 32})).sum();
  loss.backward();
  EXPECT_TRUE(params["fc.weight"].grad().defined());
  EXPECT_FALSE(model->named_parameters()["fc.weight"].grad().defined());
}

}  // namespace
