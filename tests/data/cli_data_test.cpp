// `pepr data synth | info | list` through the binary (offline).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "data/dataset.hpp"
#include "support/test_support.hpp"

using pepr::test::run_pepr;

TEST(DataCli, SynthThenInfo) {
  pepr::test::TempDir d;
  std::string p = (d / "s.npz").string();
  auto r = run_pepr({"data", "synth", "-o", p, "--classes", "3", "--train", "90", "--val", "30",
                     "--test", "30", "--seed", "5"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto info = run_pepr({"data", "info", p});
  ASSERT_EQ(info.exit_code, 0) << info.err;
  EXPECT_NE(info.out.find("3 classes"), std::string::npos) << info.out;
  EXPECT_NE(info.out.find("split  images  image_shape  image_dtype  label_shape  label_dtype  "
                          "class_counts\n"),
            std::string::npos)
      << info.out;
  EXPECT_NE(info.out.find("train      90  90x28x28     |u1          90x1         |u1          "
                          "0:30 1:30 2:30\n"),
            std::string::npos)
      << info.out;
  auto js = run_pepr({"data", "info", p, "--format", "json"});
  ASSERT_EQ(js.exit_code, 0) << js.err;
  auto j = nlohmann::json::parse(js.out);
  EXPECT_EQ(j["num_classes"], 3);
  EXPECT_EQ(j["splits"]["val"]["n"], 30);
  EXPECT_EQ(j["splits"]["test"]["class_counts"], nlohmann::json::array({10, 10, 10}));
  EXPECT_EQ(j["splits"]["train"]["image_shape"], nlohmann::json::array({90, 28, 28}));
  // Same seed, same bytes.
  std::string p2 = (d / "s2.npz").string();
  run_pepr({"data", "synth", "-o", p2, "--classes", "3", "--train", "90", "--val", "30", "--test",
            "30", "--seed", "5"});
  EXPECT_EQ(pepr::test::read_file(p), pepr::test::read_file(p2));
  auto rgb = run_pepr({"data", "synth", "-o", (d / "rgb.npz").string(), "--channels", "3", "--size",
                       "64", "--stored"});
  ASSERT_EQ(rgb.exit_code, 0) << rgb.err;
  pepr::data::Dataset ds = pepr::data::load_npz_dataset((d / "rgb.npz").string());
  EXPECT_EQ(ds.train.c, 3);
  EXPECT_EQ(ds.train.h, 64);
  EXPECT_EQ(ds.train.n, 800);
}

TEST(DataCli, InfoErrorsNameTheFile) {
  pepr::test::TempDir d;
  std::string p = (d / "bad.npz").string();
  pepr::test::write_file(p, "this is not a zip file at all");
  auto r = run_pepr({"data", "info", p});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("pepr: error: " + p + ": not a valid zip/.npz archive"), std::string::npos)
      << r.err;
  auto missing = run_pepr({"data", "info", (d / "nope.npz").string()});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("no such file or folder"), std::string::npos) << missing.err;
}

TEST(DataCli, ListShowsTheCatalogue) {
  pepr::test::TempDir home;
  ::setenv("PEPR_HOME", home.path().c_str(), 1);
  auto r = run_pepr({"data", "list"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* n :
       {"pathmnist", "chestmnist", "dermamnist", "octmnist", "pneumoniamnist", "retinamnist",
        "breastmnist", "bloodmnist", "tissuemnist", "organamnist", "organcmnist", "organsmnist"}) {
    EXPECT_NE(r.out.find(n), std::string::npos) << n;
  }
  auto js = run_pepr({"data", "list", "--format", "json"});
  auto j = nlohmann::json::parse(js.out);
  ASSERT_EQ(j.size(), 12u);
  EXPECT_EQ(j[4]["name"], "pneumoniamnist");
  EXPECT_EQ(j[4]["sizes"]["28"]["md5"], "28209eda62fecd6e6a2d98b1501bb15f");
  EXPECT_EQ(j[4]["sizes"]["64"]["md5"], "8f4eceb4ccffa70c672198ea285246c6");
  EXPECT_EQ(j[0]["sizes"]["224"]["url"],
            "https://zenodo.org/records/10519652/files/pathmnist_224.npz?download=1");
  ::unsetenv("PEPR_HOME");
}

TEST(DataCli, InfoVerifiesTheCrcOfEveryMember) {
  pepr::test::TempDir d;
  std::string p = (d / "s.npz").string();
  ASSERT_EQ(run_pepr({"data", "synth", "-o", p, "--stored", "--train", "40", "--val", "10",
                      "--test", "10"})
                .exit_code,
            0);
  ASSERT_EQ(run_pepr({"data", "info", p}).exit_code, 0);
  // Damage one byte in the middle of the stored train images (past their header).
  std::string bytes = pepr::test::read_file(p);
  const std::size_t at = bytes.find("train_images.npy") + 16 + 128 + 1000;
  ASSERT_LT(at, bytes.size());
  bytes[at] = static_cast<char>(bytes[at] ^ 0x5a);
  pepr::test::write_file(p, bytes);
  auto r = run_pepr({"data", "info", p});
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.err.find("member train_images.npy: CRC-32 mismatch"), std::string::npos) << r.err;
}
