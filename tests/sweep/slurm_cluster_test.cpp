// `pepr bench --emit-slurm` on a real Slurm cluster: a single-node cluster (slurmctld + slurmd from
// Debian's slurm-wlm) started on this machine for the test, its configuration and state in a
// temporary folder, authentication off (auth/none: the daemons listen on 127.0.0.1 only), the
// daemons stopped at the end. Runs train with the fake trainer. Skipped, saying so, only where
// the Slurm programs are missing.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <regex>
#include <thread>

#include <nlohmann/json.hpp>

#include "run_records.hpp"
#include "support/test_support.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// A program in PATH or in the sbin folders (daemons live there, outside a user's PATH).
std::string find_program(const std::string& name) {
  std::string path = std::getenv("PATH") ? std::getenv("PATH") : "";
  path += ":/usr/sbin:/sbin:/usr/local/sbin";
  std::size_t start = 0;
  while (start <= path.size()) {
    auto colon = path.find(':', start);
    if (colon == std::string::npos) colon = path.size();
    const fs::path p = fs::path(path.substr(start, colon - start)) / name;
    if (!p.parent_path().empty() && ::access(p.c_str(), X_OK) == 0) return p.string();
    start = colon + 1;
  }
  return "";
}

int free_port() {
  const int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t n = sizeof a;
  ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &n);
  ::close(s);
  return ntohs(a.sin_port);
}

std::string host_name() {
  char buf[256] = {0};
  ::gethostname(buf, sizeof buf - 1);
  std::string h = buf;
  return h.substr(0, h.find('.'));
}

std::string plan_text(int models, int epochs) {
  std::string names;
  for (int i = 1; i <= models; ++i) names += (i > 1 ? ", \"m" : "\"m") + std::to_string(i) + "\"";
  return "[sweep]\nname = \"slurm\"\nepochs = " + std::to_string(epochs) +
         "\nlr = 1e-3\nseeds = [0]\ntrain_fractions = [1.0, 0.1]\nregimes = [\"scratch\"]\n"
         "[models]\nnames = [" +
         names + "]\n[[datasets]]\nname = \"toy\"\nfile = \"toy.npz\"\n";
}

class SlurmCluster : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* p : {"slurmctld", "slurmd", "sbatch", "squeue", "scancel", "sinfo"}) {
      bin_[p] = find_program(p);
      if (bin_[p].empty())
        GTEST_SKIP() << "Slurm is not installed (" << p
                     << " missing): apt install slurmctld slurmd slurm-client to run this test";
    }
    const std::string me = user();
    for (const char* d : {"state", "spool", "log"}) fs::create_directories(tmp_.path() / d);
    const auto t = tmp_.path();
    const int cpus = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    conf_ = t / "slurm.conf";
    pepr::test::write_file(
        conf_,
        "ClusterName=pepr-test\n"
        "SlurmctldHost=" +
            host_name() +
            "(127.0.0.1)\n"
            "SlurmctldPort=" +
            std::to_string(free_port()) +
            "\n"
            "SlurmdPort=" +
            std::to_string(free_port()) +
            "\n"
            "SlurmUser=" +
            me + "\nSlurmdUser=" + me +
            "\n"
            "AuthType=auth/none\nCredType=cred/none\n"
            "StateSaveLocation=" +
            (t / "state").string() +
            "\n"
            "SlurmdSpoolDir=" +
            (t / "spool").string() +
            "\n"
            "SlurmctldPidFile=" +
            (t / "slurmctld.pid").string() +
            "\n"
            "SlurmdPidFile=" +
            (t / "slurmd.pid").string() +
            "\n"
            "SlurmctldLogFile=" +
            (t / "log" / "slurmctld.log").string() +
            "\n"
            "SlurmdLogFile=" +
            (t / "log" / "slurmd.log").string() +
            "\n"
            "ProctrackType=proctrack/pgid\nTaskPlugin=task/none\n"
            "JobAcctGatherType=jobacct_gather/none\nAccountingStorageType=accounting_storage/none\n"
            "MpiDefault=none\nSchedulerType=sched/builtin\nSelectType=select/cons_tres\n"
            "SelectTypeParameters=CR_CPU\nReturnToService=2\nKillWait=5\n"
            "NodeName=pepr-node NodeAddr=127.0.0.1 CPUs=" +
            std::to_string(cpus) +
            " State=UNKNOWN\n"
            "PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP\n");
    ::setenv("SLURM_CONF", conf_.c_str(), 1);
    ctld_ = spawn({bin_["slurmctld"], "-D", "-i"});
    slurmd_ = spawn({bin_["slurmd"], "-D", "-N", "pepr-node"});
    for (int i = 0; i < 300; ++i) {  // up to 30 s for the node to be idle
      auto r = pepr::test::run({bin_["sinfo"], "-h", "-o", "%T"});
      if (r.exit_code == 0 && r.out.find("idle") != std::string::npos) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    FAIL() << "the test cluster did not come up:\n" << logs();
  }

  void TearDown() override {
    if (!bin_["scancel"].empty() && ctld_ > 0) pepr::test::run({bin_["scancel"], "--user", user()});
    for (pid_t p : {slurmd_, ctld_})
      if (p > 0) ::kill(p, SIGTERM);
    for (pid_t p : {slurmd_, ctld_})
      if (p > 0) {
        for (int i = 0; i < 50 && ::waitpid(p, nullptr, WNOHANG) == 0; ++i)
          std::this_thread::sleep_for(std::chrono::milliseconds(100));
        ::kill(p, SIGKILL);
        ::waitpid(p, nullptr, 0);
      }
    ::unsetenv("SLURM_CONF");
    ::unsetenv("PEPR_TRAIN_CMD");
    ::unsetenv("FAKE_TRAIN_EPOCH_MS");
    ::unsetenv("FAKE_TRAIN_INVOCATIONS");
  }

  static std::string user() {
    const passwd* pw = ::getpwuid(::geteuid());
    return pw ? pw->pw_name : "root";
  }

  pid_t spawn(const std::vector<std::string>& argv) {
    const pid_t pid = ::fork();
    if (pid == 0) {
      const std::string log =
          (tmp_.path() / "log" / (fs::path(argv[0]).filename().string() + ".out")).string();
      std::freopen(log.c_str(), "w", stdout);
      std::freopen(log.c_str(), "a", stderr);
      std::vector<char*> a;
      for (const auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
      a.push_back(nullptr);
      ::execv(a[0], a.data());
      ::_exit(127);
    }
    return pid;
  }

  std::string logs() {
    std::string out;
    for (const char* f : {"slurmctld.log", "slurmd.log", "slurmctld.out", "slurmd.out"})
      if (fs::exists(tmp_.path() / "log" / f))
        out += std::string("== ") + f + "\n" + pepr::test::read_file(tmp_.path() / "log" / f);
    return out.size() > 6000 ? out.substr(out.size() - 6000) : out;
  }

  // Writes the plan and the emitted script for `shards` shards; returns the script's path.
  fs::path emit(int models, int epochs, int shards) {
    pepr::test::write_file(tmp_.path() / "toy.npz", "");
    pepr::test::write_file(tmp_.path() / "plan.toml", plan_text(models, epochs));
    const fs::path script = tmp_.path() / "sweep.sbatch";
    auto r = pepr::test::run_pepr({"bench", (tmp_.path() / "plan.toml").string(), "-o",
                                   runs().string(), "--emit-slurm", script.string(), "--shards",
                                   std::to_string(shards), "--time", "00:10:00"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return script;
  }

  fs::path runs() const { return tmp_.path() / "runs"; }

  // Submits the script (the environment travels with it: the fake trainer and its settings);
  // returns the job ID.
  std::string submit(const fs::path& script) {
    auto r = pepr::test::run({bin_["sbatch"], "--parsable", script.string()});
    EXPECT_EQ(r.exit_code, 0) << r.err << logs();
    std::string id = r.out.substr(0, r.out.find_first_of(";\n"));
    return id;
  }

  // Waits until no task of the job is queued or running (up to `timeout_s`).
  bool wait_done(const std::string& job, double timeout_s) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
    while (std::chrono::steady_clock::now() < end) {
      auto r = pepr::test::run({bin_["squeue"], "-h", "-j", job, "-o", "%i %T"});
      if (r.exit_code == 0 && r.out.find_first_not_of(" \n") == std::string::npos) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    return false;
  }

  std::map<std::string, json> records() { return pepr::test::run_records(runs()); }

  std::vector<std::string> invocations() {
    return pepr::test::file_lines(tmp_.path() / "invocations.txt");
  }

  // Every one of `expected` runs has a completed record, and each was trained exactly once
  // (runs in interrupted_ were interrupted once before, so trained twice).
  ::testing::AssertionResult all_completed_once(std::size_t expected) {
    auto recs = records();
    if (recs.size() != expected)
      return ::testing::AssertionFailure()
             << recs.size() << " run records, expected " << expected << "\n"
             << slurm_outputs();
    std::map<std::string, int> times;
    for (const auto& id : invocations()) ++times[id];
    for (const auto& [id, r] : recs) {
      if (r.value("status", "") != "completed")
        return ::testing::AssertionFailure() << id << " is " << r.value("status", "?");
      if (times[id] != 1 + interrupted_[id])
        return ::testing::AssertionFailure() << id << " trained " << times[id] << " times";
    }
    return ::testing::AssertionSuccess();
  }

  std::string slurm_outputs() {
    std::string out;
    if (fs::is_directory(runs()))
      for (const auto& e : fs::directory_iterator(runs()))
        if (e.path().filename().string().rfind("slurm-", 0) == 0)
          out += "== " + e.path().filename().string() + "\n" + pepr::test::read_file(e.path());
    return out;
  }

  void use_fake_trainer(int epoch_ms) {
    ::setenv("PEPR_TRAIN_CMD", PEPR_FAKE_TRAIN, 1);
    ::setenv("FAKE_TRAIN_EPOCH_MS", std::to_string(epoch_ms).c_str(), 1);
    ::setenv("FAKE_TRAIN_INVOCATIONS", (tmp_.path() / "invocations.txt").c_str(), 1);
  }

  pepr::test::TempDir tmp_;
  fs::path conf_;
  std::map<std::string, std::string> bin_;
  pid_t ctld_ = -1, slurmd_ = -1;
  std::map<std::string, int> interrupted_;
};

TEST_F(SlurmCluster, TheEmittedArrayRunsEveryRunExactlyOnce) {
  use_fake_trainer(20);
  const fs::path script = emit(3, 2, 3);  // 3 models x 2 fractions = 6 runs, 3 shards
  const std::string job = submit(script);
  ASSERT_FALSE(job.empty());
  ASSERT_TRUE(wait_done(job, 120)) << "the job array did not finish\n" << logs();
  EXPECT_TRUE(all_completed_once(6));
  // Every array task wrote its own Slurm output file.
  int outputs = 0;
  for (const auto& e : fs::directory_iterator(runs()))
    outputs += e.path().filename().string().rfind("slurm-" + job + "_", 0) == 0;
  EXPECT_EQ(outputs, 3);
}

TEST_F(SlurmCluster, ABrokenShardExpressionIsCaught) {
  // The check above must be able to fail: every task given shard 0 leaves shards 1 and 2 undone.
  use_fake_trainer(20);
  const fs::path script = emit(3, 2, 3);
  std::string text = pepr::test::read_file(script);
  const std::string good = "--shard \"${SLURM_ARRAY_TASK_ID}/3\"";
  ASSERT_NE(text.find(good), std::string::npos) << text;
  text.replace(text.find(good), good.size(), "--shard \"0/3\"");
  pepr::test::write_file(script, text);
  const std::string job = submit(script);
  ASSERT_TRUE(wait_done(job, 120)) << logs();
  auto result = all_completed_once(6);
  EXPECT_FALSE(result) << "a sweep whose tasks all ran shard 0 passed the check";
  EXPECT_EQ(records().size(), 2u);  // shard 0 of 6 runs in 3 shards: 2 runs, each once
}

TEST_F(SlurmCluster, ACancelledTaskFinishesWhenResubmitted) {
  use_fake_trainer(1500);  // 2 epochs of 1.5 s per run
  const fs::path script = emit(3, 2, 3);
  const std::string job = submit(script);
  // Wait until task 1 trains, then send what `--signal=B:TERM@120` sends before the time limit:
  // SIGTERM to the batch shell, which exec'd pepr bench.
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  bool running = false;
  while (!running && std::chrono::steady_clock::now() < end) {
    auto r = pepr::test::run({bin_["squeue"], "-h", "-j", job + "_1", "-o", "%T"});
    running = r.out.find("RUNNING") != std::string::npos && !invocations().empty();
    if (!running) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(running) << logs();
  std::this_thread::sleep_for(std::chrono::milliseconds(800));  // into its first run
  auto c = pepr::test::run({bin_["scancel"], "--batch", "--signal=TERM", job + "_1"});
  ASSERT_EQ(c.exit_code, 0) << c.err;
  ASSERT_TRUE(wait_done(job, 120)) << logs();
  int interrupted = 0, completed = 0;
  for (const auto& [id, r] : records()) {
    if (r.value("status", "") == "interrupted") {
      ++interrupted;
      interrupted_[id] = 1;  // trained once more after the resubmission
    }
    completed += r.value("status", "") == "completed";
  }
  EXPECT_EQ(interrupted, 1) << slurm_outputs();
  EXPECT_LT(completed, 6);  // task 1 stopped: its shard is unfinished

  // Resubmitting the same script resumes: the interrupted run and the shard's rest are trained,
  // completed runs are not.
  const std::string again = submit(script);
  ASSERT_TRUE(wait_done(again, 180)) << logs();
  EXPECT_TRUE(all_completed_once(6));
}

TEST(SlurmScript, GpusForACpuPlanAreAWarningAndTheScriptNamesTheDevice) {
  ::setenv("PEPR_TRAIN_CMD", PEPR_FAKE_TRAIN, 1);  // the fake trainer knows every model name
  pepr::test::TempDir tmp;
  pepr::test::write_file(tmp.path() / "toy.npz", "");
  pepr::test::write_file(tmp.path() / "plan.toml", plan_text(1, 1));
  auto r =
      pepr::test::run_pepr({"bench", (tmp.path() / "plan.toml").string(), "-o",
                            (tmp.path() / "runs").string(), "--emit-slurm", "-", "--gpus", "2"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("--gpus 2 but the plan trains on cpu"), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("# device: cpu (the plan's)"), std::string::npos) << r.out;
  auto quiet = pepr::test::run_pepr({"bench", (tmp.path() / "plan.toml").string(), "-o",
                                     (tmp.path() / "runs").string(), "--emit-slurm", "-"});
  EXPECT_EQ(quiet.err.find("--gpus"), std::string::npos) << quiet.err;
  ::unsetenv("PEPR_TRAIN_CMD");
}

}  // namespace
