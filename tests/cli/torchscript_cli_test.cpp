// The documented path for architectures pepr lacks (docs/torchscript.md): export with Python,
// fine-tune and meter with pepr train. Needs /usr/bin/python3 with torch and torchvision
// (Debian's python3-torch, python3-torchvision); skips with a message otherwise.
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/test_support.hpp"

namespace {

namespace fs = std::filesystem;

// Label `train` (about 10 s): Python starts torch and torchvision to export the model, then
// pepr train fine-tunes it; the path a user takes, end to end.
TEST(TorchScriptCli, ExportedTorchvisionModelTrainsWithPeprTrain) {
  auto probe = pepr::test::run({"/usr/bin/python3", "-c", "import torch, torchvision"});
  if (probe.exit_code != 0)
    GTEST_SKIP() << "needs /usr/bin/python3 with torch and torchvision (Debian python3-torch, "
                    "python3-torchvision): "
                 << probe.err;
  if (pepr::test::run_pepr({"train", "--help"}).exit_code != 0)
    GTEST_SKIP() << "this pepr was built without LibTorch";
  pepr::test::TempDir dir;
  const auto pt = (dir / "mnv2.pt").string();
  auto exp = pepr::test::run(
      {"/usr/bin/python3", (pepr::test::source_dir() / "scripts/export_torchscript.py").string(),
       "mobilenet_v2", "--torchvision", "--no-pretrained", "--num-classes", "3", "-o", pt});
  ASSERT_EQ(exp.exit_code, 0) << exp.err;
  ASSERT_TRUE(fs::exists(pt));
  const auto data = (dir / "synth.npz").string();
  ASSERT_EQ(pepr::test::run_pepr({"data", "synth", "-o", data, "--classes", "3", "--train", "96",
                                  "--val", "48", "--test", "48"})
                .exit_code,
            0);
  const auto rec_path = (dir / "run.json").string();
  auto tr = pepr::test::run_pepr(
      {"train", "-m", pt, "-d", data, "-e", "2", "--threads", "2", "-q", "-o", rec_path});
  ASSERT_EQ(tr.exit_code, 0) << tr.err;
  auto rec = nlohmann::json::parse(pepr::test::read_file(rec_path));
  EXPECT_EQ(rec["status"], "completed");
  EXPECT_EQ(rec["model"]["native"], false);
  EXPECT_EQ(rec["model"]["params"], 2227715);  // torchvision mobilenet_v2 with a 3-class head
  EXPECT_EQ(rec["epochs"].size(), 2u);
  EXPECT_GT(rec["totals"]["energy_kwh"].get<double>(), 0);

  // A file whose head does not match the data is a clear error, not a crash.
  auto wrong = pepr::test::run_pepr({"data", "synth", "-o", (dir / "s4.npz").string(), "--classes",
                                     "4", "--train", "32", "--val", "8", "--test", "8"});
  ASSERT_EQ(wrong.exit_code, 0);
  auto bad =
      pepr::test::run_pepr({"train", "-m", pt, "-d", (dir / "s4.npz").string(), "-e", "1", "-q"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("export it with --num-classes 4"), std::string::npos) << bad.err;
  EXPECT_NE(pepr::test::run_pepr({"train", "-m", pt, "-d", data, "--pretrained", "-q"})
                .err.find("carries its own weights"),
            std::string::npos);
}

}  // namespace
