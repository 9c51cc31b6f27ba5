// The default sweep (`pepr bench --default`): its embedded plan, the dataset shipped in data/
// (the published PneumoniaMNIST file, checked by MD5), where it is found, and the command end to
// end with the fake trainer.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "data/catalogue.hpp"
#include "data/digest.hpp"
#include "core/file_io.hpp"
#include "support/test_support.hpp"
#include "sweep/collect.hpp"
#include "sweep/default_plan.hpp"
#include "sweep/plan.hpp"

namespace fs = std::filesystem;
namespace sw = pepr::sweep;
using pepr::test::TempDir;

namespace {

// Sets an environment variable for one scope, restoring the old value.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    ::setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (old_)
      ::setenv(name_, old_->c_str(), 1);
    else
      ::unsetenv(name_);
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

const fs::path kRepoData = fs::path(PEPR_SOURCE_DIR) / "data";

}  // namespace

TEST(DefaultPlan, TheShippedFileIsThePublishedPneumoniaMnist) {
  EXPECT_EQ(fs::weakly_canonical(sw::source_data_dir()), fs::weakly_canonical(kRepoData));
  const fs::path file = kRepoData / sw::kDefaultDataFile;
  ASSERT_TRUE(fs::is_regular_file(file)) << file;
  // The MD5 pepr checks is the catalogue's, and the file in the repository has it.
  const auto* entry = pepr::data::find_catalogue_entry("pneumoniamnist");
  ASSERT_NE(entry, nullptr);
  EXPECT_EQ(sw::kDefaultDataMd5, pepr::data::medmnist_md5(*entry, 28));
  EXPECT_EQ(pepr::data::digest_file(file.string(), pepr::data::DigestAlgo::md5),
            sw::kDefaultDataMd5);
  // Its licence and attribution lie next to it.
  const std::string readme = pepr::test::read_file(kRepoData / "README.md");
  for (const char* must : {"CC BY 4.0", "pneumoniamnist.npz", "28209eda62fecd6e6a2d98b1501bb15f",
                           "10.1038/s41597-022-01721-8", "Kermany"})
    EXPECT_NE(readme.find(must), std::string::npos) << must;
}

TEST(DefaultPlan, ExpandsIntoScratchRunsOnAllAndTenPercentOfTheShippedFile) {
  sw::Plan p = sw::parse_plan(sw::default_plan_toml(), "<default>", kRepoData);
  auto runs = sw::expand_plan(p, "/runs", nullptr);
  ASSERT_EQ(runs.size(), sw::kDefaultModels.size() * 2);
  std::set<std::string> models, experiments;
  std::set<double> fractions;
  for (const auto& r : runs) {
    EXPECT_EQ(r.config.data, (kRepoData / "pneumoniamnist.npz").lexically_normal().string());
    EXPECT_FALSE(r.dataset.synth);
    EXPECT_EQ(r.dataset.name, "pneumonia");
    EXPECT_FALSE(r.config.pretrained);
    EXPECT_EQ(r.config.threads, 2);
    models.insert(r.config.model);
    experiments.insert(r.experiment());
    fractions.insert(r.config.train_fraction);
  }
  EXPECT_EQ(models.size(), sw::kDefaultModels.size());
  EXPECT_EQ(experiments, (std::set<std::string>{"pneumonia_scratch", "pneumonia_scratch_small"}));
  EXPECT_EQ(fractions, (std::set<double>{0.1, 1.0}));
  // The IDs do not depend on where the repository lies.
  sw::Plan q = sw::parse_plan(sw::default_plan_toml(), "<default>", "/elsewhere/data");
  auto moved = sw::expand_plan(q, "/other-runs", nullptr);
  ASSERT_EQ(moved.size(), runs.size());
  for (std::size_t i = 0; i < runs.size(); ++i) {
    EXPECT_EQ(moved[i].id, runs[i].id);
    EXPECT_EQ(moved[i].config.data, "/elsewhere/data/pneumoniamnist.npz");
  }
}

TEST(DefaultPlan, DataFolders) {
  // $PEPR_DEFAULT_DATA_DIR alone when set.
  auto env = sw::default_data_dirs("/my/data", "/opt/pepr/bin/pepr");
  EXPECT_EQ(env, (std::vector<fs::path>{"/my/data"}));
  // Else the source tree, then next to the executable.
  auto dirs = sw::default_data_dirs("", "/opt/pepr/bin/pepr");
  EXPECT_EQ(dirs, (std::vector<fs::path>{sw::source_data_dir(), "/opt/pepr/data",
                                         "/opt/pepr/share/pepr/data"}));
  EXPECT_EQ(sw::default_data_dirs("", ""), (std::vector<fs::path>{sw::source_data_dir()}));
}

TEST(DefaultPlan, FindsTheFileOrSaysWhereItLooked) {
  {
    ScopedEnv unset(sw::kDefaultDataDirEnv, "");
    EXPECT_EQ(fs::weakly_canonical(sw::find_default_data_dir("")), fs::weakly_canonical(kRepoData));
  }
  TempDir tmp;
  {
    ScopedEnv e(sw::kDefaultDataDirEnv, tmp.path().string());
    try {
      sw::find_default_data_dir("/opt/pepr/bin/pepr");
      FAIL() << "an empty folder was accepted";
    } catch (const pepr::Error& err) {
      const std::string what = err.what();
      EXPECT_NE(what.find((tmp.path() / "pneumoniamnist.npz").string()), std::string::npos) << what;
      EXPECT_NE(what.find("PEPR_DEFAULT_DATA_DIR"), std::string::npos) << what;
    }
    pepr::test::write_file(tmp / "pneumoniamnist.npz", "x");
    EXPECT_EQ(sw::find_default_data_dir("/opt/pepr/bin/pepr"), tmp.path());
  }
}

// `pepr bench --default` with the fake trainer: every run gets the shipped file, and the
// ranking shows balanced accuracy and AUC.
TEST(DefaultPlan, BenchDefaultTrainsOnTheShippedFile) {
  TempDir tmp;
  ScopedEnv unset(sw::kDefaultDataDirEnv, "");  // empty: the repository's data/
  ScopedEnv fake("PEPR_TRAIN_CMD", PEPR_FAKE_TRAIN);
  ScopedEnv fast("FAKE_TRAIN_EPOCH_MS", "1");
  const fs::path runs = tmp / "runs";
  auto r = pepr::test::run_pepr({"bench", "--default", "-o", runs.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  std::size_t n = 0;
  for (const auto& e : fs::directory_iterator(runs)) {
    if (e.path().extension() != ".json") continue;
    auto rec = sw::read_record(e.path());
    ASSERT_TRUE(rec) << e.path();
    EXPECT_EQ(rec->status, pepr::run::RunStatus::completed);
    EXPECT_EQ(fs::weakly_canonical(*rec->config->data_file),
              fs::weakly_canonical(kRepoData / "pneumoniamnist.npz"))
        << rec->dump();
    ++n;
  }
  EXPECT_EQ(n, sw::kDefaultModels.size() * 2);
  EXPECT_FALSE(fs::exists(runs / "synth.npz"));
  for (const char* must : {"pneumonia_scratch_small", "test_balanced_acc", "test_auc", "pepr_e"})
    EXPECT_NE(r.out.find(must), std::string::npos) << must << "\n" << r.out;
  EXPECT_TRUE(fs::exists(runs / "ranking.txt"));
  EXPECT_TRUE(fs::exists(runs / "report" / "index.html"));
  // The ranking ends with what choosing by PePR-E saves, a sentence per experiment.
  const std::string ranking = pepr::read_text_file((runs / "ranking.txt").string());
  const auto saves = ranking.find("What choosing by PePR-E saves:");
  ASSERT_NE(saves, std::string::npos) << ranking;
  std::size_t sentences = 0;
  for (std::size_t at = saves; (at = ranking.find("\n  In pneumonia_", at)) != std::string::npos;
       ++at)
    ++sentences;
  EXPECT_EQ(sentences, 2u) << ranking;  // the two experiments of the default sweep
  // Then whether the measurement error could reorder the top, per experiment.
  const auto noise = ranking.find("Within the measurement error (each run's per-run error");
  ASSERT_NE(noise, std::string::npos) << ranking;
  sentences = 0;
  for (std::size_t at = noise; (at = ranking.find("\n  pneumonia_", at)) != std::string::npos;
       ++at)
    sentences += ranking.find("the top-1 (", at) != std::string::npos;
  EXPECT_EQ(sentences, 2u) << ranking;
  // One seed per model: nothing is said about seed noise.
  EXPECT_EQ(ranking.find("Over the seeds"), std::string::npos) << ranking;
}

// A file that is not the published one is refused before anything runs.
TEST(DefaultPlan, BenchDefaultRefusesAFileWithAnotherMd5) {
  TempDir tmp;
  pepr::test::write_file(tmp / "pneumoniamnist.npz", "not the published file");
  ScopedEnv e(sw::kDefaultDataDirEnv, tmp.path().string());
  ScopedEnv fake("PEPR_TRAIN_CMD", PEPR_FAKE_TRAIN);
  const fs::path runs = tmp / "runs";
  auto r = pepr::test::run_pepr({"bench", "--default", "-o", runs.string()});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("MD5"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(std::string(sw::kDefaultDataMd5)), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(runs));
  // --print-plan names the folder the file is relative to.
  fs::remove(tmp / "pneumoniamnist.npz");
  auto missing = pepr::test::run_pepr({"bench", "--default", "--print-plan"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("PEPR_DEFAULT_DATA_DIR"), std::string::npos) << missing.err;
}

TEST(DefaultPlan, PrintPlanNamesTheDataFolder) {
  ScopedEnv e(sw::kDefaultDataDirEnv, kRepoData.string());
  auto r = pepr::test::run_pepr({"bench", "--default", "--print-plan"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("is relative to " + kRepoData.string()), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(sw::default_plan_toml()), std::string::npos) << r.out;
}
