// pepr bench and pepr collect end to end, with the fake trainer (tests/sweep/fake_train) in place
// of `pepr train`: failures, budgets, resumption after SIGKILL, concurrent sweeps, garbage
// records, Slurm scripts.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdio>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "core/table.hpp"
#include "run_records.hpp"
#include "support/test_support.hpp"
#include "sweep/collect.hpp"
#include "sweep/stopping.hpp"

namespace fs = std::filesystem;
namespace sw = pepr::sweep;
using nlohmann::json;
using pepr::test::TempDir;

namespace {

std::string plan_text(const std::vector<std::string>& models, int epochs,
                      const std::string& fractions = "[1.0, 0.1]") {
  std::string names;
  for (const auto& m : models) names += (names.empty() ? "\"" : ", \"") + m + "\"";
  return "[sweep]\nname = \"test\"\nepochs = " + std::to_string(epochs) +
         "\nlr = 1e-3\nseeds = [0]\ntrain_fractions = " + fractions +
         "\nregimes = [\"scratch\"]\n[models]\nnames = [" + names +
         "]\n[[datasets]]\nname = \"toy\"\nfile = \"toy.npz\"\n";
}

class BenchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ::setenv("PEPR_TRAIN_CMD", PEPR_FAKE_TRAIN, 1);
    ::setenv("FAKE_TRAIN_EPOCH_MS", "5", 1);
    ::unsetenv("FAKE_TRAIN_FAIL_MODEL");
    ::unsetenv("FAKE_TRAIN_CRASH_MODEL");
    ::unsetenv("FAKE_TRAIN_EPOCHS");
    ::setenv("FAKE_TRAIN_INVOCATIONS", (tmp / "invocations.txt").c_str(), 1);
    pepr::test::write_file(tmp / "toy.npz", "");  // the plans' dataset file (fake_train ignores it)
  }
  fs::path write_plan(const std::string& text) {
    fs::path p = tmp / "plan.toml";
    pepr::test::write_file(p, text);
    return p;
  }
  std::map<std::string, json> records(const fs::path& dir) { return pepr::test::run_records(dir); }
  std::vector<std::string> invocations() { return pepr::test::file_lines(tmp / "invocations.txt"); }
  TempDir tmp;
};

// The collected table without the columns that hold measured timings and energies.
std::string without_measured(const std::string& csv) {
  pepr::Table t = pepr::Table::parse_csv(csv, "collect");
  std::vector<std::size_t> keep;
  auto measured = sw::measured_columns();
  for (std::size_t c = 0; c < t.num_columns(); ++c)
    if (std::find(measured.begin(), measured.end(), t.column_name(c)) == measured.end())
      keep.push_back(c);
  return t.select_columns(keep).to_csv();
}

}  // namespace

TEST_F(BenchTest, RunsAPlanAndCollects) {
  fs::path plan = write_plan(plan_text({"m1", "m2"}, 3));
  fs::path runs = tmp / "runs";
  auto r = pepr::test::run_pepr({"bench", plan.string(), "-o", runs.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("[4/4]"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("energy so far"), std::string::npos) << r.err;
  {
    // The summary gives the energy's bounds (the fake's records: within a factor 1.07).
    const auto at = r.err.rfind(" Wh (");  // the summary's; each run's line has its own
    EXPECT_NE(r.err.find("completed in"), std::string::npos);
    EXPECT_LT(r.err.find(" Wh ("), at) << r.err;
    ASSERT_NE(at, std::string::npos) << r.err;
    const auto line = r.err.substr(r.err.rfind('\n', at) + 1, r.err.find('\n', at));
    double total = 0, lo = 0, hi = 0;
    ASSERT_EQ(std::sscanf(line.c_str() + line.find("; ") + 2, "%lf Wh (%lf-%lf)", &total, &lo, &hi),
              3)
        << line;
    EXPECT_NEAR(lo, total / 1.07, total * 0.01) << line;
    EXPECT_NEAR(hi, total * 1.07, total * 0.01) << line;
  }
  auto recs = records(runs);
  ASSERT_EQ(recs.size(), 4u);
  for (const auto& [id, rec] : recs) {
    EXPECT_EQ(rec["status"], "completed") << id;
    EXPECT_EQ(rec["epochs"].size(), 3u);
    EXPECT_TRUE(rec["budget"].contains("energy_error")) << rec.dump();
    EXPECT_EQ(rec["sweep"]["attempt"], 1);
    EXPECT_FALSE(fs::exists(runs / (id + ".lock")));
  }
  auto c = pepr::test::run_pepr({"collect", runs.string()});
  ASSERT_EQ(c.exit_code, 0) << c.err;
  pepr::Table t = pepr::Table::parse_csv(c.out, "collect");
  ASSERT_EQ(t.num_rows(), 4u);
  EXPECT_EQ(t.column_name(0), "model");
  for (const char* col : {"num_param", "energy", "co2", "train_time", "memR", "test_00", "test_02",
                          "type", "efficient", "dataset", "run_id", "energy_kwh", "stop_reason"})
    EXPECT_TRUE(t.find_column(col)) << col;
  EXPECT_FALSE(t.find_column("test_03"));
  EXPECT_EQ(t.cell(0, t.require_column("dataset")).substr(0, 11), "toy_scratch");
  // pepr score reads it directly; the long form feeds pepr curve.
  pepr::test::write_file(tmp / "results.csv", c.out);
  auto s =
      pepr::test::run_pepr({"score", (tmp / "results.csv").string(), "-g", "dataset", "-f", "csv"});
  EXPECT_EQ(s.exit_code, 0) << s.err;
  EXPECT_NE(s.out.find("pepr_e"), std::string::npos);
  auto l =
      pepr::test::run_pepr({"collect", runs.string(), "--long", "-o", (tmp / "long.csv").string()});
  ASSERT_EQ(l.exit_code, 0) << l.err;
  pepr::Table lt = pepr::Table::read_csv((tmp / "long.csv").string());
  EXPECT_EQ(lt.num_rows(), 12u);
  // Cumulative energy grows within a run.
  auto e = lt.numbers(lt.require_column("energy_kwh"));
  EXPECT_LT(e[0], e[1]);
  EXPECT_LT(e[1], e[2]);
  auto cv = pepr::test::run_pepr({"curve", (tmp / "long.csv").string(), "-p", "test_acc", "-r",
                                  "energy", "--id", "run_id", "-g", "dataset", "-f", "csv"});
  EXPECT_EQ(cv.exit_code, 0) << cv.err;
  // Without --resume a second sweep into the same folder is refused.
  auto again = pepr::test::run_pepr({"bench", plan.string(), "-o", runs.string()});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.err.find("--resume"), std::string::npos) << again.err;
  // With it, nothing is run again.
  auto resumed = pepr::test::run_pepr({"bench", plan.string(), "-o", runs.string(), "--resume"});
  EXPECT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_EQ(invocations().size(), 4u);
}

TEST_F(BenchTest, AFailingRunIsRecordedAndTheSweepGoesOn) {
  ::setenv("FAKE_TRAIN_FAIL_MODEL", "bad", 1);
  ::setenv("FAKE_TRAIN_CRASH_MODEL", "crash", 1);
  fs::path plan = write_plan(plan_text({"good1", "bad", "crash", "good2"}, 2, "[1.0]"));
  fs::path runs = tmp / "runs";
  auto r = pepr::test::run_pepr({"bench", plan.string(), "-o", runs.string()});
  EXPECT_EQ(r.exit_code, 3) << r.err;  // some runs failed
  auto recs = records(runs);
  ASSERT_EQ(recs.size(), 4u);
  int completed = 0;
  for (const auto& [id, rec] : recs) {
    const std::string model = rec["config"]["model"];
    if (model == "bad") {
      EXPECT_EQ(rec["status"], "failed");
      EXPECT_NE(rec["error"].get<std::string>().find("CUDA out of memory"), std::string::npos)
          << rec["error"];
      EXPECT_NE(rec["error"].get<std::string>().find("exited with status 1"), std::string::npos);
    } else if (model == "crash") {
      EXPECT_EQ(rec["status"], "failed");
      EXPECT_NE(rec["error"].get<std::string>().find("SIGABRT"), std::string::npos) << rec["error"];
    } else {
      EXPECT_EQ(rec["status"], "completed");
      ++completed;
    }
  }
  EXPECT_EQ(completed, 2);
  auto c = pepr::test::run_pepr({"collect", runs.string()});
  EXPECT_EQ(pepr::Table::parse_csv(c.out, "c").num_rows(), 2u);
  EXPECT_NE(c.err.find("2 failed"), std::string::npos) << c.err;
  auto all = pepr::test::run_pepr({"collect", runs.string(), "--status", "all"});
  pepr::Table t = pepr::Table::parse_csv(all.out, "c");
  EXPECT_EQ(t.num_rows(), 4u);
  // --resume redoes the failed runs only (now fixed).
  ::unsetenv("FAKE_TRAIN_FAIL_MODEL");
  ::unsetenv("FAKE_TRAIN_CRASH_MODEL");
  auto again = pepr::test::run_pepr({"bench", plan.string(), "-o", runs.string(), "--resume"});
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(invocations().size(), 6u);
  for (const auto& [id, rec] : records(runs)) EXPECT_EQ(rec["status"], "completed") << id;
}

TEST_F(BenchTest, BudgetsAndPeprPatienceStopRuns) {
  fs::path plan = write_plan(plan_text({"m1", "m2"}, 6, "[1.0]"));
  // The fake's runs spend 0.1 .. 0.24 Wh in epoch 1: predicted 0.6 .. 1.44 Wh for 6 epochs.
  auto r = pepr::test::run_pepr(
      {"bench", plan.string(), "-o", (tmp / "b").string(), "--max-energy-wh", "0.5"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const auto& [id, rec] : records(tmp / "b")) {
    EXPECT_EQ(rec["status"], "stopped") << id;
    EXPECT_EQ(rec["epochs"].size(), 1u);
    EXPECT_EQ(rec["stop_reason"].get<std::string>().rfind("max-energy-wh: predicted", 0), 0u);
    EXPECT_GT(rec["budget"]["predicted_energy_kwh"].get<double>(), 0.0005);
    EXPECT_FALSE(rec["budget"].contains("energy_error"));  // not completed
  }
  auto p = pepr::test::run_pepr(
      {"bench", plan.string(), "-o", (tmp / "p").string(), "--pepr-patience", "1"});
  ASSERT_EQ(p.exit_code, 0) << p.err;
  for (const auto& [id, rec] : records(tmp / "p")) {
    std::vector<double> acc, cum;
    double e = 0;
    for (const auto& ep : rec["epochs"]) {
      acc.push_back(ep["test_acc"]);
      cum.push_back(e += ep["energy_kwh"].get<double>());
    }
    double ref = rec["budget"]["predicted_energy_kwh"];
    if (rec["status"] == "stopped") {
      EXPECT_EQ(rec["stop_reason"].get<std::string>().rfind("pepr-patience", 0), 0u);
      EXPECT_TRUE(sw::should_stop_pepr(acc, cum, ref, 1));
    } else {
      EXPECT_EQ(rec["epochs"].size(), 6u);
    }
    for (std::size_t k = 1; k + 1 < acc.size(); ++k)  // never earlier than the rule says
      EXPECT_FALSE(sw::should_stop_pepr(std::vector<double>(acc.begin(), acc.begin() + k),
                                        std::vector<double>(cum.begin(), cum.begin() + k), ref, 1));
  }
}

TEST_F(BenchTest, SigkillThenResumeLosesAndRepeatsNothing) {
  ::setenv("FAKE_TRAIN_EPOCH_MS", "120", 1);  // 3 epochs: ~0.4 s a run, 6 runs
  fs::path plan = write_plan(plan_text({"m1", "m2", "m3"}, 3));
  fs::path runs = tmp / "runs";
  const std::string pepr = pepr::test::pepr_binary();
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    int devnull = ::open("/dev/null", O_WRONLY);
    ::dup2(devnull, 2);
    ::execl(pepr.c_str(), pepr.c_str(), "bench", plan.c_str(), "-o", runs.c_str(), nullptr);
    _exit(127);
  }
  // Wait for the second completed record and the third run's first epoch, then kill the sweep
  // without warning, in the middle of that run.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  for (;;) {
    int done = 0;
    bool mid_run = false;
    for (const auto& [id, rec] : records(runs)) {
      done += rec["status"] == "completed";
      std::error_code ec;
      if (rec["status"] == "running" && fs::file_size(runs / (id + ".progress.jsonl"), ec) > 0 &&
          !ec)
        mid_run = true;
    }
    if (done >= 2 && mid_run) break;
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "the sweep did not progress";
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  std::map<std::string, std::string> completed_text;
  std::vector<std::string> unfinished;
  for (const auto& [id, rec] : records(runs)) {
    if (rec["status"] == "completed")
      completed_text[id] = pepr::test::read_file(runs / (id + ".json"));
    else
      unfinished.push_back(id);  // running (or interrupted by the orphan's SIGTERM)
  }
  ASSERT_GE(completed_text.size(), 2u);
  ASSERT_LT(completed_text.size(), 6u) << "killed too late to test anything";
  ASSERT_EQ(unfinished.size(), 1u);
  const auto before = invocations();

  auto r = pepr::test::run_pepr({"bench", plan.string(), "-o", runs.string(), "--resume"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto recs = records(runs);
  ASSERT_EQ(recs.size(), 6u);
  for (const auto& [id, rec] : recs) EXPECT_EQ(rec["status"], "completed") << id;
  // No completed run lost or repeated: their records are byte for byte what they were.
  for (const auto& [id, text] : completed_text)
    EXPECT_EQ(pepr::test::read_file(runs / (id + ".json")), text) << id;
  // The interrupted run was redone (its second attempt); every other run ran exactly once.
  EXPECT_EQ(recs[unfinished[0]]["sweep"]["attempt"], 2);
  std::map<std::string, int> calls;
  for (const auto& id : invocations()) ++calls[id];
  EXPECT_EQ(calls.size(), 6u);
  for (const auto& [id, n] : calls) EXPECT_EQ(n, id == unfinished[0] ? 2 : 1) << id;
  EXPECT_EQ(before.size(), completed_text.size() + 1);

  // The same plan without interruption gives the same results apart from measurements.
  ::setenv("FAKE_TRAIN_EPOCH_MS", "5", 1);
  fs::path clean = tmp / "clean";
  ASSERT_EQ(pepr::test::run_pepr({"bench", plan.string(), "-o", clean.string()}).exit_code, 0);
  auto a = pepr::test::run_pepr({"collect", runs.string()});
  auto b = pepr::test::run_pepr({"collect", clean.string()});
  ASSERT_EQ(a.exit_code, 0);
  EXPECT_EQ(pepr::Table::parse_csv(a.out, "a").num_rows(), 6u);
  EXPECT_EQ(without_measured(a.out), without_measured(b.out));
  EXPECT_NE(a.out, b.out);  // the timings do differ
}

TEST_F(BenchTest, ConcurrentSweepsOnOneFolderRunEachRunOnce) {
  ::setenv("FAKE_TRAIN_EPOCH_MS", "30", 1);
  fs::path plan = write_plan(plan_text({"m1", "m2", "m3", "m4"}, 2));
  fs::path runs = tmp / "runs";
  std::thread other([&] {
    pepr::test::run_pepr({"bench", plan.string(), "-o", runs.string(), "--resume"});
  });
  auto r = pepr::test::run_pepr({"bench", plan.string(), "-o", runs.string(), "--resume"});
  other.join();
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::map<std::string, int> calls;
  for (const auto& id : invocations()) ++calls[id];
  EXPECT_EQ(calls.size(), 8u);
  for (const auto& [id, n] : calls) EXPECT_EQ(n, 1) << id;
  for (const auto& [id, rec] : records(runs)) EXPECT_EQ(rec["status"], "completed") << id;
}

TEST_F(BenchTest, ShardsThroughTheCli) {
  fs::path plan = write_plan(plan_text({"m1", "m2", "m3"}, 1));
  fs::path runs = tmp / "runs";
  for (int i = 0; i < 4; ++i) {
    auto r = pepr::test::run_pepr(
        {"bench", plan.string(), "-o", runs.string(), "--shard", std::to_string(i) + "/4"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  std::map<std::string, int> calls;
  for (const auto& id : invocations()) ++calls[id];
  EXPECT_EQ(calls.size(), 6u);
  for (const auto& [id, n] : calls) EXPECT_EQ(n, 1) << id;
  EXPECT_EQ(pepr::test::run_pepr({"bench", plan.string(), "-o", runs.string(), "--shard", "4/4"})
                .exit_code,
            1);
}

TEST_F(BenchTest, CollectSkipsGarbage) {
  fs::path runs = tmp / "runs";
  fs::create_directories(runs);
  fs::path plan = write_plan(plan_text({"m1"}, 2, "[1.0]"));
  ASSERT_EQ(pepr::test::run_pepr({"bench", plan.string(), "-o", runs.string()}).exit_code, 0);
  pepr::test::write_file(runs / "garbage.json", "this is not json {");
  pepr::test::write_file(runs / "partial.json",
                         "{\"schema\": \"pepr.run/1\", \"run_id\": \"x\", \"sta");
  pepr::test::write_file(runs / "other.json", "{\"hello\": 1}");
  pepr::test::write_file(runs / "empty.json", "");
  pepr::test::write_file(runs / "array.json", "[1, 2]");
  pepr::test::write_file(runs / "weird.json",
                         "{\"schema\": \"pepr.run/1\", \"run_id\": \"w\", \"status\": "
                         "\"completed\", \"epochs\": [1, \"x\"], \"totals\": 3}");
  pepr::test::write_file(runs / ".hidden.json.tmp.1.2", "{");
  fs::create_directories(runs / "dir.json");
  auto c = pepr::test::run_pepr({"collect", runs.string()});
  ASSERT_EQ(c.exit_code, 0) << c.err;
  EXPECT_NE(c.err.find("garbage.json: skipped"), std::string::npos) << c.err;
  EXPECT_NE(c.err.find("partial.json: skipped"), std::string::npos);
  EXPECT_NE(c.err.find("other.json: skipped"), std::string::npos);
  EXPECT_NE(c.err.find("empty.json: skipped"), std::string::npos);
  pepr::Table t = pepr::Table::parse_csv(c.out, "c");
  EXPECT_EQ(t.num_rows(), 2u);  // the real run and the odd-but-valid record
  auto l = pepr::test::run_pepr({"collect", runs.string(), "--long"});
  EXPECT_EQ(l.exit_code, 0) << l.err;
  auto missing = pepr::test::run_pepr({"collect", (tmp / "nope").string()});
  EXPECT_EQ(missing.exit_code, 1);
}

TEST_F(BenchTest, EmitSlurm) {
  fs::path plan = write_plan(plan_text({"m1", "m2", "m3"}, 2));
  fs::path script = tmp / "sweep.sbatch";
  auto r =
      pepr::test::run_pepr({"bench", plan.string(), "-o", (tmp / "runs dir").string(),
                            "--emit-slurm", script.string(), "--shards", "4", "--partition", "gpu",
                            "--gpus", "1", "--time", "12:00:00", "--max-energy-wh", "50"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string s = pepr::test::read_file(script);
  EXPECT_EQ(s.rfind("#!/bin/bash\n", 0), 0u);
  for (const char* want :
       {"#SBATCH --array=0-3\n", "#SBATCH --partition=gpu\n", "#SBATCH --gres=gpu:1\n",
        "#SBATCH --time=12:00:00\n", "--resume --shard \"${SLURM_ARRAY_TASK_ID}/4\"",
        "--max-energy-wh 50", "'" /* the runs folder has a space: quoted */})
    EXPECT_NE(s.find(want), std::string::npos) << want << "\n" << s;
  EXPECT_NE(s.find(fs::absolute(plan).string()), std::string::npos);
  EXPECT_EQ(s.find("--partition=\n"), std::string::npos);
  // Running the script's command for every task covers the plan once: see ShardsThroughTheCli.
  auto none = pepr::test::run_pepr(
      {"bench", plan.string(), "-o", (tmp / "r2").string(), "--emit-slurm", "-"});
  EXPECT_EQ(none.exit_code, 0);
  EXPECT_NE(none.out.find("#SBATCH --array=0-0"), std::string::npos);
  EXPECT_EQ(none.out.find("--partition"), std::string::npos);
}

TEST_F(BenchTest, PlanErrorsReachTheUser) {
  fs::path plan = write_plan("[sweep]\nepochs = 3\nlr = = 2\n");
  auto r = pepr::test::run_pepr({"bench", plan.string(), "-o", (tmp / "r").string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("plan.toml:3:"), std::string::npos) << r.err;
}

TEST_F(BenchTest, SigintMarksTheRunInterrupted) {
  ::setenv("FAKE_TRAIN_EPOCH_MS", "300", 1);
  fs::path plan = write_plan(plan_text({"m1", "m2"}, 3, "[1.0]"));
  fs::path runs = tmp / "runs";
  const std::string pepr = pepr::test::pepr_binary();
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    int devnull = ::open("/dev/null", O_WRONLY);
    ::dup2(devnull, 2);
    ::execl(pepr.c_str(), pepr.c_str(), "bench", plan.c_str(), "-o", runs.c_str(), nullptr);
    _exit(127);
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (records(runs).empty() ||
         !fs::exists(runs / (records(runs).begin()->first + ".progress.jsonl"))) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ::kill(pid, SIGINT);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 130);
  auto recs = records(runs);
  ASSERT_EQ(recs.size(), 1u);  // the second run never started
  EXPECT_EQ(recs.begin()->second["status"], "interrupted");
  EXPECT_FALSE(fs::exists(runs / (recs.begin()->first + ".lock")));
}

TEST_F(BenchTest, PlanModelsAndFilesAreCheckedBeforeAnyRun) {
  // A missing dataset file fails the whole sweep at once, whatever the trainer, --list included.
  fs::path plan = write_plan(plan_text({"m1", "m2"}, 2, "[1.0]"));
  fs::remove(tmp / "toy.npz");
  for (const std::vector<std::string>& extra :
       {std::vector<std::string>{}, std::vector<std::string>{"--list"}}) {
    std::vector<std::string> args{"bench", plan.string(), "-o", (tmp / "runs").string()};
    args.insert(args.end(), extra.begin(), extra.end());
    auto r = pepr::test::run_pepr(args);
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_NE(r.err.find("plan.toml:10:1: dataset 'toy': file " + (tmp / "toy.npz").string() +
                         " does not exist"),
              std::string::npos)
        << r.err;
  }
  EXPECT_TRUE(invocations().empty());
  // pepr's own trainer: model names are the zoo's, a typo is named with the closest one.
  pepr::test::write_file(tmp / "toy.npz", "");
  ::unsetenv("PEPR_TRAIN_CMD");
  plan = write_plan(plan_text({"resnet18", "mobilenetv2_05"}, 2, "[1.0]"));
  auto r = pepr::test::run_pepr({"bench", plan.string(), "-o", (tmp / "runs").string(), "--list"});
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.err.find("plan.toml:9:22: unknown model 'mobilenetv2_05' (did you mean "
                       "mobilenetv2_050?)"),
            std::string::npos)
      << r.err;
  plan = write_plan(plan_text({"resnet18", "mobilenetv2_050"}, 2, "[1.0]"));
  r = pepr::test::run_pepr({"bench", plan.string(), "-o", (tmp / "runs").string(), "--list"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("mobilenetv2_050"), std::string::npos) << r.out;
  // For programs: --list -f csv gives the runs alone, one row each.
  r = pepr::test::run_pepr(
      {"bench", plan.string(), "-o", (tmp / "runs").string(), "--list", "-f", "csv"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const pepr::Table listed = pepr::Table::parse_csv(r.out, "list");
  EXPECT_EQ(listed.num_rows(), 2u);
  EXPECT_EQ(listed.cell(1, listed.require_column("model")), "mobilenetv2_050");
  EXPECT_EQ(listed.cell(0, listed.require_column("image_px")), "?");  // toy.npz is no dataset
}

TEST_F(BenchTest, ABadRunsFolderIsRefusedBeforeAnyRun) {
  fs::path plan = write_plan(plan_text({"m1"}, 2, "[1.0]"));
  pepr::test::write_file(tmp / "plain", "x");
  auto r = pepr::test::run_pepr({"bench", plan.string(), "-o", (tmp / "plain" / "runs").string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("-o " + (tmp / "plain" / "runs").string() + ": '" +
                       (tmp / "plain").string() + "' is not a folder"),
            std::string::npos)
      << r.err;
  EXPECT_TRUE(invocations().empty());
  auto s = pepr::test::run_pepr({"bench", plan.string(), "-o", (tmp / "runs").string(),
                                 "--emit-slurm", (tmp / "no" / "x.sbatch").string()});
  EXPECT_EQ(s.exit_code, 1);
  EXPECT_NE(s.err.find("--emit-slurm " + (tmp / "no" / "x.sbatch").string() + ": folder '" +
                       (tmp / "no").string() + "' does not exist"),
            std::string::npos)
      << s.err;
}

TEST_F(BenchTest, CollectReadsRecordsWithoutRunIdAndRefusesEmptyFolders) {
  fs::path runs = tmp / "runs";
  fs::path plan = write_plan(plan_text({"m1"}, 2, "[1.0]"));
  ASSERT_EQ(pepr::test::run_pepr({"bench", plan.string(), "-o", runs.string()}).exit_code, 0);
  auto recs = records(runs);
  ASSERT_EQ(recs.size(), 1u);
  // As `pepr train -o mine.json` writes it without --run-id.
  json rec = recs.begin()->second;
  rec["run_id"] = nullptr;
  fs::path own = tmp / "own";
  fs::create_directories(own);
  pepr::test::write_file(own / "mine.json", rec.dump(2));
  for (int pass = 0; pass < 2; ++pass) {  // the same id every time
    auto c = pepr::test::run_pepr({"collect", own.string()});
    ASSERT_EQ(c.exit_code, 0) << c.err;
    pepr::Table t = pepr::Table::parse_csv(c.out, "collect");
    ASSERT_EQ(t.num_rows(), 1u);
    EXPECT_EQ(t.cell(0, t.require_column("run_id")), "mine");
    EXPECT_EQ(t.cell(0, t.require_column("model")), "m1");
  }
  // A folder with no usable record: an error, not a header-only table.
  fs::path empty = tmp / "empty";
  fs::create_directories(empty);
  auto e = pepr::test::run_pepr({"collect", empty.string(), "-o", (tmp / "r.csv").string()});
  EXPECT_EQ(e.exit_code, 1);
  EXPECT_NE(e.err.find("no usable run record"), std::string::npos) << e.err;
  EXPECT_FALSE(fs::exists(tmp / "r.csv"));
  pepr::test::write_file(empty / "junk.json", "{");
  e = pepr::test::run_pepr({"collect", empty.string()});
  EXPECT_EQ(e.exit_code, 1);
  EXPECT_NE(e.err.find("no usable run record (1 .json file skipped)"), std::string::npos) << e.err;
  // Records, but none with the statuses asked for.
  auto f = pepr::test::run_pepr({"collect", own.string(), "--status", "failed"});
  EXPECT_EQ(f.exit_code, 1);
  EXPECT_NE(f.err.find("none of the 1 run record has status failed"), std::string::npos) << f.err;
}

TEST_F(BenchTest, AMissingTrainerIsNamedBeforeAnyRun) {
  ::setenv("PEPR_TRAIN_CMD", (tmp / "no-such-trainer").c_str(), 1);
  fs::path plan = write_plan(plan_text({"m1"}, 2, "[1.0]"));
  auto r = pepr::test::run_pepr({"bench", plan.string(), "-o", (tmp / "runs").string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(
      r.err.find("PEPR_TRAIN_CMD '" + (tmp / "no-such-trainer").string() + "': no such program"),
      std::string::npos)
      << r.err;
  EXPECT_FALSE(fs::exists(tmp / "runs"));
  auto t = pepr::test::run_pepr(
      {"bench", plan.string(), "-o", (tmp / "runs").string(), "--train-cmd", "no-such-trainer-x"});
  EXPECT_EQ(t.exit_code, 1);
  EXPECT_NE(t.err.find("--train-cmd 'no-such-trainer-x': no such program"), std::string::npos)
      << t.err;
  // A Slurm script runs elsewhere: the trainer may exist only on the compute nodes.
  auto s = pepr::test::run_pepr({"bench", plan.string(), "-o", (tmp / "runs").string(),
                                 "--train-cmd", "no-such-trainer-x", "--emit-slurm", "-"});
  EXPECT_EQ(s.exit_code, 0) << s.err;
}

namespace {

// The models of the top k rows by PePR-E of a collected table (pepr score -g dataset).
std::set<std::string> top_models(const pepr::test::RunResult& scored, std::size_t k) {
  pepr::Table t = pepr::Table::parse_csv(scored.out, "score");
  std::vector<std::pair<double, std::string>> rows;
  for (std::size_t r = 0; r < t.num_rows(); ++r)
    rows.emplace_back(-t.number(r, t.require_column("pepr_e")),
                      t.cell(r, t.require_column("model")));
  std::sort(rows.begin(), rows.end());
  std::set<std::string> out;
  for (std::size_t i = 0; i < k && i < rows.size(); ++i) out.insert(rows[i].second);
  return out;
}

}  // namespace

// --prune-top K: probes first (epoch 1, "probed"), then cheapest first; some runs are pruned,
// each with its bound, and the top K by PePR-E of the collected table is the full sweep's. A run
// continues from its probe's checkpoint: no epoch is trained twice, so pruning never trains more
// than the full sweep.
TEST_F(BenchTest, PruningKeepsTheTopKAndRecordsWhyARunStopped) {
  std::vector<std::string> models;
  for (int i = 0; i < 12; ++i) models.push_back("m" + std::to_string(i));
  fs::path plan = write_plan(plan_text(models, 6, "[1.0]"));
  fs::path full = tmp / "full", pruned = tmp / "pruned";
  const fs::path epochs_log = tmp / "epochs.txt";
  ::setenv("FAKE_TRAIN_EPOCHS", epochs_log.c_str(), 1);
  auto a = pepr::test::run_pepr({"bench", plan.string(), "-o", full.string(), "-q"});
  ASSERT_EQ(a.exit_code, 0) << a.err;
  const std::size_t full_epochs = pepr::test::file_lines(epochs_log).size();
  EXPECT_EQ(full_epochs, 12u * 6u);
  for (const char* bound : {"one", "peers"}) {
    fs::remove_all(pruned);
    fs::remove(epochs_log);
    auto b = pepr::test::run_pepr({"bench", plan.string(), "-o", pruned.string(), "--prune-top",
                                   "3", "--prune-bound", bound});
    ASSERT_EQ(b.exit_code, 0) << b.err;
    EXPECT_NE(b.err.find("probed"), std::string::npos) << b.err;
    std::size_t n_pruned = 0, n_completed = 0;
    double spent = 0, full_spent = 0;
    for (const auto& [id, rec] : records(pruned)) {
      const std::string st = rec["status"];
      ASSERT_TRUE(st == "completed" || st == "pruned") << id << " " << st;
      ASSERT_TRUE(rec.contains("probe")) << id;
      EXPECT_GT(rec["probe"]["predicted_energy_kwh"].get<double>(), 0) << id;
      // A continued run's totals hold its probe's epoch; one pruned before it started, none.
      spent += rec["totals"]["energy_kwh"].get<double>() +
               (rec.contains("resumed") ? 0.0 : rec["probe"]["energy_kwh"].get<double>());
      if (st == "pruned") {
        ++n_pruned;
        EXPECT_NE(rec["stop_reason"].get<std::string>().find("3rd best"), std::string::npos)
            << rec["stop_reason"];
        EXPECT_GT(rec["pruned"]["projected_energy_kwh"].get<double>(),
                  rec["pruned"]["spent_kwh"].get<double>());
      } else {
        ++n_completed;
        EXPECT_EQ(rec["epochs"].size(), 6u);
      }
    }
    for (const auto& [id, rec] : records(full))
      full_spent += rec["totals"]["energy_kwh"].get<double>();
    EXPECT_GT(n_pruned, 0u) << bound << "\n" << b.err;
    EXPECT_GE(n_completed, 3u);
    EXPECT_LT(spent, full_spent) << bound;
    // Every epoch trained once at most, and the checkpoints gone once their runs were done.
    const auto trained = pepr::test::file_lines(epochs_log);
    EXPECT_EQ(std::set<std::string>(trained.begin(), trained.end()).size(), trained.size())
        << bound;
    EXPECT_LT(trained.size(), full_epochs) << bound;
    for (const auto& entry : fs::directory_iterator(pruned))
      EXPECT_NE(entry.path().extension(), ".ckpt") << entry.path();
    // The collected tables, scored: the same top 3 (pruned runs are rows with projected energy).
    auto ca = pepr::test::run_pepr({"collect", full.string(), "-o", (tmp / "a.csv").string()});
    auto cb = pepr::test::run_pepr({"collect", pruned.string(), "-o", (tmp / "b.csv").string()});
    ASSERT_EQ(cb.exit_code, 0) << cb.err;
    auto sa =
        pepr::test::run_pepr({"score", (tmp / "a.csv").string(), "-g", "dataset", "-f", "csv"});
    auto sb =
        pepr::test::run_pepr({"score", (tmp / "b.csv").string(), "-g", "dataset", "-f", "csv"});
    ASSERT_EQ(sb.exit_code, 0) << sb.err;
    EXPECT_EQ(pepr::Table::parse_csv(sb.out, "score").num_rows(), 12u);
    EXPECT_EQ(top_models(sa, 3), top_models(sb, 3)) << bound;
    // Resuming a finished pruned sweep runs nothing.
    auto c = pepr::test::run_pepr({"bench", plan.string(), "-o", pruned.string(), "--resume",
                                   "--prune-top", "3", "--prune-bound", bound});
    ASSERT_EQ(c.exit_code, 0) << c.err;
    EXPECT_NE(c.err.find("12 done before"), std::string::npos) << c.err;
  }
}

// image_size = auto (the plans' default): each model is given a size it accepts, said before any
// run starts (--list, --print-plan, the sweep's start) and recorded; an explicit size refuses the
// models that cannot run at it, with the fix, and starts none of their runs.
TEST_F(BenchTest, ImageSizesAreResolvedPerModelAndImpossibleRunsAreRefusedBeforeTheStart) {
  auto plan_for = [&](const std::string& size_line) {
    return write_plan(
        "[sweep]\nname = \"sizes\"\nepochs = 1\n" + size_line +
        "\ntrain_fractions = [1.0]\nregimes = [\"scratch\"]\n[models]\nnames = [\"resnet18\", "
        "\"densenet121\", \"crossvit_9_240\"]\n[[datasets]]\nname = \"toy\"\nsynth = true\n"
        "synth_args = [\"--train\", \"20\", \"--val\", \"8\", \"--test\", \"8\"]\n");
  };
  fs::path plan = plan_for("");
  const fs::path runs = tmp / "runs";
  auto row_of = [](const std::string& text, const std::string& model) {
    const auto at = text.find(model + " ");
    return at == std::string::npos ? std::string() : text.substr(at, text.find('\n', at) - at);
  };
  auto l = pepr::test::run_pepr({"bench", plan.string(), "-o", runs.string(), "--list"});
  ASSERT_EQ(l.exit_code, 0) << l.err;
  // The run list, then each model's size: data 28 px, densenet121 at least 29, crossvit 240.
  const std::string sizes = l.out.substr(l.out.find("data_px"));
  EXPECT_NE(row_of(sizes, "densenet121").find("29"), std::string::npos) << sizes;
  EXPECT_NE(row_of(sizes, "densenet121").find("1.07x"), std::string::npos) << sizes;
  EXPECT_NE(row_of(sizes, "crossvit_9_240").find("73.47x"), std::string::npos) << sizes;
  EXPECT_NE(row_of(sizes, "resnet18").find("auto: as stored"), std::string::npos) << sizes;
  EXPECT_NE(l.out.find("toy: the models see different image sizes, 28 to 240 px"),
            std::string::npos)
      << l.out;
  auto pp = pepr::test::run_pepr({"bench", plan.string(), "--print-plan"});
  ASSERT_EQ(pp.exit_code, 0) << pp.err;
  EXPECT_NE(pp.out.find("# Image sizes (image_size = auto):"), std::string::npos) << pp.out;
  EXPECT_NE(pp.out.find("auto: upsampled to its minimum"), std::string::npos) << pp.out;

  // The sweep: every trainer is given the size resolved for its model (0: as stored).
  auto r = pepr::test::run_pepr({"bench", plan.string(), "-o", runs.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("auto: its fixed size"), std::string::npos) << r.err;
  std::map<std::string, json> size_of;
  for (const auto& [id, rec] : records(runs))
    size_of[rec["config"]["model"].get<std::string>()] = rec["config"]["image_size"];
  EXPECT_EQ(size_of, (std::map<std::string, json>{
                         {"resnet18", 0}, {"densenet121", 29}, {"crossvit_9_240", 240}}));
  auto c = pepr::test::run_pepr({"collect", runs.string()});
  ASSERT_EQ(c.exit_code, 0) << c.err;
  pepr::Table t = pepr::Table::parse_csv(c.out, "collect");
  std::map<std::string, std::string> px;
  for (std::size_t i = 0; i < t.num_rows(); ++i)
    px[std::string(t.cell(i, t.require_column("model")))] =
        std::string(t.cell(i, t.require_column("image_px")));
  EXPECT_EQ(px["densenet121"], "29");
  EXPECT_EQ(px["crossvit_9_240"], "240");

  // An explicit 28: densenet121 and crossvit_9_240 cannot run at it; refused, never started.
  fs::remove(tmp / "invocations.txt");
  plan = plan_for("image_size = 28");
  const fs::path runs2 = tmp / "runs2";
  auto x = pepr::test::run_pepr({"bench", plan.string(), "-o", runs2.string()});
  EXPECT_EQ(x.exit_code, 3) << x.err;
  EXPECT_NE(x.err.find("refused, not started: densenet121 on toy (1 run): densenet121 needs "
                       "inputs of at least 29x29 pixels; image_size 28 is smaller: use image_size "
                       "= 29 or \"auto\" (per model)"),
            std::string::npos)
      << x.err;
  EXPECT_NE(x.err.find("refused, not started: crossvit_9_240 on toy (1 run): crossvit_9_240 "
                       "needs inputs of exactly 240x240 pixels"),
            std::string::npos)
      << x.err;
  EXPECT_NE(x.err.find("2 runs refused before the start"), std::string::npos) << x.err;
  ASSERT_EQ(invocations().size(), 1u);  // resnet18's alone
  EXPECT_EQ(invocations()[0].rfind("resnet18-", 0), 0u);
  EXPECT_EQ(records(runs2).size(), 1u);
}

// pepr collect -g COL, as the other table commands take it: each group's rows together (the
// groups sorted, collect's order within each); a column that does not exist names the closest.
TEST_F(BenchTest, CollectGroupsRowsByAColumn) {
  fs::path plan = write_plan(plan_text({"m1", "m2"}, 1));
  fs::path runs = tmp / "runs";
  ASSERT_EQ(pepr::test::run_pepr({"bench", plan.string(), "-o", runs.string(), "-q"}).exit_code, 0);
  auto plain = pepr::test::run_pepr({"collect", runs.string()});
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  auto g = pepr::test::run_pepr({"collect", runs.string(), "-g", "dataset"});
  ASSERT_EQ(g.exit_code, 0) << g.err;
  const pepr::Table before = pepr::Table::parse_csv(plain.out, "plain");
  const pepr::Table t = pepr::Table::parse_csv(g.out, "grouped");
  ASSERT_EQ(t.num_rows(), 4u);
  auto column = [](const pepr::Table& table, const char* name) {
    std::vector<std::string> out;
    const std::size_t c = table.require_column(name);
    for (std::size_t r = 0; r < table.num_rows(); ++r) out.emplace_back(table.cell(r, c));
    return out;
  };
  EXPECT_EQ(column(t, "dataset"),
            (std::vector<std::string>{"toy_scratch", "toy_scratch", "toy_scratch_small",
                                      "toy_scratch_small"}));
  EXPECT_EQ(column(t, "model"), (std::vector<std::string>{"m1", "m2", "m1", "m2"}));
  // The same rows: only their order differs.
  auto ids = column(t, "run_id"), plain_ids = column(before, "run_id");
  std::sort(ids.begin(), ids.end());
  std::sort(plain_ids.begin(), plain_ids.end());
  EXPECT_EQ(ids, plain_ids);
  auto bad = pepr::test::run_pepr({"collect", runs.string(), "--group-by", "datset"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("-g datset: no such column in the collected table (did you mean "
                         "dataset?)"),
            std::string::npos)
      << bad.err;
}

// --print-plan: the plan as written, then its effective values as TOML comments (every default
// filled in) and the other options every run gets, budgets given to pepr bench included.
TEST_F(BenchTest, PrintPlanShowsTheEffectiveValues) {
  fs::path plan = write_plan(
      "[sweep]\nepochs = 2\ntrain_args = [\"--weight-decay\", \"0.01\"]\n[models]\n"
      "names = [\"m1\"]\n[[datasets]]\nfile = \"toy.npz\"\n");
  auto r = pepr::test::run_pepr({"bench", plan.string(), "--print-plan", "--max-energy-wh", "2.5"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("[sweep]\nepochs = 2\n", 0), 0u) << r.out;
  for (const char* line :
       {"# Effective values, every default filled in", "# name = \"sweep\"  # default\n",
        "# epochs = 2\n", "# lr = 0.0005  # default\n", "# batch_size = 32  # default\n",
        "# optimizer = \"adam\"  # default\n", "# device = \"cpu\"  # default\n",
        "# precision = \"fp32\"  # default\n", "# threads = 0  # default",
        "# image_size = \"auto\"  # default", "# seeds = [0]  # default\n",
        "# train_fractions = [1.0]  # default\n", "# regimes = [\"pretrained\"]  # default\n",
        "# name = \"toy\"\n# file = \"toy.npz\"\n", "--weight-decay 0.01", "--momentum 0.9",
        "--max-energy-wh 2.5", "# Image sizes (image_size = auto):"})
    EXPECT_NE(r.out.find(line), std::string::npos) << line << " in\n" << r.out;
}
