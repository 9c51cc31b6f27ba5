// Every native model runs at 28, 64 and 224 px with 7 classes and 1 or 3 input channels (or
// refuses clearly below its minimum size), trains (every parameter gets a gradient), and keeps
// its stem and classifier names truthful.
#include <algorithm>
#include <cctype>
#include <tuple>
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
  const auto fixed = model->fixed_input_size();
  std::vector<int64_t> sizes{28, 64, 224};
  // A model with a fixed input size runs at that size (and refuses the others clearly).
  if (fixed && std::find(sizes.begin(), sizes.end(), *fixed) == sizes.end()) {
    sizes.push_back(*fixed);
  }
  for (const int64_t size : sizes) {
    SCOPED_TRACE(fmt::format("{} at {} px, {} channel(s)", name, size, in_chans));
    const auto x = torch::randn({2, in_chans, size, size});
    if (fixed && size != *fixed) {
      try {
        model->forward(x);
        ADD_FAILURE() << "ran at a size other than its fixed size " << *fixed;
      } catch (const pepr::Error& e) {
        const std::string what = e.what();
        const auto f = std::to_string(*fixed);
        EXPECT_NE(what.find("exactly " + f + "x" + f), std::string::npos) << what;
        EXPECT_NE(what.find("resize"), std::string::npos) << what;
      }
      continue;
    }
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
    EXPECT_FALSE(torch::allclose(y[0], y[1]));  // the two images give different logits
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

// The size to test a model at: its fixed input size if it has one, else at least `wanted` and
// at least its minimum size.
int64_t test_size(const Classifier& model, int64_t wanted) {
  return model.fixed_input_size().value_or(std::max(wanted, model.min_input_size()));
}

// Whether a state-dict entry belongs to the classifier. timm lists several classifiers for
// multi-head models (CrossViT: head.0, head.1); the model names the first, "<list>.0", and its
// siblings "<list>.<k>" are classifiers too.
bool in_classifier(const std::string& entry, const std::string& classifier) {
  if (entry.starts_with(classifier + ".")) return true;
  const auto dot = classifier.rfind('.');
  if (dot == std::string::npos || classifier.substr(dot + 1) != "0") return false;
  const std::string list = classifier.substr(0, dot + 1);  // "head."
  if (!entry.starts_with(list)) return false;
  const auto rest = entry.substr(list.size());
  const auto end = rest.find('.');
  return end != std::string::npos && end > 0 &&
         std::all_of(rest.begin(), rest.begin() + static_cast<std::ptrdiff_t>(end),
                     [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; });
}

TEST_P(NativeModel, RunsAtItsMinimumSize) {
  auto model = create_model(GetParam(), {.num_classes = 3});
  model->eval();
  torch::NoGradGuard no_grad;
  const int64_t s = test_size(*model, 1);
  EXPECT_EQ(model->forward(torch::randn({1, 3, s, s})).sizes(), (std::vector<int64_t>{1, 3}));
  EXPECT_THROW(model->forward(torch::randn({1, 1, s, s})), pepr::Error);  // wrong channels
  EXPECT_THROW(model->forward(torch::randn({3, s, s})), pepr::Error);     // not 4-D
}

TEST_P(NativeModel, EveryParameterGetsAGradient) {
  torch::manual_seed(0);
  auto model = create_model(GetParam(), {.num_classes = 4, .drop_rate = 0.2});
  model->train();
  const int64_t s = test_size(*model, 32);
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
  EXPECT_EQ(fc->second.dim(), 2);
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
    if (in_classifier(name, model->classifier_name())) {
      EXPECT_EQ(t.size(0), 5) << name;
    } else {
      EXPECT_TRUE(t.is_same(before.at(name))) << name;
    }
  }
  model->eval();
  torch::NoGradGuard no_grad;
  const int64_t s = test_size(*model, 32);
  EXPECT_EQ(model->forward(torch::randn({1, 3, s, s})).sizes(), (std::vector<int64_t>{1, 5}));
  EXPECT_THROW(model->reset_classifier(0), pepr::Error);
}

TEST_P(NativeModel, ChannelsLastGivesTheSameLogits) {
  auto model = create_model(GetParam(), {.num_classes = 6});
  model->eval();
  torch::NoGradGuard no_grad;
  const int64_t s = test_size(*model, 32);
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
