// Issue #30, section 4: training equal to PyTorch's, not only the forward pass. For each model
// and optimizer in tests/models/train_reference/ (written by scripts/gen_train_reference.py with
// PyTorch and timm), the native model, filled by the rule of timm_reference.cpp, in float64 on CPU
// with BatchNorm in training mode, is trained for the same steps on the same batches with the
// optimizer pepr's engine builds (train/optimizer.hpp) and the engine's step (zero_grad,
// cross_entropy, backward, step). Its losses, and the fingerprints (sum, sum of squares, a few
// elements) of every parameter and buffer after the last step (BatchNorm running statistics and
// num_batches_tracked included), must equal PyTorch's. Two sensitivity tests show the comparison
// fails when Adam's eps or BatchNorm's momentum differ. Needs no shared data.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <torch/version.h>
#include <nlohmann/json.hpp>

#include "models/model.hpp"
#include "models/registry.hpp"
#include "models/state_dict.hpp"
#include "support/test_support.hpp"
#include "timm_reference.hpp"
#include "train/engine.hpp"
#include "train/optimizer.hpp"

namespace {

using nlohmann::json;
using pepr::test::fnv1a64;
using pepr::test::splitmix64_at;
using pepr::test::unit_at;

// Tolerances, relative (see Diffs for what each is relative to), from the largest differences
// measured between pepr on LibTorch 1.13 (Debian) and PyTorch 2.11.0 with timm 1.0.31, float64,
// 2 threads (loss / state after 20 steps):
//   resnet18         adam 2.4e-12 / 2.6e-12   sgd 1.4e-13 / 1.6e-13
//   mobilenetv2_050  adam 3.1e-14 / 3.4e-08   sgd 2.0e-11 / 6.0e-11
//   ghostnet_100     adam 9.0e-14 / 4.1e-09   sgd 1.1e-12 / 3.9e-12
//   mobilevitv2_050  adam 2.3e-13 / 6.7e-09   sgd 2.2e-10 / 1.1e-10
// Adam's larger state differences are in the BatchNorm biases whose gradient is zero in exact
// arithmetic (a BatchNorm bias followed by a convolution and a training-mode BatchNorm, which
// subtracts any constant shift: mobilenetv2_050's blocks.0.0.bn2.bias, ghostnet_100's
// blocks.1.0.shortcut.1.bias, mobilevitv2_050's stages.0.0.conv3_1x1.bn.bias; max |grad| 1e-15
// where their neighbours' is 0.3 to 5) and in the running means downstream of them: their
// gradient is rounding noise, which Adam divides by sqrt(v) + eps instead of scaling by lr, so
// every step moves them by about lr * noise / eps, differently in any two implementations.
// PyTorch against itself, with the initial weights changed by a relative 1e-13, differs as much
// (1.5e-8 for mobilenetv2_050 with Adam). A changed setting differs by 1e-2 or more (the
// sensitivity tests below).
constexpr double kLossTol = 1e-8;
constexpr double kStateTolSgd = 1e-8;
constexpr double kStateTolAdam = 2e-7;

double state_tolerance(const std::string& optimizer) {
  return optimizer == "adam" ? kStateTolAdam : kStateTolSgd;
}

json load_reference(const std::string& model, const std::string& optimizer) {
  const auto path = pepr::test::source_dir() / "tests/models/train_reference" /
                    (model + "_" + optimizer + ".json");
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path.string());
  return json::parse(in);
}

// The script's batches: batch k's images from the generator seeded with FNV-1a of "batch<k>"
// (element j in row-major order: 2u - 1, in double); labels (k * batch + i) * 7 % num_classes.
std::pair<torch::Tensor, torch::Tensor> make_batch(const json& ref, int64_t k) {
  const auto batch = ref.at("batch").get<int64_t>();
  const auto image = ref.at("image").get<std::vector<int64_t>>();
  const auto classes = ref.at("num_classes").get<int64_t>();
  auto x = torch::empty({batch, image.at(0), image.at(1), image.at(2)}, torch::kFloat64);
  const uint64_t seed = fnv1a64("batch" + std::to_string(k));
  double* data = x.data_ptr<double>();
  for (int64_t j = 0; j < x.numel(); ++j)
    data[j] = 2.0 * unit_at(seed, static_cast<uint64_t>(j)) - 1.0;
  auto y = torch::empty({batch}, torch::kInt64);
  for (int64_t i = 0; i < batch; ++i) y[i] = (k * batch + i) * 7 % classes;
  return {x, y};
}

// What to change on pepr's side, to show that the comparison notices.
struct Perturbation {
  double adam_eps = 0;     // > 0: Adam's eps
  double bn_momentum = 0;  // > 0: every BatchNorm's momentum (models use 0.1)
};

struct Outcome {
  std::vector<double> losses;
  std::map<std::string, torch::Tensor> state;
  double seconds = 0;  // training
};

using pepr::train::OptimizerKernels;

Outcome train_like_engine(const json& ref, const Perturbation& perturb = {},
                          OptimizerKernels kernels = OptimizerKernels::automatic) {
  const auto name = ref.at("model").get<std::string>();
  pepr::models::ModelOptions mo;
  mo.num_classes = ref.at("num_classes").get<int64_t>();
  auto model = pepr::models::create_model(name, mo);
  // (LibTorch's to(dtype) makes num_batches_tracked float64 too, unlike PyTorch's; it still
  // counts exactly, and fill_by_rule leaves it alone by name.)
  model->to(torch::kFloat64);
  pepr::test::fill_by_rule(*model);
  model->train(true);

  // The engine's optimizer, from the TrainConfig fields it reads.
  const auto& o = ref.at("optimizer_settings");
  pepr::train::TrainConfig cfg;
  cfg.optimizer =
      *pepr::run::from_name<pepr::run::Optimizer>(ref.at("optimizer").get<std::string>());
  cfg.lr = o.at("lr").get<double>();
  cfg.weight_decay = o.at("weight_decay").get<double>();
  if (o.contains("momentum")) cfg.momentum = o.at("momentum").get<double>();
  auto opt = pepr::train::make_optimizer(cfg, model->parameters(), kernels).optimizer;
  // The settings the engine does not set must be LibTorch's defaults equal to the reference's.
  auto& group = opt->param_groups().at(0).options();
  if (cfg.optimizer == pepr::run::Optimizer::adam) {
    auto& a = static_cast<torch::optim::AdamOptions&>(group);
    const auto betas = o.at("betas").get<std::vector<double>>();
    EXPECT_EQ(std::get<0>(a.betas()), betas.at(0));
    EXPECT_EQ(std::get<1>(a.betas()), betas.at(1));
    EXPECT_EQ(a.eps(), o.at("eps").get<double>());
    EXPECT_FALSE(a.amsgrad());
    if (perturb.adam_eps > 0) a.eps(perturb.adam_eps);
  } else {
    auto& s = static_cast<torch::optim::SGDOptions&>(group);
    EXPECT_EQ(s.dampening(), o.at("dampening").get<double>());
    EXPECT_EQ(s.nesterov(), o.at("nesterov").get<bool>());
  }

  // BatchNorm's running statistics: with momentum m they become (1 - m) old + m batch. pepr's
  // BatchNormAct2d keeps its momentum private, so another momentum is applied afterwards to each
  // step's update: old + (m / 0.1) (new - old) is exactly momentum m's result (up to rounding).
  std::vector<torch::Tensor> running;
  for (auto& [n, t] : pepr::models::state_dict(*model)) {
    const auto dot = n.rfind('.');
    const auto last = dot == std::string::npos ? n : n.substr(dot + 1);
    if (last == "running_mean" || last == "running_var") running.push_back(t);
  }

  Outcome out;
  const auto start = std::chrono::steady_clock::now();
  const auto steps = ref.at("steps").get<int64_t>();
  for (int64_t k = 0; k < steps; ++k) {
    auto [x, y] = make_batch(ref, k);
    std::vector<torch::Tensor> before;
    if (perturb.bn_momentum > 0)
      for (const auto& t : running) before.push_back(t.clone());
    // The engine's step (engine.cpp, fp32 without a loss scaler).
    auto logits = model->forward(x);
    auto loss = torch::nn::functional::cross_entropy(logits, y);
    opt->zero_grad();
    loss.backward();
    opt->step();
    out.losses.push_back(loss.item<double>());
    if (perturb.bn_momentum > 0) {
      torch::NoGradGuard no_grad;
      for (size_t i = 0; i < running.size(); ++i)
        running[i].copy_(before[i] + (perturb.bn_momentum / 0.1) * (running[i] - before[i]));
    }
  }
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  out.state = pepr::models::state_dict(*model);
  return out;
}

// The largest differences, each relative to a scale: a loss to the reference loss; a tensor's
// sum to sqrt(numel * sum of squares) (the largest its sum can be); its sum of squares to the
// reference's; an element to the tensor's root mean square. Integer buffers must be equal.
struct Diffs {
  double loss = 0, sum = 0, sumsq = 0, element = 0;
  std::string loss_at, sum_at, sumsq_at, element_at;
  std::vector<std::string> problems;  // missing entries, unequal integer buffers

  double state() const { return std::max({sum, sumsq, element}); }
  std::string describe() const {
    std::string s = fmt::format(
        "max relative difference: loss {:.2e} ({}), sum {:.2e} ({}), sum of squares {:.2e} ({}), "
        "element {:.2e} ({})",
        loss, loss_at, sum, sum_at, sumsq, sumsq_at, element, element_at);
    for (const auto& p : problems) s += "\n  " + p;
    return s;
  }
};

void note(double d, const std::string& where, double& max, std::string& max_at) {
  if (!(d <= max)) {  // NaN counts as the largest
    max = d;
    max_at = where;
  }
}

Diffs compare(const json& ref, const Outcome& ours) {
  Diffs d;
  const auto losses = ref.at("losses").get<std::vector<double>>();
  if (losses.size() != ours.losses.size()) d.problems.push_back("another number of steps");
  for (size_t k = 0; k < losses.size() && k < ours.losses.size(); ++k)
    note(std::abs(ours.losses[k] - losses[k]) / std::abs(losses[k]), fmt::format("step {}", k + 1),
         d.loss, d.loss_at);
  const auto points = ref.at("fingerprint_points").get<uint64_t>();
  size_t entries = 0;
  for (const auto& e : ref.at("state_dict")) {
    const auto name = e.at("name").get<std::string>();
    const auto it = ours.state.find(name);
    if (it == ours.state.end()) {
      d.problems.push_back(name + ": not in pepr's state dict");
      continue;
    }
    ++entries;
    const auto flat = it->second.detach().reshape({-1}).to(torch::kCPU);
    if (e.contains("int")) {
      const auto want = e.at("int").get<std::vector<int64_t>>();
      const auto got = flat.to(torch::kInt64);
      bool same = got.numel() == static_cast<int64_t>(want.size());
      for (size_t i = 0; same && i < want.size(); ++i)
        same = got[static_cast<int64_t>(i)].item<int64_t>() == want[i];
      if (!same) d.problems.push_back(name + ": integer buffer differs");
      continue;
    }
    const auto x = flat.to(torch::kFloat64);
    const auto n = static_cast<double>(x.numel());
    const double sum = x.sum().item<double>(), sumsq = (x * x).sum().item<double>();
    const double want_sum = e.at("sum").get<double>(), want_sumsq = e.at("sumsq").get<double>();
    const double rms = std::sqrt(want_sumsq / n);
    if (want_sumsq == 0) {
      note(sumsq == 0 ? 0.0 : 1.0, name, d.sumsq, d.sumsq_at);
      continue;
    }
    note(std::abs(sum - want_sum) / std::sqrt(n * want_sumsq), name, d.sum, d.sum_at);
    note(std::abs(sumsq - want_sumsq) / want_sumsq, name, d.sumsq, d.sumsq_at);
    const auto at = e.at("at").get<std::vector<double>>();
    const uint64_t seed = fnv1a64(name);
    for (uint64_t j = 0; j < points && j < at.size(); ++j) {
      const auto i =
          static_cast<int64_t>(splitmix64_at(seed, j) % static_cast<uint64_t>(x.numel()));
      note(std::abs(x[i].item<double>() - at[j]) / rms, fmt::format("{}[{}]", name, i), d.element,
           d.element_at);
    }
  }
  if (entries != ours.state.size())
    d.problems.push_back(fmt::format("pepr's state dict has {} entries, the reference {}",
                                     ours.state.size(), entries));
  return d;
}

struct Case {
  std::string model, optimizer;
  OptimizerKernels kernels = OptimizerKernels::automatic;
};

void PrintTo(const Case& c, std::ostream* os) {
  *os << c.model << " " << c.optimizer << " " << pepr::train::kernels_name(c.kernels);
}

class TrainEquivalence : public ::testing::TestWithParam<Case> {};

TEST_P(TrainEquivalence, LossesParamsAndRunningStatsMatchPyTorch) {
  const auto& [model, optimizer, kernels] = GetParam();
  if (kernels == OptimizerKernels::fused &&
      !pepr::train::has_fused_kernel(*pepr::run::from_name<pepr::run::Optimizer>(optimizer), false))
    GTEST_SKIP() << "this LibTorch (" << TORCH_VERSION << ") has no fused " << optimizer
                 << " kernel for the CPU (LibTorch 2.4 and later have)";
  const json ref = load_reference(model, optimizer);
  const Outcome ours = train_like_engine(ref, {}, kernels);
  const Diffs d = compare(ref, ours);
  std::cout << fmt::format("[ info ] {} {} {} ({:.1f} s) vs torch {}: {}\n", model, optimizer,
                           pepr::train::kernels_name(kernels), ours.seconds,
                           ref.at("torch").get<std::string>(), d.describe());
  EXPECT_TRUE(d.problems.empty()) << d.describe();
  EXPECT_LE(d.loss, kLossTol) << d.describe();
  EXPECT_LE(d.state(), state_tolerance(optimizer)) << d.describe();
}

// Every model and optimizer with the kernels the engine chooses (fused where the LibTorch has
// them, foreach otherwise); resnet18 with each of the three.
INSTANTIATE_TEST_SUITE_P(
    Models, TrainEquivalence,
    ::testing::Values(Case{"resnet18", "adam", OptimizerKernels::single},
                      Case{"resnet18", "adam", OptimizerKernels::foreach},
                      Case{"resnet18", "adam", OptimizerKernels::fused},
                      Case{"resnet18", "sgd", OptimizerKernels::single},
                      Case{"resnet18", "sgd", OptimizerKernels::foreach},
                      Case{"resnet18", "sgd", OptimizerKernels::fused},
                      Case{"mobilenetv2_050", "adam"}, Case{"mobilenetv2_050", "sgd"},
                      Case{"ghostnet_100", "adam"}, Case{"ghostnet_100", "sgd"},
                      Case{"mobilevitv2_050", "adam"}, Case{"mobilevitv2_050", "sgd"}),
    [](const auto& info) {
      std::string name = info.param.model + "_" + info.param.optimizer;
      if (info.param.kernels != OptimizerKernels::automatic)
        name += "_" + std::string(pepr::train::kernels_name(info.param.kernels));
      return name;
    });

// The kernels agree with LibTorch's own optimizer where a parameter has no gradient in the first
// steps (it is skipped, and gets its state, SGD's momentum buffer made from its first gradient,
// later than the others) and with weight decay, momentum and Nesterov on: every parameter after
// 6 steps within 1e-12 relative (float64; fused rounds differently in the last bits).
TEST(OptimizerKernels, AgreeWithLibTorchsOwnWhenAParameterGetsItsFirstGradientLate) {
  struct Setting {
    pepr::run::Optimizer optimizer;
    double lr, momentum, weight_decay;
  };
  for (const Setting st : {Setting{pepr::run::Optimizer::adam, 5e-4, 0, 0},
                           Setting{pepr::run::Optimizer::adam, 1e-3, 0, 0.01},
                           Setting{pepr::run::Optimizer::sgd, 0.1, 0.9, 1e-4},
                           Setting{pepr::run::Optimizer::sgd, 0.1, 0, 0}}) {
    std::map<std::string, std::vector<torch::Tensor>> finals;
    for (const auto kernels :
         {OptimizerKernels::single, OptimizerKernels::foreach, OptimizerKernels::fused}) {
      if (kernels == OptimizerKernels::fused && !pepr::train::has_fused_kernel(st.optimizer, false))
        continue;
      torch::manual_seed(7);
      std::vector<torch::Tensor> params = {
          torch::randn({4, 3}, torch::kFloat64).requires_grad_(),
          torch::randn({5}, torch::kFloat64).requires_grad_(),
          torch::randn({2, 2, 3}, torch::kFloat64).requires_grad_()};
      pepr::train::TrainConfig cfg;
      cfg.optimizer = st.optimizer;
      cfg.lr = st.lr;
      cfg.momentum = st.momentum;
      cfg.weight_decay = st.weight_decay;
      auto made = pepr::train::make_optimizer(cfg, params, kernels);
      EXPECT_EQ(made.kernels, kernels);
      for (int step = 0; step < 6; ++step) {
        made.optimizer->zero_grad();
        // The second parameter takes part from step 3 on: no gradient before.
        auto loss = (params[0] * params[0]).sum() * (1 + step) + params[2].sin().sum();
        if (step >= 2) loss = loss + (params[1] * params[1] * params[1]).sum();
        loss.backward();
        made.optimizer->step();
      }
      auto& out = finals[std::string(pepr::train::kernels_name(kernels))];
      for (const auto& p : params) out.push_back(p.detach().clone());
    }
    const auto& want = finals.at("single");
    ASSERT_GE(finals.size(), 2u);
    for (const auto& [name, got] : finals)
      for (size_t i = 0; i < want.size(); ++i) {
        const double rel = ((got[i] - want[i]).abs().max() / want[i].abs().max()).item<double>();
        EXPECT_LE(rel, 1e-12) << pepr::run::name(st.optimizer) << " " << name << " parameter " << i;
      }
    // The late parameter moved (it was updated from step 3 on).
    torch::manual_seed(7);
    torch::randn({4, 3}, torch::kFloat64);
    EXPECT_FALSE(torch::allclose(want[1], torch::randn({5}, torch::kFloat64)))
        << pepr::run::name(st.optimizer);
  }
}

// An optimizer saved after 3 steps and loaded into a new one (what a run continued from its
// checkpoint does: train/checkpoint.cpp) steps on as if never stopped: the parameters after 3 + 3
// steps equal those of 6 uninterrupted steps bit for bit, for every kernel path this LibTorch
// has. Fused Adam's per-parameter step tensors are not in the saved state; they once restarted
// at 0 after loading, and the continued run's bias corrections were those of a first step.
TEST(OptimizerKernels, ContinueAfterSaveAndLoadAsIfNeverStopped) {
  for (const auto optimizer : {pepr::run::Optimizer::adam, pepr::run::Optimizer::sgd}) {
    for (const auto kernels :
         {OptimizerKernels::single, OptimizerKernels::foreach, OptimizerKernels::fused}) {
      if (kernels == OptimizerKernels::fused && !pepr::train::has_fused_kernel(optimizer, false))
        continue;
      const std::string what =
          fmt::format("{} {}", pepr::run::name(optimizer), pepr::train::kernels_name(kernels));
      pepr::train::TrainConfig cfg;
      cfg.optimizer = optimizer;
      cfg.lr = 1e-2;
      cfg.momentum = 0.9;
      auto fresh_params = [] {
        torch::manual_seed(3);
        return std::vector<torch::Tensor>{torch::randn({4, 3}).requires_grad_(),
                                          torch::randn({5}).requires_grad_()};
      };
      auto steps = [](std::vector<torch::Tensor>& ps, torch::optim::Optimizer& opt, int from,
                      int to) {
        for (int k = from; k < to; ++k) {
          opt.zero_grad();
          ((ps[0] * ps[0]).sum() * (1 + k) + (ps[1] * ps[1] * ps[1]).sum()).backward();
          opt.step();
        }
      };
      auto whole = fresh_params();
      steps(whole, *pepr::train::make_optimizer(cfg, whole, kernels).optimizer, 0, 6);

      auto split = fresh_params();
      std::ostringstream saved;
      {
        auto first = pepr::train::make_optimizer(cfg, split, kernels);
        steps(split, *first.optimizer, 0, 3);
        torch::serialize::OutputArchive archive;
        first.optimizer->save(archive);
        archive.save_to(saved);
      }
      auto second = pepr::train::make_optimizer(cfg, split, kernels);
      std::istringstream in(saved.str());
      torch::serialize::InputArchive archive;
      archive.load_from(in);
      second.optimizer->load(archive);
      steps(split, *second.optimizer, 3, 6);
      for (std::size_t i = 0; i < whole.size(); ++i)
        EXPECT_TRUE(torch::equal(whole[i], split[i])) << what << ", parameter " << i;
      // The steps moved the parameters (the comparison is not of two untouched copies).
      EXPECT_FALSE(torch::equal(whole[0], fresh_params()[0])) << what;
    }
  }
}

// The comparison is sharp enough to see a setting differ: Adam's eps 1e-6 instead of 1e-8 moves
// the parameters (and so the losses) outside the tolerance.
TEST(TrainEquivalenceSensitivity, AdamEpsIsNoticed) {
  const json ref = load_reference("resnet18", "adam");
  const Diffs d = compare(ref, train_like_engine(ref, {.adam_eps = 1e-6}));
  std::cout << "[ info ] resnet18 adam, eps 1e-6: " << d.describe() << "\n";
  EXPECT_TRUE(d.problems.empty()) << d.describe();
  EXPECT_GT(d.state(), kStateTolAdam) << d.describe();
  EXPECT_GT(d.loss, kLossTol) << d.describe();
}

// BatchNorm's momentum 0.2 instead of 0.1: in training mode only the running statistics change
// (the forward pass uses the batch's), and the comparison of those notices it.
TEST(TrainEquivalenceSensitivity, BatchNormMomentumIsNoticed) {
  const json ref = load_reference("resnet18", "adam");
  const Diffs d = compare(ref, train_like_engine(ref, {.bn_momentum = 0.2}));
  std::cout << "[ info ] resnet18 adam, BatchNorm momentum 0.2: " << d.describe() << "\n";
  EXPECT_TRUE(d.problems.empty()) << d.describe();
  EXPECT_GT(d.state(), kStateTolAdam) << d.describe();
  EXPECT_NE(d.sumsq_at.find("running_"), std::string::npos) << d.describe();
  EXPECT_LE(d.loss, kLossTol) << d.describe();  // the forward pass uses the batch's statistics
}

}  // namespace
