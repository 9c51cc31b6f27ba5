// zoo/input_sizes.hpp, the LibTorch-free table of every native model's input-size rule that the
// sweep and `pepr zoo list` read, against the models themselves: the same names, the same
// minimum and fixed size for every one (a stale table fails here, and the message says how to
// regenerate it), and for a model of each kind of rule, forward() runs at the table's size and
// refuses one pixel less (or another size than the fixed one).
#include <gtest/gtest.h>

#include <torch/torch.h>

#include "core/error.hpp"
#include "models/input_size.hpp"
#include "models/model.hpp"
#include "models/registry.hpp"
#include "zoo/input_sizes.hpp"

namespace {

using pepr::models::create_model;

TEST(InputSizes, TableEqualsEveryNativeModelsOwnRule) {
  const auto& table = pepr::zoo::native_input_sizes();
  std::vector<std::string> names;
  for (const auto& e : table) names.emplace_back(e.name);
  ASSERT_EQ(names, pepr::models::native_model_names())
      << "the table's models are not the native ones: run scripts/gen_input_sizes.sh";
  std::size_t with_min = 0, with_fixed = 0;
  for (const auto& e : table) {
    const auto own = pepr::models::native_input_size(std::string(e.name));
    EXPECT_EQ(e.min, own.min) << e.name << ": run scripts/gen_input_sizes.sh";
    EXPECT_EQ(e.fixed, own.fixed) << e.name << ": run scripts/gen_input_sizes.sh";
    with_min += e.min > 1, with_fixed += e.fixed > 0;
    EXPECT_EQ(pepr::zoo::find_input_sizes(e.name), &e);
  }
  // The study's zoo has both kinds (densenets, vgg, inception_v3...; crossvit, maxvit, swinv2).
  EXPECT_GT(with_min, 10u);
  EXPECT_GE(with_fixed, 3u);
  EXPECT_EQ(pepr::zoo::find_input_sizes("not_a_model"), nullptr);
}

// forward() on a [1, 1, size, size] image: whether it ran (pepr::Error: refused).
bool runs_at(pepr::models::Classifier& m, int64_t size) {
  torch::NoGradGuard no_grad;
  try {
    const auto y = m.forward(torch::randn({1, 1, size, size}));
    return y.size(0) == 1 && y.size(1) == 2;
  } catch (const pepr::Error&) {
    return false;
  }
}

TEST(InputSizes, ModelsRunAtTheTablesSizeAndNotBelowIt) {
  // A minimum (five 2x2 pools; dense blocks; a large-kernel stem) and a fixed size.
  for (const char* name : {"vgg11", "densenet121", "dla34"}) {
    const auto* e = pepr::zoo::find_input_sizes(name);
    ASSERT_NE(e, nullptr) << name;
    ASSERT_GT(e->min, 1) << name;
    auto m = create_model(name, {.num_classes = 2, .in_chans = 1});
    m->eval();
    EXPECT_TRUE(runs_at(*m, e->min)) << name << " at " << e->min;
    EXPECT_FALSE(runs_at(*m, e->min - 1)) << name << " at " << e->min - 1;
  }
  const auto* e = pepr::zoo::find_input_sizes("crossvit_9_240");
  ASSERT_NE(e, nullptr);
  ASSERT_EQ(e->fixed, 240);
  auto m = create_model("crossvit_9_240", {.num_classes = 2, .in_chans = 1});
  m->eval();
  EXPECT_TRUE(runs_at(*m, 240));
  EXPECT_FALSE(runs_at(*m, 224));
  EXPECT_FALSE(runs_at(*m, 256));
}

}  // namespace
