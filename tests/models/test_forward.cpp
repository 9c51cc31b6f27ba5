// The contract every native model keeps, checked on one build per model (building a model costs
// more than running it; test_equivalence.cpp covers 3 channels at timm's own input size):
// with 7 classes and 1 input channel it runs at 28, 64 and 224 px, at its minimum size and at
// its fixed size (or refuses a size clearly, naming the size to resize to); it refuses wrong
// channels and non-4-D input; every parameter gets a gradient and BatchNorm counts the batch;
// its stem and classifier names are truthful; reset_classifier changes only the head; and
// channels_last gives the same logits.
#include <algorithm>
#include <set>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "core/error.hpp"
#include "models/model.hpp"
#include "models/registry.hpp"
#include "models/state_dict.hpp"

namespace {

using namespace pepr::models;

std::string sanitize(std::string s) {
  for (char& c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return s;
}

// The size to run a model at: its fixed input size if it has one, else at least `wanted` and at
// least its minimum size.
int64_t test_size(const Classifier& model, int64_t wanted) {
  return model.fixed_input_size().value_or(std::max(wanted, model.min_input_size()));
}

// Whether a state-dict entry belongs to one of the model's classifiers.
bool in_classifier(const std::string& entry, const std::vector<std::string>& classifiers) {
  return std::any_of(classifiers.begin(), classifiers.end(),
                     [&](const std::string& c) { return entry.starts_with(c + "."); });
}

// Runs `forward` and expects a pepr::Error whose message holds every one of `parts`.
template <typename F>
void expect_error(F&& forward, const std::vector<std::string>& parts) {
  try {
    forward();
    ADD_FAILURE() << "no error";
  } catch (const pepr::Error& e) {
    const std::string what = e.what();
    for (const auto& p : parts) EXPECT_NE(what.find(p), std::string::npos) << what;
  }
}

class NativeModel : public ::testing::TestWithParam<std::string> {};

TEST_P(NativeModel, KeepsThePeprModelContract) {
  const std::string name = GetParam();
  torch::manual_seed(0);
  auto model = create_model(name, {.num_classes = 7, .in_chans = 1, .drop_rate = 0.2});
  const auto fixed = model->fixed_input_size();
  const int64_t min = model->min_input_size();

  // 1. Names: every stem conv takes the 1 channel, every classifier gives the 7 classes. A
  //    Linear [classes, C], or a 1x1 conv classifier [classes, C, 1, 1] (timm's use_conv heads).
  {
    const auto sd = state_dict(*model);
    ASSERT_FALSE(model->first_conv_names().empty());
    for (const auto& stem : model->first_conv_names()) {
      const auto conv = sd.find(stem + ".weight");
      ASSERT_NE(conv, sd.end()) << stem;
      EXPECT_EQ(conv->second.dim(), 4) << stem;
      EXPECT_EQ(conv->second.size(1), 1) << stem;
    }
    ASSERT_FALSE(model->classifier_names().empty());
    for (const auto& head : model->classifier_names()) {
      const auto fc = sd.find(head + ".weight");
      ASSERT_NE(fc, sd.end()) << head;
      EXPECT_TRUE(fc->second.dim() == 2 ||
                  (fc->second.dim() == 4 && fc->second.size(2) == 1 && fc->second.size(3) == 1))
          << fc->second.sizes();
      EXPECT_EQ(fc->second.size(0), 7) << head;
      EXPECT_EQ(sd.at(head + ".bias").size(0), 7) << head;
    }
  }

  // 2. Training: every parameter gets a gradient and BatchNorm counts the one batch.
  const int64_t s = test_size(*model, 32);
  {
    model->train();
    const auto x = torch::randn({2, 1, s, s});
    auto loss = torch::nn::functional::cross_entropy(model->forward(x), torch::tensor({1, 3}));
    loss.backward();
    for (const auto& p : model->named_parameters())
      EXPECT_TRUE(p.value().grad().defined()) << "no gradient for " << p.key();
    for (const auto& b : model->named_buffers()) {
      if (b.key().ends_with("num_batches_tracked")) {
        EXPECT_EQ(b.value().item<int64_t>(), 1) << b.key();
      }
    }
    model->zero_grad();
  }

  // 3. Sizes: logits at every size it accepts, a clear error at the others.
  model->eval();
  torch::NoGradGuard no_grad;
  std::set<int64_t> sizes{28, 64, 224, std::max<int64_t>(min, 1)};
  if (fixed) sizes.insert(*fixed);
  for (const int64_t size : sizes) {
    SCOPED_TRACE(fmt::format("{} at {} px", name, size));
    const auto x = torch::randn({2, 1, size, size});
    if (fixed && size != *fixed) {
      const auto f = std::to_string(*fixed);
      expect_error([&] { model->forward(x); }, {"exactly " + f + "x" + f, "resize"});
      continue;
    }
    if (size < min) {
      const auto m = std::to_string(min);
      expect_error([&] { model->forward(x); }, {m + "x" + m, "resize"});
      continue;
    }
    const auto y = model->forward(x);
    EXPECT_EQ(y.sizes(), (std::vector<int64_t>{2, 7}));
    EXPECT_TRUE(torch::isfinite(y).all().item<bool>());
    // The two images give different logits. Where eval-mode BatchNorm with fresh statistics
    // washes the input out at timm's own init (RepVGG's BN weights N(0.1, 0.1); ConvMixer's
    // bias-only fixed point), the batch statistics of training mode must tell them apart.
    if (torch::allclose(y[0], y[1])) {
      model->train();
      const auto y_train = model->forward(x);
      model->eval();
      EXPECT_FALSE(torch::allclose(y_train[0], y_train[1])) << "the two images give equal logits";
    }
  }
  EXPECT_THROW(model->forward(torch::randn({1, 3, s, s})), pepr::Error);  // wrong channels
  EXPECT_THROW(model->forward(torch::randn({1, s, s})), pepr::Error);     // not 4-D

  // 4. channels_last gives the same logits (float32 sums in another order: a relative 1e-3 of
  //    the logits' scale; a layout mistake changes them entirely).
  const auto x = torch::randn({2, 1, s, s});
  const auto y = model->forward(x);
  to_channels_last(*model);
  for (const auto& p : model->parameters()) {
    if (p.dim() == 4) {
      EXPECT_TRUE(p.is_contiguous(at::MemoryFormat::ChannelsLast));
    }
  }
  const auto y_cl = model->forward(x.contiguous(at::MemoryFormat::ChannelsLast));
  EXPECT_LE((y - y_cl).abs().max().item<double>(),
            1e-3 * std::max(1.0, y.abs().max().item<double>()));

  // 5. reset_classifier changes only the head.
  const auto before = state_dict(*model);
  model->reset_classifier(5);
  EXPECT_EQ(model->num_classes(), 5);
  const auto after = state_dict(*model);
  ASSERT_EQ(before.size(), after.size());
  for (const auto& [entry, t] : after) {
    ASSERT_EQ(before.count(entry), 1u) << entry;
    if (in_classifier(entry, model->classifier_names())) {
      EXPECT_EQ(t.size(0), 5) << entry;
    } else {
      EXPECT_TRUE(t.is_same(before.at(entry))) << entry;
    }
  }
  EXPECT_EQ(model->forward(torch::randn({1, 1, s, s})).sizes(), (std::vector<int64_t>{1, 5}));
  EXPECT_THROW(model->reset_classifier(0), pepr::Error);
}

INSTANTIATE_TEST_SUITE_P(Native, NativeModel, ::testing::ValuesIn(native_model_names()),
                         [](const auto& info) { return sanitize(info.param); });

// MaxxViT's relative-position MLP keeps its coordinates outside the state dict (timm's are
// non-persistent buffers): they must follow the model to float64 as the weights do, or the
// equivalence test's float64 check of rounding throws instead of judging the model.
TEST(MaxxVit, RelativePositionCoordinatesFollowTheModelToFloat64) {
  auto model = create_model("maxxvit_rmlp_nano_rw_256", {.num_classes = 3});
  model->eval();
  model->to(torch::kFloat64);
  torch::NoGradGuard no_grad;
  const auto y = model->forward(torch::randn({1, 3, 256, 256}, torch::kFloat64));
  EXPECT_EQ(y.scalar_type(), torch::kFloat64);
  EXPECT_TRUE(torch::isfinite(y).all().item<bool>());
}

TEST(Vgg, SmallInputsAreRefusedWithTheMinimumSize) {
  auto model = create_model("vgg11", {.num_classes = 7});
  EXPECT_EQ(model->min_input_size(), 32);
  model->eval();
  torch::NoGradGuard no_grad;
  try {
    model->forward(torch::randn({1, 3, 28, 28}));
    FAIL() << "expected pepr::Error";
  } catch (const pepr::Error& e) {
    EXPECT_STREQ(e.what(),
                 "vgg11: needs inputs of at least 32x32 pixels, got 28x28; resize the images to "
                 "32x32 or larger");
  }
  // Between 32 and 223 px the 7x7 pre-logits conv runs on average-pooled features, as in timm.
  EXPECT_EQ(model->forward(torch::randn({1, 3, 64, 64})).sizes(), (std::vector<int64_t>{1, 7}));
}

TEST(CrossVit, OtherSizesAreRefusedWithTheFixedSize) {
  auto model = create_model("crossvit_9_240", {.num_classes = 7});
  ASSERT_TRUE(model->fixed_input_size().has_value());
  EXPECT_EQ(*model->fixed_input_size(), 240);
  model->eval();
  torch::NoGradGuard no_grad;
  try {
    model->forward(torch::randn({1, 3, 28, 28}));
    FAIL() << "expected pepr::Error";
  } catch (const pepr::Error& e) {
    EXPECT_STREQ(e.what(),
                 "crossvit_9_240: needs inputs of exactly 240x240 pixels, got 28x28; resize the "
                 "images to 240x240");
  }
  EXPECT_THROW(model->forward(torch::randn({1, 3, 240, 224})), pepr::Error);
}

}  // namespace
