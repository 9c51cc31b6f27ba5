// Plans: parsing, errors with positions, expansion into runs with stable IDs, shards.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <set>

#include "core/error.hpp"
#include "support/test_support.hpp"
#include "sweep/default_plan.hpp"
#include "sweep/plan.hpp"

namespace sw = pepr::sweep;

namespace {

const char* kPlan = R"(
[sweep]
name = "t"
epochs = 3
lr = 5e-4
batch_size = 32
seeds = [0, 1]
train_fractions = [1.0, 0.1]
regimes = ["pretrained", "scratch"]

[models]
names = ["resnet18", "mobilenetv2_050"]

[[datasets]]
name = "derma"
file = "data/derma.npz"

[[datasets]]
pull = "pneumoniamnist"
)";

std::vector<sw::RunSpec> expand(const std::string& text, const std::string& dir = "/plans") {
  sw::Plan p = sw::parse_plan(text, "plan.toml", dir);
  return sw::expand_plan(p, "/runs", nullptr);
}

std::string error_of(const std::string& text) {
  try {
    expand(text);
  } catch (const pepr::Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(SweepPlan, ExpandsEveryCombination) {
  auto runs = expand(kPlan);
  ASSERT_EQ(runs.size(), 2u * 2 * 2 * 2 * 2);  // datasets x models x regimes x fractions x seeds
  EXPECT_EQ(runs[0].config.model, "resnet18");
  EXPECT_EQ(runs[0].config.data, "/plans/data/derma.npz");
  EXPECT_EQ(runs[0].dataset.name, "derma");
  EXPECT_TRUE(runs[0].config.pretrained);
  EXPECT_EQ(runs.back().config.data, "pneumoniamnist");
  EXPECT_EQ(runs.back().dataset.name, "pneumoniamnist");
  EXPECT_EQ(runs[0].id.rfind("resnet18-derma-pt-f1-s0-", 0), 0u) << runs[0].id;
  std::set<std::string> ids;
  for (const auto& r : runs) ids.insert(r.id);
  EXPECT_EQ(ids.size(), runs.size());
}

TEST(SweepPlan, IdsAreStableAndFollowTheConfig) {
  auto a = expand(kPlan);
  auto b = expand(kPlan, "/somewhere/else");  // the plan moved: same IDs
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i].id, b[i].id);
  std::string changed = kPlan;
  changed.replace(changed.find("lr = 5e-4"), 9, "lr = 1e-3");
  auto c = expand(changed);
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_NE(a[i].id, c[i].id);
    // Only the hash differs.
    EXPECT_EQ(a[i].id.substr(0, a[i].id.size() - 8), c[i].id.substr(0, c[i].id.size() - 8));
  }
}

// A GPU sweep: device and precision reach every run; fp32 (the default) keeps the IDs plans had
// before precision existed, another precision is another run.
TEST(SweepPlan, DeviceAndPrecision) {
  auto fp32 = expand(kPlan);
  std::string gpu = kPlan;
  gpu.replace(gpu.find("lr = 5e-4"), 9, "lr = 5e-4\ndevice = \"cuda:1\"\nprecision = \"fp32\"");
  auto g = expand(gpu);
  EXPECT_EQ(g[0].config.device, "cuda:1");
  EXPECT_EQ(g[0].config.precision, pepr::run::Precision::fp32);
  std::string bf16 = kPlan;
  bf16.replace(bf16.find("lr = 5e-4"), 9, "lr = 5e-4\nprecision = \"bf16\"");
  auto b = expand(bf16);
  EXPECT_EQ(b[0].config.precision, pepr::run::Precision::bf16);
  EXPECT_EQ(b[0].config_json()["precision"], "bf16");
  for (std::size_t i = 0; i < fp32.size(); ++i) EXPECT_NE(fp32[i].id, b[i].id);
  std::string base = "[models]\nnames = [\"a\"]\n[[datasets]]\nfile = \"x.npz\"\n";
  std::string e = error_of("[sweep]\nprecision = \"fp8\"\n" + base);
  EXPECT_EQ(e.rfind("plan.toml:2:", 0), 0u) << e;
  EXPECT_NE(e.find("'precision' must be"), std::string::npos) << e;
  e = error_of("[sweep]\ndevice = \"gpu\"\n" + base);
  EXPECT_NE(e.find("'device' must be"), std::string::npos) << e;
}

TEST(SweepPlan, ExperimentNames) {
  EXPECT_EQ(sw::experiment_name("derma", true, 1.0), "derma");
  EXPECT_EQ(sw::experiment_name("derma", true, 0.1), "derma_small");
  EXPECT_EQ(sw::experiment_name("derma", false, 1.0), "derma_scratch");
  EXPECT_EQ(sw::experiment_name("derma", false, 0.1), "derma_scratch_small");
  EXPECT_EQ(sw::experiment_name("derma", true, 0.25), "derma_f0.25");
}

TEST(SweepPlan, GarbageTomlNamesTheLine) {
  std::string e = error_of("[sweep]\nepochs = 3\nlr = = 2\n");
  EXPECT_EQ(e.rfind("plan.toml:3:", 0), 0u) << e;
}

TEST(SweepPlan, SemanticErrorsNameTheLine) {
  std::string base = "[models]\nnames = [\"a\"]\n[[datasets]]\nfile = \"x.npz\"\n";
  EXPECT_EQ(error_of("[sweep]\nepoch = 3\n" + base).rfind("plan.toml:2:", 0), 0u)
      << error_of("[sweep]\nepoch = 3\n" + base);
  EXPECT_NE(error_of("[sweep]\nepoch = 3\n" + base).find("unknown key 'epoch'"), std::string::npos);
  EXPECT_EQ(error_of("[sweep]\nepochs = \"3\"\n" + base).rfind("plan.toml:2:", 0), 0u);
  std::string frac = error_of("[sweep]\ntrain_fractions = [1.0, 1.5]\n" + base);
  EXPECT_EQ(frac.rfind("plan.toml:2:", 0), 0u) << frac;
  EXPECT_NE(frac.find("not in (0, 1]"), std::string::npos) << frac;
  EXPECT_NE(error_of("[sweep]\nregimes = [\"warm\"]\n" + base).find("regime 'warm'"),
            std::string::npos);
  EXPECT_NE(error_of("[models]\nnames = [\"a\"]\n").find("no [[datasets]]"), std::string::npos);
  EXPECT_NE(error_of("[[datasets]]\nfile = \"x.npz\"\n").find("names no models"),
            std::string::npos);
  EXPECT_NE(error_of("[models]\nnames = [\"a\"]\n[[datasets]]\nfile = \"x\"\npull = \"y\"\n")
                .find("exactly one of"),
            std::string::npos);
}

TEST(SweepPlan, FiltersNeedTheModelSpace) {
  std::string plan = "[models]\nmax_params = 5e6\n[[datasets]]\nfile = \"x.npz\"\n";
  EXPECT_NE(error_of(plan).find("model space"), std::string::npos);
  auto space = sw::parse_model_space(
      "model,num_param,type,efficient,native\nsmall,2e6,CNN,1,true\nbig,9e7,Other,0,true\n"
      "tiny,1e6,CNN,0,false\n",
      "zoo");
  sw::Plan p = sw::parse_plan(plan, "plan.toml", "/");
  auto runs = sw::expand_plan(p, "/runs", &space);
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[0].config.model, "small");
  EXPECT_EQ(runs[1].config.model, "tiny");
}

TEST(SweepPlan, NativeFilter) {
  auto space = sw::parse_model_space(
      "model,num_param,type,efficient,native\nsmall,2e6,CNN,1,true\ntiny,1e6,CNN,0,false\n", "z");
  sw::Plan p =
      sw::parse_plan("[models]\nnative = true\n[[datasets]]\nfile = \"x.npz\"\n", "plan.toml", "/");
  auto runs = sw::expand_plan(p, "/runs", &space);
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].config.model, "small");
}

TEST(SweepPlan, ShardsCoverEveryRunExactlyOnce) {
  auto runs = expand(kPlan);
  for (int n = 1; n <= 7; ++n) {
    std::map<std::string, int> seen;
    std::size_t largest = 0, smallest = runs.size();
    for (int i = 0; i < n; ++i) {
      auto shard = sw::select_shard(runs, {i, n});
      largest = std::max(largest, shard.size());
      smallest = std::min(smallest, shard.size());
      for (const auto& r : shard) ++seen[r.id];
      // Deterministic: the same shard twice.
      auto again = sw::select_shard(runs, {i, n});
      ASSERT_EQ(again.size(), shard.size());
      for (std::size_t k = 0; k < shard.size(); ++k) EXPECT_EQ(again[k].id, shard[k].id);
    }
    EXPECT_EQ(seen.size(), runs.size()) << "N = " << n;
    for (const auto& [id, count] : seen) EXPECT_EQ(count, 1) << id << " N = " << n;
    EXPECT_LE(largest - smallest, 1u) << "balanced, N = " << n;
  }
}

TEST(SweepPlan, ShardParsing) {
  auto s = sw::Shard::parse("2/5");
  EXPECT_EQ(s.index, 2);
  EXPECT_EQ(s.count, 5);
  for (const char* bad : {"5/5", "-1/3", "1", "a/b", "1/0", "1.5/3"})
    EXPECT_THROW(sw::Shard::parse(bad), pepr::Error) << bad;
}

namespace {

std::string validate_error(const std::string& text, const std::string& dir,
                           const std::vector<std::string>* known) {
  try {
    sw::validate_plan(sw::parse_plan(text, "plan.toml", dir), known);
  } catch (const pepr::Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(SweepPlan, ValidateNamesTheMistypedModelAndSuggests) {
  pepr::test::TempDir dir;
  pepr::test::write_file(dir / "toy.npz", "");
  const std::vector<std::string> known{"resnet18", "resnet50", "mobilenetv2_050"};
  const std::string plan =
      "[models]\nnames = [\"resnet18\",\n  \"mobilenetv2_05\"]\n[[datasets]]\nfile = "
      "\"toy.npz\"\n";
  EXPECT_EQ(validate_error(plan, dir.path().string(), &known),
            "plan.toml:3:3: unknown model 'mobilenetv2_05' (did you mean mobilenetv2_050?); the "
            "known models: pepr zoo list");
  // Far from every name: no suggestion, still an error.
  std::string far =
      validate_error("[models]\nnames = [\"zzzzzzzzzzzz\"]\n[[datasets]]\nfile = \"toy.npz\"\n",
                     dir.path().string(), &known);
  EXPECT_EQ(far.rfind("plan.toml:2:10: unknown model 'zzzzzzzzzzzz'", 0), 0u) << far;
  EXPECT_EQ(far.find("did you mean"), std::string::npos) << far;
  // Known names, or no model space to check against (another trainer): fine.
  EXPECT_EQ(validate_error("[models]\nnames = [\"resnet50\"]\n[[datasets]]\nfile = \"toy.npz\"\n",
                           dir.path().string(), &known),
            "");
  EXPECT_EQ(validate_error(plan, dir.path().string(), nullptr), "");
}

TEST(SweepPlan, ValidateNamesAMissingDatasetFile) {
  pepr::test::TempDir dir;
  pepr::test::write_file(dir / "toy.npz", "");
  const std::string plan =
      "[models]\nnames = [\"m\"]\n\n[[datasets]]\nfile = \"toy.npz\"\n\n[[datasets]]\nname = "
      "\"gone\"\nfile = \"data/gone.npz\"\n[[datasets]]\npull = \"pneumoniamnist\"\n";
  std::string e = validate_error(plan, dir.path().string(), nullptr);
  EXPECT_EQ(e.rfind("plan.toml:7:", 0), 0u) << e;
  EXPECT_NE(
      e.find("dataset 'gone': file " + (dir / "data" / "gone.npz").string() + " does not exist"),
      std::string::npos)
      << e;
  std::filesystem::create_directories(dir / "data");
  pepr::test::write_file(dir / "data" / "gone.npz", "");
  EXPECT_EQ(validate_error(plan, dir.path().string(), nullptr), "");
  // A TorchScript model file must exist too.
  EXPECT_NE(validate_error("[models]\nnames = [\"/no/such/model.pt\"]\n[[datasets]]\nfile = "
                           "\"toy.npz\"\n",
                           dir.path().string(), nullptr)
                .find("model file /no/such/model.pt does not exist"),
            std::string::npos);
}

// --print-plan's effective values: every key with its default filled in, as a plan that reads
// back to the same runs; what the plan leaves at pepr's default says so.
TEST(SweepPlan, EffectiveValuesFillEveryDefaultAndReadBackToTheSameRuns) {
  const std::string sparse =
      "[sweep]\nepochs = 2\ntrain_args = [\"--momentum\", \"0.5\", \"--in-chans=1\", "
      "\"--imagenet-norm\", \"--someone-elses\", \"x\"]\n[models]\nnames = [\"resnet18\"]\n"
      "[[datasets]]\nsynth = true\nsynth_args = [\"--size\", \"16\"]\n"
      "[[datasets]]\nname = \"q\\\"uote\"\nfile = \"d/x.npz\"\n";
  for (const std::string& text : {std::string(kPlan), sparse, sw::default_plan_toml()}) {
    const sw::Plan p = sw::parse_plan(text, "plan.toml", "/plans");
    const std::string eff = sw::effective_plan_toml(p);
    for (const char* key :
         {"name =", "epochs =", "lr =", "batch_size =", "optimizer =", "device =", "precision =",
          "threads =", "image_size =", "seeds =", "train_fractions =", "regimes =", "train_args =",
          "[models]", "[[datasets]]"})
      EXPECT_NE(eff.find(key), std::string::npos) << key << " in\n" << eff;
    const sw::Plan back = sw::parse_plan(eff, "effective.toml", "/plans");
    EXPECT_EQ(back.run, p.run) << eff;
    auto ids = [](const sw::Plan& plan) {
      std::vector<std::string> out;
      for (const auto& r : sw::expand_plan(plan, "/runs", nullptr)) out.push_back(r.id);
      return out;
    };
    EXPECT_EQ(ids(back), ids(p)) << eff;
  }
  const std::string eff = sw::effective_plan_toml(sw::parse_plan(sparse, "plan.toml", "/plans"));
  EXPECT_NE(eff.find("name = \"sweep\"  # default\n"), std::string::npos) << eff;
  EXPECT_NE(eff.find("epochs = 2\n"), std::string::npos) << eff;
  EXPECT_NE(eff.find("lr = 0.0005  # default\n"), std::string::npos) << eff;
  EXPECT_NE(eff.find("batch_size = 32  # default\n"), std::string::npos) << eff;
  EXPECT_NE(eff.find("optimizer = \"adam\"  # default\n"), std::string::npos) << eff;
  EXPECT_NE(eff.find("device = \"cpu\"  # default\n"), std::string::npos) << eff;
  EXPECT_NE(eff.find("precision = \"fp32\"  # default\n"), std::string::npos) << eff;
  EXPECT_NE(eff.find("threads = 0  # default: the CPUs"), std::string::npos) << eff;
  EXPECT_NE(eff.find("image_size = \"auto\"  # default: per model"), std::string::npos) << eff;
  EXPECT_NE(eff.find("seeds = [0]  # default\n"), std::string::npos) << eff;
  EXPECT_NE(eff.find("train_fractions = [1.0]  # default\n"), std::string::npos) << eff;
  EXPECT_NE(eff.find("regimes = [\"pretrained\"]  # default\n"), std::string::npos) << eff;
  EXPECT_NE(eff.find("name = \"synth\"\nsynth = true\nsynth_args = [\"--size\", \"16\"]\n"),
            std::string::npos)
      << eff;
  EXPECT_NE(eff.find("name = \"q\\\"uote\"\nfile = \"d/x.npz\"\n"), std::string::npos) << eff;

  // The options a plan has no key for, as each run gets them: train_args applied (an unknown
  // one left to the trainer), the rest at their defaults.
  std::map<std::string, std::string> other;
  for (const auto& [flag, value] :
       sw::other_train_options(sw::parse_plan(sparse, "plan.toml", "/plans")))
    other[flag] = value;
  EXPECT_EQ(other.at("--momentum"), "0.5");
  EXPECT_EQ(other.at("--in-chans"), "1");
  EXPECT_EQ(other.at("--imagenet-norm"), "true");
  EXPECT_EQ(other.at("--weight-decay"), "0");
  EXPECT_EQ(other.at("--eval-batch-size"), "256");
  EXPECT_EQ(other.at("--max-energy-wh"), "none");
  EXPECT_EQ(other.count("--epochs"), 0u);  // a plan key, shown above
  EXPECT_EQ(other.count("--someone-elses"), 0u);
}
