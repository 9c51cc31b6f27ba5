// A user's own image folder, as a person brings it (issue 31, section 2 and 4): class folders
// with no splits and images of mixed sizes; `pepr data info --image-size`, `pepr train
// --image-size` resizing them, the split pepr made in the record, the chance-level warning, the
// default record path, and `pepr data export`.
#include <filesystem>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "data/image_codec.hpp"
#include "support/test_support.hpp"

namespace {

namespace fs = std::filesystem;
using pepr::test::run;
using pepr::test::run_pepr;
using pepr::test::TempDir;

// ROOT/CLASS/NNN.png: `per_class` images of `size` px in each class, every pixel `value`.
void write_class_images(const fs::path& dir, int count, int64_t size, std::uint8_t value) {
  fs::create_directories(dir);
  const std::vector<std::uint8_t> px(static_cast<std::size_t>(size * size), value);
  for (int i = 0; i < count; ++i)
    pepr::test::write_file(dir / fmt::format("{:03}.png", i),
                           pepr::data::encode_png(px.data(), size, size, 1));
}

// Runs pepr in `dir` (the default record path is relative to the working folder).
pepr::test::RunResult pepr_in(const fs::path& dir, const std::string& args) {
  return run({"bash", "-c",
              fmt::format("cd '{}' && '{}' {}", dir.string(), pepr::test::pepr_binary(), args)});
}

TEST(OwnData, AMixedSizeFolderIsInspectedAndTrainedAtTheSizeAsked) {
  PEPR_REQUIRE_TRAIN();
  TempDir tmp;
  const fs::path root = tmp / "scans";
  write_class_images(root / "normal", 12, 8, 90);
  write_class_images(root / "pneumonia", 6, 8, 90);
  // One image of another size, as in a folder gathered by hand.
  const std::vector<std::uint8_t> big(12 * 12, 90);
  pepr::test::write_file(root / "pneumonia" / "odd.png",
                         pepr::data::encode_png(big.data(), 12, 12, 1));

  const auto refused = run_pepr({"data", "info", root.string()});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.err.find("odd.png: image is 12x12"), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("--image-size 8"), std::string::npos) << refused.err;

  const auto info = run_pepr({"data", "info", root.string(), "--image-size", "8"});
  ASSERT_EQ(info.exit_code, 0) << info.err;
  // 14 + 2 + 3: every image, the 12x12 one resized.
  EXPECT_NE(info.out.find("14x8x8x1"), std::string::npos) << info.out;
  EXPECT_NE(info.out.find("2x8x8x1"), std::string::npos) << info.out;
  EXPECT_NE(info.out.find("3x8x8x1"), std::string::npos) << info.out;
  EXPECT_NE(info.out.find("val and test split off from the 19 images"), std::string::npos)
      << info.out;

  // The advice works: pepr train --image-size 8 (no -o: the record goes to pepr-runs/).
  const auto trained =
      pepr_in(tmp.path(), fmt::format("train -m resnet18 -d '{}' --image-size 8 -e 1 --batch-size "
                                      "4 --threads 1",
                                      root.string()));
  ASSERT_EQ(trained.exit_code, 0) << trained.err;
  EXPECT_NE(trained.err.find("record         pepr-runs/resnet18_scans_"), std::string::npos)
      << trained.err;
  EXPECT_NE(trained.err.find("(the default place; -o FILE to choose)"), std::string::npos);
  std::vector<fs::path> records;
  for (const auto& e : fs::directory_iterator(tmp / "pepr-runs")) records.push_back(e.path());
  ASSERT_EQ(records.size(), 1u);
  const auto rec = nlohmann::json::parse(pepr::test::read_file(records[0]));
  const auto& data = rec.at("data");
  EXPECT_EQ(data.at("image_height"), 8);
  EXPECT_EQ(data.at("split").at("from_images"), 19);
  EXPECT_EQ(data.at("split").at("seed"), 0);
  EXPECT_EQ(data.at("split").at("splits"), nlohmann::json({"val", "test"}));
  // Test split per class: round(0.2 x 12) = 2 normal, round(0.2 x 7) = 1 pneumonia; chance is
  // the larger share.
  EXPECT_EQ(data.at("test_samples"), 3);
  EXPECT_DOUBLE_EQ(data.at("chance_accuracy").get<double>(), 2.0 / 3.0);
  // Every image is the same: the model cannot do better than chance, and is told so.
  EXPECT_NE(trained.err.find("warning: test accuracy"), std::string::npos) << trained.err;
  EXPECT_NE(trained.err.find("is at chance level (0.6667"), std::string::npos) << trained.err;

  // collect carries chance_accuracy as a column and repeats the warning.
  const auto collected =
      run_pepr({"collect", (tmp / "pepr-runs").string(), "-o", (tmp / "r.csv").string()});
  ASSERT_EQ(collected.exit_code, 0) << collected.err;
  EXPECT_NE(collected.err.find("at chance level"), std::string::npos) << collected.err;
  const std::string csv = pepr::test::read_file(tmp / "r.csv");
  EXPECT_NE(csv.substr(0, csv.find('\n')).find("chance_accuracy"), std::string::npos) << csv;
}

TEST(OwnData, ExportWritesAFolderThatPeprReadsBack) {
  TempDir tmp;
  const fs::path npz = tmp / "s.npz";
  ASSERT_EQ(run_pepr({"data", "synth", "-o", npz.string(), "--classes", "3", "--train", "30",
                      "--val", "6", "--test", "9"})
                .exit_code,
            0);
  const auto exported = run_pepr({"data", "export", npz.string(), "-o", (tmp / "flat").string(),
                                  "--flat", "--limit", "10", "--image-size", "16"});
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  EXPECT_NE(exported.err.find("25 PNG images of 3 classes"), std::string::npos) << exported.err;
  const auto info = run_pepr({"data", "info", (tmp / "flat").string(), "--format", "json"});
  ASSERT_EQ(info.exit_code, 0) << info.err;
  const auto j = nlohmann::json::parse(info.out);
  EXPECT_EQ(j.at("splits").at("train").at("height"), 16);
  EXPECT_EQ(j.at("split_made").at("from_images"), 25);
  // An existing folder is never overwritten.
  const auto again = run_pepr({"data", "export", npz.string(), "-o", (tmp / "flat").string()});
  EXPECT_NE(again.exit_code, 0);
  EXPECT_NE(again.err.find("already exists"), std::string::npos) << again.err;
}

}  // namespace
