// Every native model runs at 28, 64 and 224 px with 7 classes and 1 or 3 input channels (or
// refuses clearly below its minimum size), trains (every parameter gets a gradient), and keeps
// its stem and classifier names truthful.
#include <cctype>
#include <tuple>

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

// One model per (architecture, channels), run at every size: building a model costs more than
// running it.
class ForwardShape : public ::testing::TestWithParam<std::tuple<std::string, int64_t>> {};

TEST_P(ForwardShape, GivesLogitsOrAClearErrorAt28_64_224) {
  const auto& [name, in_chans] = GetParam();
  ModelOptions o;
  o.num_classes = 7;
  o.in_chans = in_chans;
  auto model = create_model(name, o);
  model->eval();
  torch::NoGradGuard no_grad;
  for (const int64_t size : {28, 64, 224}) {
    SCOPED_TRACE(fmt::format("{} at {} px, {} channel(s)", name, size, in_chans));
    const auto x = torch::randn({2, in_chans, size, size});
    if (size < model->min_input_size()) {
      try {
        model->forward(x);
        ADD_FAILURE() << "ran below its minimum size " << model->min_input_size();
      } catch (const pepr::Error& e) {
        const std::string what = e.what();
        const auto min = std::to_string(model->min_input_size());
        EXPECT_NE(what.find(min + "x" + min), std::string::npos) << what;
        EXPECT_NE(what.find("resize"), std::string::npos) << what;
      }
      continue;
    }
    const auto y = model->forward(x);
    EXPECT_EQ(y.sizes(), (std::vector<int64_t>{2, 7}));
    EXPECT_TRUE(torch::isfinite(y).all().item<bool>());
    // The two images give different logits. In eval mode with fresh running statistics a deep
    // stack can forget its input at PyTorch's default init (timm's ConvMixer settles on a
    // bias-only fixed point); there BatchNorm on the batch's statistics must tell them apart.
    if (torch::allclose(y[0], y[1])) {
      model->train();
      const auto y_train = model->forward(x);
      model->eval();
      EXPECT_FALSE(torch::allclose(y_train[0], y_train[1])) << "the two images give equal logits";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Native, ForwardShape,
                         ::testing::Combine(::testing::ValuesIn(native_model_names()),
                                            ::testing::Values(1, 3)),
                         [](const auto& info) {
                           return fmt::format("{}_{}ch", sanitize(std::get<0>(info.param)),
                                              std::get<1>(info.param));
                         });

class NativeModel : public ::testing::TestWithParam<std::string> {};

TEST_P(NativeModel, RunsAtItsMinimumSize) {
  auto model = create_model(GetParam(), {.num_classes = 3});
  model->eval();
  torch::NoGradGuard no_grad;
  const int64_t s = model->min_input_size();
  EXPECT_EQ(model->forward(torch::randn({1, 3, s, s})).sizes(), (std::vector<int64_t>{1, 3}));
  EXPECT_THROW(model->forward(torch::randn({1, 1, s, s})), pepr::Error);  // wrong channels
  EXPECT_THROW(model->forward(torch::randn({3, s, s})), pepr::Error);     // not 4-D
}

TEST_P(NativeModel, EveryParameterGetsAGradient) {
  torch::manual_seed(0);
  auto model = create_model(GetParam(), {.num_classes = 4, .drop_rate = 0.2});
  model->train();
  const int64_t s = std::max<int64_t>(32, model->min_input_size());
  const auto x = torch::randn({2, 3, s, s});
  const auto target = torch::tensor({1, 3}, torch::kLong);
  auto loss = torch::nn::functional::cross_entropy(model->forward(x), target);
  loss.backward();
  for (const auto& p : model->named_parameters()) {
    EXPECT_TRUE(p.value().grad().defined()) << GetParam() << ": no gradient for " << p.key();
  }
  // BatchNorm counted the batch.
  for (const auto& b : model->named_buffers()) {
    if (b.key().ends_with("num_batches_tracked")) {
      EXPECT_EQ(b.value().item<int64_t>(), 1) << b.key();
    }
  }
}

TEST_P(NativeModel, StemAndClassifierNamesAreTruthful) {
  auto model = create_model(GetParam(), {.num_classes = 7, .in_chans = 1});
  const auto sd = state_dict(*model);
  const auto conv = sd.find(model->first_conv_name() + ".weight");
  ASSERT_NE(conv, sd.end()) << model->first_conv_name();
  EXPECT_EQ(conv->second.size(1), 1);
  const auto fc = sd.find(model->classifier_name() + ".weight");
  ASSERT_NE(fc, sd.end()) << model->classifier_name();
  // A Linear [classes, C], or a 1x1 conv classifier [classes, C, 1, 1] (timm's use_conv heads).
  EXPECT_TRUE(fc->second.dim() == 2 ||
              (fc->second.dim() == 4 && fc->second.size(2) == 1 && fc->second.size(3) == 1))
      << fc->second.sizes();
  EXPECT_EQ(fc->second.size(0), 7);
  EXPECT_EQ(sd.at(model->classifier_name() + ".bias").size(0), 7);
}

TEST_P(NativeModel, ResetClassifierChangesOnlyTheHead) {
  auto model = create_model(GetParam(), {.num_classes = 7});
  const auto before = state_dict(*model);
  model->reset_classifier(5);
  EXPECT_EQ(model->num_classes(), 5);
  const auto after = state_dict(*model);
  ASSERT_EQ(before.size(), after.size());
  for (const auto& [name, t] : after) {
    ASSERT_EQ(before.count(name), 1u) << name;
    if (name.starts_with(model->classifier_name() + ".")) {
      EXPECT_EQ(t.size(0), 5) << name;
    } else {
      EXPECT_TRUE(t.is_same(before.at(name))) << name;
    }
  }
  model->eval();
  torch::NoGradGuard no_grad;
  const int64_t s = std::max<int64_t>(32, model->min_input_size());
  EXPECT_EQ(model->forward(torch::randn({1, 3, s, s})).sizes(), (std::vector<int64_t>{1, 5}));
  EXPECT_THROW(model->reset_classifier(0), pepr::Error);
}

TEST_P(NativeModel, ChannelsLastGivesTheSameLogits) {
  auto model = create_model(GetParam(), {.num_classes = 6});
  model->eval();
  torch::NoGradGuard no_grad;
  const int64_t s = std::max<int64_t>(32, model->min_input_size());
  const auto x = torch::randn({2, 3, s, s});
  const auto y = model->forward(x);
  to_channels_last(*model);
  for (const auto& p : model->parameters()) {
    if (p.dim() == 4) {
      EXPECT_TRUE(p.is_contiguous(at::MemoryFormat::ChannelsLast));
    }
  }
  const auto y_cl = model->forward(x.contiguous(at::MemoryFormat::ChannelsLast));
  EXPECT_LE((y - y_cl).abs().max().item<double>(),
            1e-4 * std::max(1.0, y.abs().max().item<double>()));
}

INSTANTIATE_TEST_SUITE_P(Native, NativeModel, ::testing::ValuesIn(native_model_names()),
                         [](const auto& info) { return sanitize(info.param); });

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

}  // namespace
