// LibTorch's CPU convolution backend: settled before a model exists, applied to LibTorch, and
// LibTorch's own convolutions (what pepr falls back to) correct in every layout pepr uses.
#include <ATen/Context.h>
#include <ATen/Version.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <iostream>

#include "models/cpu_backend.hpp"
#include "models/registry.hpp"

namespace {

using namespace pepr::models;

// Restores LibTorch's oneDNN switch when a test ends.
struct OneDnnSwitch {
  bool saved = at::globalContext().userEnabledMkldnn();
  ~OneDnnSwitch() { at::globalContext().setUserEnabledMkldnn(saved); }
};

TEST(CpuBackend, CreatingAModelSettlesAndAppliesIt) {
  create_model("resnet18", {.num_classes = 2});
  const CpuBackend& b = settle_cpu_backend();
  EXPECT_EQ(&b, &settle_cpu_backend());
  std::cout << "[ onednn ] version " << (b.facts.version.empty() ? "?" : b.facts.version)
            << ", per-core L1/L2 as oneDNN sees them: "
            << (b.facts.l1_bytes ? std::to_string(*b.facts.l1_bytes) : "not visible") << " / "
            << (b.facts.l2_bytes ? std::to_string(*b.facts.l2_bytes) : "not visible")
            << ", AMD cache leaf empty: " << b.facts.amd_cache_leaf_empty
            << ", used: " << b.verdict.use << (b.verdict.reason.empty() ? "" : " (")
            << b.verdict.reason << (b.verdict.reason.empty() ? "" : ")") << "\n";
  if (!b.verdict.use) {
    EXPECT_FALSE(at::globalContext().userEnabledMkldnn());
  }
  // Both Debian LibTorch versions name their oneDNN in the build configuration.
  if (at::hasMKLDNN()) {
    EXPECT_FALSE(b.facts.version.empty()) << at::show_config();
  }
  EXPECT_EQ(b.facts.built_with_onednn, at::hasMKLDNN());
}

TEST(CpuBackend, AVerdictTurnsOneDnnOffButNeverOn) {
  OneDnnSwitch restore;
  at::globalContext().setUserEnabledMkldnn(true);
  apply_onednn_verdict({.use = true, .reason = ""});
  EXPECT_TRUE(at::globalContext().userEnabledMkldnn());
  apply_onednn_verdict({.use = false, .reason = "test"});
  EXPECT_FALSE(at::globalContext().userEnabledMkldnn());
  apply_onednn_verdict({.use = true, .reason = ""});
  EXPECT_FALSE(at::globalContext().userEnabledMkldnn());
}

// The fallback: with oneDNN off, convolutions of the shapes and layouts pepr's models use
// (grouped, depthwise, strided, 1x1, channels-last) agree with a float64 reference.
TEST(CpuBackend, LibTorchsOwnConvolutionsAreCorrect) {
  OneDnnSwitch restore;
  at::globalContext().setUserEnabledMkldnn(false);
  torch::manual_seed(0);
  struct Case {
    int64_t cin, cout, k, stride, groups, hw;
  };
  for (const Case& c : {Case{3, 24, 3, 2, 1, 33}, Case{40, 40, 7, 1, 40, 14},
                        Case{64, 128, 1, 1, 1, 9}, Case{32, 64, 3, 1, 4, 12}}) {
    for (bool channels_last : {false, true}) {
      auto x = torch::randn({2, c.cin, c.hw, c.hw});
      auto w = torch::randn({c.cout, c.cin / c.groups, c.k, c.k}) * 0.2;
      auto b = torch::randn({c.cout});
      const auto fmt =
          channels_last ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous;
      auto y =
          torch::conv2d(x.contiguous(fmt), w.contiguous(fmt), b, c.stride, c.k / 2, 1, c.groups);
      auto ref = torch::conv2d(x.to(torch::kDouble), w.to(torch::kDouble), b.to(torch::kDouble),
                               c.stride, c.k / 2, 1, c.groups);
      const double err = (y.to(torch::kDouble) - ref).abs().max().item<double>();
      EXPECT_LT(err, 1e-4 * ref.abs().max().item<double>())
          << "cin " << c.cin << " groups " << c.groups << " k " << c.k
          << (channels_last ? " channels-last" : "");
      // The backward pass that training needs runs too.
      auto xg = x.clone().requires_grad_(true);
      torch::conv2d(xg.contiguous(fmt), w, b, c.stride, c.k / 2, 1, c.groups).sum().backward();
      EXPECT_TRUE(xg.grad().defined());
    }
  }
}

}  // namespace
