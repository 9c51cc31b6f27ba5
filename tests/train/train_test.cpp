// The training engine end to end on small synthetic data: it learns, it is deterministic on CPU,
// it meters every epoch, it records failures and interruptions, and it trains TorchScript models.
#include <dlfcn.h>

#include <atomic>
#include <cmath>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>
#include <torch/script.h>
#include <torch/torch.h>

#include "core/error.hpp"
#include "data/dataset.hpp"
#include "data/synth.hpp"
#include "models/pretrained.hpp"
#include "models/registry.hpp"
#include "support/test_support.hpp"
#include "train/engine.hpp"

namespace {

using json = nlohmann::json;
using pepr::train::TrainConfig;

// A 4-class, 28 px synthetic dataset written as a MedMNIST-style .npz.
std::string synth_file(const pepr::test::TempDir& dir, int64_t train = 800) {
  pepr::data::SynthOptions o;
  o.train = train;
  o.seed = 3;
  std::string path = (dir / "synth.npz").string();
  pepr::data::save_npz_dataset(pepr::data::make_synthetic(o), path);
  return path;
}

// The message of the pepr::Error a run throws for bad input, or "(no error)".
std::string error_of(const TrainConfig& c) {
  try {
    pepr::train::train_run(c);
  } catch (const pepr::Error& e) {
    return std::string(e.what());
  }
  return std::string("(no error)");
}

TrainConfig small_config(const std::string& data, const std::string& model) {
  TrainConfig c;
  c.model = model;
  c.data = data;
  c.threads = 2;
  c.seed = 0;
  c.meter.interval_s = 0.05;
  return c;
}

// --image-size auto (the default): a model that needs more than the data's 28 px trains on the
// images upsampled to the smallest size it accepts, and the record says which; a model that
// accepts 28 px sees the data as stored.
TEST(Train, AutoImageSizeUpsamplesOnlyForModelsThatNeedIt) {
  pepr::test::TempDir dir;
  pepr::data::SynthOptions o;  // 28 px
  o.train = 32, o.val = 16, o.test = 16;
  const std::string data = (dir / "tiny.npz").string();
  pepr::data::save_npz_dataset(pepr::data::make_synthetic(o), data);
  TrainConfig c = small_config(data, "dla46_c");  // at least 32 px (1.3M parameters: cheap)
  c.epochs = 1;
  ASSERT_TRUE(c.image_size.is_auto());  // the default
  json rec = pepr::train::train_run(c);
  EXPECT_EQ(rec["status"], "completed") << rec.dump();
  EXPECT_EQ(rec["config"]["image_size"], 32);
  c.model = "mobilenetv2_050";
  rec = pepr::train::train_run(c);
  EXPECT_EQ(rec["status"], "completed") << rec.dump();
  EXPECT_EQ(rec["config"]["image_size"], 28);
}

// Label `train` (about 15 s on 2 cores): learning is shown only by training for real, three
// epochs of 800 images, the least that takes resnet18 well above chance every time.
TEST(Train, Resnet18LearnsSyntheticDataWellAboveChance) {
  pepr::test::TempDir dir;
  TrainConfig c = small_config(synth_file(dir), "resnet18");
  c.epochs = 3;
  json rec = pepr::train::train_run(c);
  ASSERT_EQ(rec["status"], "completed") << rec["error"];
  ASSERT_EQ(rec["epochs"].size(), 3u);
  const auto& first = rec["epochs"][0];
  const auto& last = rec["epochs"][2];
  // Four balanced classes: chance is 0.25. A loop that does not learn stays near it.
  EXPECT_GT(last["test_acc"].get<double>(), 0.6) << rec["epochs"].dump();
  EXPECT_GT(last["val_acc"].get<double>(), 0.6);
  EXPECT_LT(last["train_loss"].get<double>(), first["train_loss"].get<double>());
  EXPECT_GT(last["test_auc"].get<double>(), 0.8);
  // Every epoch is metered, and the totals add up.
  double energy = 0;
  for (const auto& e : rec["epochs"]) {
    EXPECT_GT(e["energy_kwh"].get<double>(), 0);
    EXPECT_GT(e["time_s"].get<double>(), 0);
    EXPECT_GT(e["mem_peak_gb"].get<double>(), 0);
    EXPECT_GE(e["co2_g"].get<double>(), 0);
    energy += e["energy_kwh"].get<double>();
  }
  EXPECT_NEAR(rec["totals"]["energy_kwh"].get<double>(), energy, 0.05 * energy);
  EXPECT_EQ(rec["model"]["params"], 11178564);       // 4 classes
  EXPECT_EQ(rec["model"]["params_1000"], 11689512);  // timm's resnet18
  EXPECT_EQ(rec["model"]["type"], "CNN");            // the model space's classes, for collect
  EXPECT_EQ(rec["model"]["efficient"], 0);
  EXPECT_EQ(rec["data"]["train_samples"], 800);
  EXPECT_EQ(rec["config"]["lr"], 5e-4);  // the paper's default
  EXPECT_EQ(rec["config"]["optimizer"], "adam");
  EXPECT_EQ(rec["config"]["batch_size"], 32);
  EXPECT_TRUE(rec["budget"].contains("energy_error"));
  // The record names the file that provides sgemm_ in this process (nothing when none does).
  const std::string blas = rec["environment"]["blas"].get<std::string>();
  void* sgemm = ::dlsym(RTLD_DEFAULT, "sgemm_");
  Dl_info info{};
  if (sgemm == nullptr || ::dladdr(sgemm, &info) == 0 || info.dli_fname == nullptr) {
    EXPECT_EQ(blas, "") << rec["environment"].dump();
  } else {
    // Debian's: .../libblas.so.3 (OpenBLAS or the reference); PyPI's: libtorch_cpu.so itself.
    EXPECT_EQ(blas, std::filesystem::canonical(info.dli_fname).string());
    EXPECT_TRUE(std::filesystem::is_regular_file(blas)) << blas;
  }
}

TEST(Train, DeterministicOnCpuForOneSeed) {
  pepr::test::TempDir dir;
  TrainConfig c = small_config(synth_file(dir, 160), "mobilenetv2_050");
  c.epochs = 1;
  json a = pepr::train::train_run(c);
  json b = pepr::train::train_run(c);
  ASSERT_EQ(a["status"], "completed");
  EXPECT_EQ(a["epochs"][0]["train_loss"], b["epochs"][0]["train_loss"]);
  EXPECT_EQ(a["epochs"][0]["test_loss"], b["epochs"][0]["test_loss"]);
  c.seed = 1;
  json other = pepr::train::train_run(c);
  EXPECT_NE(a["epochs"][0]["train_loss"], other["epochs"][0]["train_loss"]);
}

// A run stopped after epoch 1 with a checkpoint (a sweep's probe) and continued from it trains
// exactly what the uninterrupted run trains: the same losses bit for bit, epoch 1 not trained
// again, and a record whose epochs and totals are the whole run's.
TEST(Train, ARunContinuedFromItsCheckpointIsTheUninterruptedRun) {
  pepr::test::TempDir dir;
  TrainConfig c = small_config(synth_file(dir, 96), "mobilenetv2_050");
  c.epochs = 3;
  const json whole = pepr::train::train_run(c);
  ASSERT_EQ(whole["status"], "completed") << whole["error"];

  const std::string ckpt = (dir / "run.ckpt").string();
  TrainConfig probe = c;
  probe.stop_after_epochs = 1;
  probe.save_checkpoint = ckpt;
  const json first = pepr::train::train_run(probe);
  ASSERT_EQ(first["status"], "stopped");
  ASSERT_EQ(first["epochs"].size(), 1u);
  EXPECT_EQ(first["checkpoint"]["saved"], true) << first["checkpoint"];
  EXPECT_EQ(first["checkpoint"]["epochs"], 1);
  ASSERT_TRUE(std::filesystem::is_regular_file(ckpt));

  TrainConfig rest = c;
  rest.resume_from = ckpt;
  const json cont = pepr::train::train_run(rest);
  ASSERT_EQ(cont["status"], "completed") << cont["error"];
  ASSERT_EQ(cont["epochs"].size(), 3u);
  for (std::size_t k = 0; k < 3; ++k) {
    EXPECT_EQ(cont["epochs"][k]["epoch"], k + 1);
    EXPECT_EQ(cont["epochs"][k]["train_loss"], whole["epochs"][k]["train_loss"]) << k;
    EXPECT_EQ(cont["epochs"][k]["test_loss"], whole["epochs"][k]["test_loss"]) << k;
  }
  // Epoch 1 is the probe's own line, its energy in the continued run's totals.
  EXPECT_EQ(cont["epochs"][0]["energy_kwh"], first["epochs"][0]["energy_kwh"]);
  EXPECT_EQ(cont["resumed"]["epochs"], 1);
  EXPECT_EQ(cont["resumed"]["energy_kwh"], first["totals"]["energy_kwh"]);
  double sum = 0;
  for (const auto& e : cont["epochs"]) sum += e["energy_kwh"].get<double>();
  EXPECT_NEAR(cont["totals"]["energy_kwh"].get<double>(), sum, 1e-3 * sum);
  EXPECT_GT(cont["totals"]["time_s"].get<double>(), first["totals"]["time_s"].get<double>());
  EXPECT_EQ(cont["budget"]["predicted_energy_kwh"], first["budget"]["predicted_energy_kwh"]);

  // Another run's options, another model, a file that is no checkpoint: each a clear error.
  const auto message = error_of;
  TrainConfig other = rest;
  other.lr = 1e-3;
  EXPECT_NE(message(other).find("a checkpoint of another run (lr 0.0005 (checkpoint) vs 0.001)"),
            std::string::npos)
      << message(other);
  other = rest;
  other.model = "resnet14t";
  EXPECT_NE(message(other).find("a checkpoint of another model"), std::string::npos)
      << message(other);
  const std::string junk = (dir / "junk.ckpt").string();
  pepr::test::write_file(junk, "not a checkpoint");
  other = rest;
  other.resume_from = junk;
  EXPECT_NE(message(other).find("junk.ckpt: not a pepr checkpoint"), std::string::npos)
      << message(other);
}

TEST(Train, TrainFractionIsAStratifiedSubsetAndRecorded) {
  pepr::test::TempDir dir;
  TrainConfig c = small_config(synth_file(dir), "mobilenetv2_050");
  c.epochs = 1;
  c.train_fraction = 0.1;
  json rec = pepr::train::train_run(c);
  ASSERT_EQ(rec["status"], "completed");
  EXPECT_EQ(rec["data"]["train_samples"], 80);  // 10 % of 200 per class, 4 classes
  EXPECT_EQ(rec["totals"]["train_samples"], 80);
  EXPECT_EQ(rec["config"]["train_fraction"], 0.1);
}

// A scripted module built here (no Python needed): conv -> global pool -> linear.
std::string save_scripted_cnn(const pepr::test::TempDir& dir, bool nan_output) {
  torch::jit::Module m("TinyCnn");
  torch::manual_seed(0);
  auto param = [&](const char* name, torch::Tensor t) {
    m.register_parameter(name, t.requires_grad_(true), /*is_buffer=*/false);
  };
  param("conv_w", torch::randn({8, 3, 3, 3}) * 0.2);
  param("conv_b", torch::zeros({8}));
  param("fc_w", torch::randn({4, 8}) * 0.2);
  param("fc_b", torch::zeros({4}));
  m.define(std::string(R"JIT(
def forward(self, x):
    y = torch.relu(torch.conv2d(x, self.conv_w, self.conv_b, [1, 1], [1, 1]))
    y = torch.mean(y, [2, 3])
    return torch.linear(y, self.fc_w, self.fc_b))JIT") +
           (nan_output ? " * float('nan')\n" : "\n"));
  std::string path = (dir / (nan_output ? "nan.pt" : "tiny.pt")).string();
  m.save(path);
  return path;
}

TEST(Train, TorchScriptModelIsFineTunedLikeANativeOne) {
  pepr::test::TempDir dir;
  TrainConfig c = small_config(synth_file(dir, 160), save_scripted_cnn(dir, false));
  c.epochs = 2;
  c.lr = 1e-2;
  json rec = pepr::train::train_run(c);
  ASSERT_EQ(rec["status"], "completed") << rec["error"];
  EXPECT_EQ(rec["model"]["native"], false);
  EXPECT_EQ(rec["model"]["params"], 8 * 27 + 8 + 4 * 8 + 4);
  EXPECT_EQ(rec["epochs"].size(), 2u);
  EXPECT_LT(rec["epochs"][1]["train_loss"].get<double>(),
            rec["epochs"][0]["train_loss"].get<double>());
}

TEST(Train, NanLossIsRecordedAsFailed) {
  pepr::test::TempDir dir;
  TrainConfig c = small_config(synth_file(dir, 64), save_scripted_cnn(dir, true));
  c.epochs = 2;
  json rec = pepr::train::train_run(c);
  EXPECT_EQ(rec["status"], "failed");
  EXPECT_NE(rec["error"].get<std::string>().find("training diverged"), std::string::npos)
      << rec["error"];
  EXPECT_TRUE(rec["epochs"].empty());
  EXPECT_TRUE(rec.contains("totals"));  // resources spent before the failure are kept
}

TEST(Train, InterruptStopsAfterTheCurrentStep) {
  pepr::test::TempDir dir;
  TrainConfig c = small_config(synth_file(dir, 160), "mobilenetv2_050");
  c.epochs = 3;
  std::atomic<bool> stop{true};
  int steps = 0;
  json rec = pepr::train::train_run(
      c,
      [&](const pepr::train::Progress& p) { steps += p.kind == pepr::train::Progress::Kind::Step; },
      &stop);
  EXPECT_EQ(rec["status"], "interrupted");
  EXPECT_EQ(steps, 1);
  EXPECT_TRUE(rec["epochs"].empty());
}

TEST(Train, PretrainedWeightsAreLoadedAdaptedAndRecorded) {
  pepr::test::TempDir dir;
  torch::manual_seed(9);
  const auto weights = (dir / "mnv2.safetensors").string();
  pepr::models::save_safetensors(*pepr::models::create_model("mobilenetv2_050", {}), weights);
  TrainConfig c = small_config(synth_file(dir, 64), "mobilenetv2_050");
  c.epochs = 1;
  c.in_chans = 1;
  c.weights = weights;
  json rec = pepr::train::train_run(c);
  ASSERT_EQ(rec["status"], "completed") << rec["error"];
  EXPECT_EQ(rec["config"]["pretrained"], true);
  EXPECT_EQ(rec["config"]["weights"], weights);
  EXPECT_EQ(rec["weights"]["classifier_reinitialised"],
            json({"classifier.bias", "classifier.weight"}));
  EXPECT_EQ(rec["weights"]["stem_rgb_summed"], json({"conv_stem.weight"}));
  // Weights of another architecture: a clear error before any training.
  c.model = "resnet18";
  EXPECT_THROW(pepr::train::train_run(c), pepr::Error);
}

// The memory check (train/memory_probe.hpp) runs a training step and an evaluation pass before
// the run: it must leave nothing behind. ghostnet_100 has BatchNorm (statistics a step updates)
// and dropout before its classifier (draws from the generator): the run with the check is the
// run without it, bit for bit, and only it records the check.
TEST(Train, TheMemoryCheckLeavesTheRunAsItWas) {
  pepr::test::TempDir dir;
  pepr::data::SynthOptions o;
  o.train = 64, o.val = 48, o.test = 48;
  const std::string data = (dir / "small.npz").string();
  pepr::data::save_npz_dataset(pepr::data::make_synthetic(o), data);
  TrainConfig c = small_config(data, "ghostnet_100");
  c.epochs = 2;
  ASSERT_FALSE(c.no_memory_check);  // the default
  json checked = pepr::train::train_run(c);
  c.no_memory_check = true;
  json plain = pepr::train::train_run(c);
  ASSERT_EQ(checked["status"], "completed") << checked.dump();
  for (int e = 0; e < 2; ++e)
    for (const char* k : {"train_loss", "train_acc", "val_loss", "test_loss", "test_acc"})
      EXPECT_EQ(checked["epochs"][e][k], plain["epochs"][e][k]) << k << " of epoch " << e + 1;
  const json& m = checked["environment"]["memory_check"];
  ASSERT_TRUE(m.is_object()) << checked["environment"].dump();
  EXPECT_TRUE(m["train_fits"].get<bool>());
  EXPECT_GT(m["train_need_gb"].get<double>(), 0);
  EXPECT_EQ(m["eval_batch_size"], 48);  // 256 asked; the splits have 48 images
  EXPECT_FALSE(plain["environment"].contains("memory_check"));
}

// A run that cannot fit is refused before it trains, with the fix. (Evaluation's lowered batch is
// tested on the plan, tests/meter/memory_fit_test.cpp: a small model's evaluation peak is within
// the probe's noise, so no limit between training's and evaluation's need is reliable here.)
TEST(Train, MemoryTooSmallRefusesTrainingBeforeItStarts) {
  pepr::test::TempDir dir;
  TrainConfig c = small_config(synth_file(dir, 64), "resnet18");
  c.epochs = 1;
  c.image_size = pepr::run::ImageSize::pixels(64);
  c.max_memory_gb = 0.001;
  const std::string refused = error_of(c);
  EXPECT_NE(refused.find("not started: training resnet18 at 64 px at batch 32"), std::string::npos)
      << refused;
  EXPECT_NE(refused.find("not even one image fits"), std::string::npos) << refused;
  EXPECT_NE(refused.find("--no-memory-check"), std::string::npos) << refused;
}

TEST(Train, BadInputIsAClearError) {
  pepr::test::TempDir dir;
  const std::string data = synth_file(dir, 64);
  const auto message = error_of;
  TrainConfig c = small_config(data, "no_such_net");
  EXPECT_NE(message(c).find("no_such_net"), std::string::npos);
  c = small_config(data, "vgg11");                 // five 2x2 pools: needs 32 px
  c.image_size = pepr::run::ImageSize::pixels(0);  // as stored (28 px), not auto
  EXPECT_NE(message(c).find("--image-size 32"), std::string::npos) << message(c);
  c.image_size = pepr::run::ImageSize::pixels(30);
  EXPECT_NE(message(c).find("vgg11 needs inputs of at least 32x32 pixels; --image-size 30 is "
                            "smaller: use --image-size 32 or --image-size auto"),
            std::string::npos)
      << message(c);
  c = small_config(data, "crossvit_9_240");  // position embeddings fix 240 px
  c.image_size = pepr::run::ImageSize::pixels(224);
  EXPECT_NE(message(c).find("crossvit_9_240 needs inputs of exactly 240x240 pixels; "
                            "--image-size 224 is another size: use --image-size 240"),
            std::string::npos)
      << message(c);
  c = small_config(data, "resnet18");
  c.epochs = 0;
  // The library speaks of its configuration, not of the CLI's flags.
  EXPECT_NE(message(c).find("epochs must be at least 1 (got 0)"), std::string::npos) << message(c);
  c.epochs = 1;
  c.train_fraction = 1.5;
  EXPECT_NE(message(c).find("train fraction must lie in (0, 1] (got 1.5)"), std::string::npos)
      << message(c);
  c = small_config((dir / "missing.npz").string(), "resnet18");
  EXPECT_NE(message(c).find("missing.npz"), std::string::npos);
}

}  // namespace
