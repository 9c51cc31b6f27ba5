// The GPU training path, tested where it can be: on CPU. The device-resident dataset (uint8 on the
// device, converted per batch there) computes what the host prefetcher computes; bf16 autocast
// trains on CPU; the compatibility header switches autocast on both LibTorch versions; device
// names are parsed strictly; precision and placement are recorded.
#include <cmath>
#include <string>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/error.hpp"
#include "data/dataset.hpp"
#include "data/preprocess.hpp"
#include "data/synth.hpp"
#include "support/test_support.hpp"
#include "train/device_data.hpp"
#include "train/engine.hpp"
#include "train/torch_compat.hpp"

namespace {

using json = nlohmann::json;
using pepr::train::TrainConfig;

pepr::data::ImageSet images(int64_t n, int64_t h, int64_t w, int64_t c, uint64_t seed) {
  pepr::data::ImageSet s;
  s.n = n;
  s.h = h;
  s.w = w;
  s.c = c;
  s.pixels.resize(static_cast<std::size_t>(n * h * w * c));
  uint64_t x = seed * 2654435761u + 1;
  for (auto& p : s.pixels) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    p = static_cast<std::uint8_t>(x >> 56);
  }
  for (int64_t i = 0; i < n; ++i) s.labels.push_back(i % 3);
  return s;
}

// The device path against data::fill_batch, for every conversion the host path makes.
TEST(DeviceImages, SameFloatsAsTheHostPreprocessing) {
  struct Case {
    int64_t c, in_chans, out;
    bool normalize;
  };
  for (const Case k :
       {Case{1, 3, 0, false}, Case{1, 1, 0, true}, Case{3, 1, 0, false}, Case{3, 3, 0, true},
        Case{1, 3, 64, false}, Case{3, 3, 20, true}, Case{3, 1, 57, true}}) {
    const auto set = images(7, 28, 28, k.c, static_cast<uint64_t>(k.c * 100 + k.out));
    pepr::data::Preprocess pre;
    pre.in_chans = k.in_chans;
    pre.out_h = pre.out_w = k.out;
    pre.normalize = k.normalize;
    const std::vector<int64_t> idx{6, 0, 3, 3, 5};
    std::vector<float> host(static_cast<std::size_t>(5 * pre.sample_floats(set)));
    std::vector<int64_t> labels(5);
    pepr::data::fill_batch(set, idx.data(), 5, pre, host.data(), labels.data());
    const int64_t H = pre.height(set), W = pre.width(set);
    auto expected = torch::from_blob(host.data(), {5, k.in_chans, H, W}, torch::kFloat32);

    pepr::train::DeviceImages dev(set, pre, torch::kCPU);
    auto t_idx = torch::tensor(idx, torch::kInt64);
    for (bool cl : {false, true}) {
      auto got = dev.images(t_idx, cl);
      ASSERT_EQ(got.sizes(), expected.sizes());
      EXPECT_TRUE(
          got.is_contiguous(cl ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous));
      const double diff = (got - expected).abs().max().item<double>();
      EXPECT_LT(diff, 2e-5) << "channels " << k.c << " -> " << k.in_chans << ", size " << k.out
                            << ", normalize " << k.normalize;
    }
    auto y = dev.labels(t_idx);
    for (int i = 0; i < 5; ++i)
      EXPECT_EQ(y[i].item<int64_t>(), labels[static_cast<std::size_t>(i)]);
  }
}

TEST(TorchCompat, AutocastOnCpuCastsMatmulsToBf16AndOffAgain) {
  auto a = torch::randn({4, 4}), b = torch::randn({4, 4});
  pepr::train::compat::set_autocast(c10::DeviceType::CPU, true, c10::ScalarType::BFloat16);
  EXPECT_TRUE(pepr::train::compat::autocast_enabled(c10::DeviceType::CPU));
  EXPECT_EQ(torch::mm(a, b).scalar_type(), c10::ScalarType::BFloat16);
  pepr::train::compat::set_autocast(c10::DeviceType::CPU, false, c10::ScalarType::Float);
  EXPECT_FALSE(pepr::train::compat::autocast_enabled(c10::DeviceType::CPU));
  EXPECT_EQ(torch::mm(a, b).scalar_type(), c10::ScalarType::Float);
}

TEST(TorchCompat, CudaQueriesAnswerNothingWithoutAGpu) {
  if (torch::cuda::is_available()) GTEST_SKIP() << "a GPU is visible";
  EXPECT_FALSE(pepr::train::compat::cuda_info(0).has_value());
  EXPECT_FALSE(pepr::train::compat::cuda_memory_peaks(0).has_value());
  EXPECT_FALSE(pepr::train::compat::cuda_memory_info(0).has_value());
}

TEST(Device, ParsedStrictly) {
  EXPECT_FALSE(pepr::train::parse_device("cpu").cuda);
  EXPECT_TRUE(pepr::train::parse_device("cuda").cuda);
  EXPECT_EQ(pepr::train::parse_device("cuda").index, -1);
  EXPECT_EQ(pepr::train::parse_device("cuda:3").index, 3);
  for (const char* bad :
       {"gpu", "cuda:", "cuda:x", "cuda:-1", "cuda:99999999999", "CUDA", "cuda1", ""}) {
    EXPECT_THROW(pepr::train::parse_device(bad), pepr::Error) << bad;
  }
}

std::string synth_file(const pepr::test::TempDir& dir, int64_t train) {
  pepr::data::SynthOptions o;
  o.train = train;
  o.val = 48;
  o.test = 48;
  o.seed = 5;
  std::string path = (dir / "synth.npz").string();
  pepr::data::save_npz_dataset(pepr::data::make_synthetic(o), path);
  return path;
}

TrainConfig config(const std::string& data) {
  TrainConfig c;
  c.model = "mobilenetv2_050";
  c.data = data;
  c.threads = 1;
  c.epochs = 2;
  c.eval_batch_size = 8;  // several evaluation batches: each keeps its own labels
  c.meter.interval_s = 0.05;
  return c;
}

// The device-resident path (here with device = cpu) trains the same model on the same batches as
// the host prefetcher: the same losses and accuracies, up to float rounding.
TEST(TrainPlacement, DeviceResidentDataTrainsLikeTheHostPath) {
  pepr::test::TempDir dir;
  TrainConfig c = config(synth_file(dir, 160));
  c.data_placement = pepr::run::DataPlacement::host;
  json host = pepr::train::train_run(c);
  c.data_placement = pepr::run::DataPlacement::device;
  json dev = pepr::train::train_run(c);
  ASSERT_EQ(host["status"], "completed") << host["error"].dump();
  ASSERT_EQ(dev["status"], "completed") << dev["error"].dump();
  EXPECT_EQ(host["data"]["placement"], "host");
  EXPECT_EQ(dev["data"]["placement"], "device");
  for (std::size_t e = 0; e < 2; ++e) {
    const auto& a = host["epochs"][e];
    const auto& b = dev["epochs"][e];
    EXPECT_NEAR(a["train_loss"].get<double>(), b["train_loss"].get<double>(), 1e-3);
    EXPECT_NEAR(a["test_loss"].get<double>(), b["test_loss"].get<double>(), 1e-3);
    EXPECT_NEAR(a["test_acc"].get<double>(), b["test_acc"].get<double>(), 1.0 / 48 + 1e-9);
  }
  // On CPU, auto keeps the prefetcher (nothing to gain), and says why.
  c.data_placement = pepr::run::DataPlacement::automatic;
  c.epochs = 1;
  json a = pepr::train::train_run(c);
  EXPECT_EQ(a["data"]["placement"], "host");
  EXPECT_NE(a["data"]["placement_reason"].get<std::string>().find("CPU"), std::string::npos);
}

// Label `train` (about 7 s): two short runs, bf16 and fp32, since only their losses side by side
// show that autocast took effect; bf16 matrix products on a CPU without native bf16 are slow.
TEST(TrainPrecision, Bf16AutocastTrainsOnCpuAndIsRecorded) {
  pepr::test::TempDir dir;
  TrainConfig c = config(synth_file(dir, 160));
  // ghostnet: LibTorch 1.13's CPU lacks some bf16 backward kernels (ReLU6 of MobileNetV2).
  c.model = "ghostnet_100";
  c.precision = pepr::run::Precision::bf16;
  json rec = pepr::train::train_run(c);
  ASSERT_EQ(rec["status"], "completed") << rec["error"].dump();
  EXPECT_EQ(rec["config"]["precision"], "bf16");
  for (const auto& e : rec["epochs"]) EXPECT_TRUE(std::isfinite(e["train_loss"].get<double>()));
  // bf16 rounds the matrix products: not the fp32 run's losses.
  c.precision = pepr::run::Precision::fp32;
  json fp32 = pepr::train::train_run(c);
  EXPECT_NE(rec["epochs"][0]["train_loss"], fp32["epochs"][0]["train_loss"]);
  EXPECT_FALSE(pepr::train::compat::autocast_enabled(c10::DeviceType::CPU));  // switched off
}

TEST(TrainPrecision, Fp16NeedsAGpuAndBadValuesAreErrors) {
  pepr::test::TempDir dir;
  TrainConfig c = config(synth_file(dir, 32));
  c.precision = pepr::run::Precision::fp16;
  try {
    pepr::train::train_run(c);
    ADD_FAILURE() << "fp16 on CPU trained";
  } catch (const pepr::Error& e) {
    EXPECT_NE(std::string(e.what()).find("fp16 needs a CUDA device"), std::string::npos);
  }
  // Names that are no mode are refused where they are read (run/config.cpp; tests/run/ checks
  // the messages): a TrainConfig can no longer hold one.
  EXPECT_THROW(pepr::run::from_args({"--precision", "fp8"}), pepr::Error);
  c.precision = pepr::run::Precision::fp32;
  EXPECT_THROW(pepr::run::from_args({"--data-placement", "gpu"}), pepr::Error);
  c.data_placement = pepr::run::DataPlacement::automatic;
  if (!torch::cuda::is_available()) {
    c.device = "cuda:0";
    try {
      pepr::train::train_run(c);
      ADD_FAILURE() << "cuda without a GPU trained";
    } catch (const pepr::Error& e) {
      // Which of the two is missing: CUDA in this LibTorch, or a visible GPU. A CUDA LibTorch
      // run without a GPU (scripts/check-cuda-build.sh) must say the GPU, not the build.
      const std::string what = e.what();
#ifdef PEPR_TEST_LIBTORCH_CUDA
      EXPECT_NE(what.find("with CUDA: no GPU visible (check nvidia-smi"), std::string::npos)
          << what;
#else
      EXPECT_NE(what.find("CPU only (built without CUDA); build pepr against a CUDA LibTorch"),
                std::string::npos)
          << what;
#endif
    }
  }
}

TEST(TrainDeterministic, RecordedAndRepeatable) {
  pepr::test::TempDir dir;
  TrainConfig c = config(synth_file(dir, 96));
  c.deterministic = true;
  c.threads = 2;
  json a = pepr::train::train_run(c);
  json b = pepr::train::train_run(c);
  ASSERT_EQ(a["status"], "completed") << a["error"];
  EXPECT_EQ(a["config"]["deterministic"], true);
  EXPECT_EQ(a["config"]["cudnn_benchmark"], false);
  EXPECT_EQ(a["epochs"][1]["train_loss"], b["epochs"][1]["train_loss"]);
  EXPECT_EQ(a["epochs"][1]["test_loss"], b["epochs"][1]["test_loss"]);
  // The environment names the LibTorch and what it can do.
  EXPECT_EQ(a["environment"]["libtorch"], pepr::train::libtorch_version());
  EXPECT_EQ(a["environment"]["device"], "cpu");
  EXPECT_TRUE(a["environment"].contains("cuda_runtime"));
  EXPECT_TRUE(a["environment"].contains("cudnn"));
  at::globalContext().setDeterministicAlgorithms(false, false);
}

}  // namespace
