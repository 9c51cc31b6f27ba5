// Shared machines: other pepr meters found through the registry, Slurm jobs with part of a node.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include <nlohmann/json.hpp>

#include "meter/sharing.hpp"
#include "meter/tracker.hpp"
#include "meter/util.hpp"
#include "meter_test_util.hpp"
#include "support/test_support.hpp"

namespace pepr::meter {
namespace {

using pepr::test::EnvGuard;

bool any_entry(const std::filesystem::path& dir) {
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec))
    if (e.path().extension() == ".meter") return true;
  return false;
}

// Issue: two pepr meters on one node each reported the whole node's energy as their own.
TEST(Sharing, TwoMetersAtOnceMarkEachOtherWholeMachine) {
  pepr::test::TempDir tmp;
  const auto reg = tmp.path() / "registry";
  EnvGuard env{PEPR_NO_SENSORS_ENV, {"PEPR_METER_REGISTRY", reg.string()}};
  const auto rec = tmp.path() / "other.json";
  // Started through a shell that exits at once: the other meter is no descendant of this
  // process (a descendant would be this job's own).
  auto r = pepr::test::run({"sh", "-c", "\"$0\" track -q -o \"$1\" -- sleep 1 >/dev/null 2>&1 &",
                            pepr::test::pepr_binary(), rec.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (int i = 0; i < 500 && !any_entry(reg); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_TRUE(any_entry(reg)) << "pepr track never registered in " << reg;
  Tracker mine;
  mine.start();
  // The other meter stops while this one runs.
  for (int i = 0; i < 1000 && !std::filesystem::exists(rec); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  mine.stop();
  ASSERT_TRUE(std::filesystem::exists(rec)) << "pepr track wrote no record";

  auto j = mine.to_json();
  EXPECT_EQ(j["sharing"]["attribution"], "whole-machine") << j["sharing"].dump();
  ASSERT_EQ(j["sharing"]["other_meters"].size(), 1u);
  bool noted = false;
  for (const auto& n : j["notes"])
    noted |= n.get<std::string>().find(
                 "shared machine: 1 other pepr meter ran at the same "
                 "time") != std::string::npos;
  EXPECT_TRUE(noted) << j["notes"].dump();

  auto o = nlohmann::json::parse(pepr::test::read_file(rec));
  EXPECT_EQ(o["sharing"]["attribution"], "whole-machine") << o["sharing"].dump();
  EXPECT_EQ(o["sharing"]["other_meters"], nlohmann::json::array({::getpid()}));
  EXPECT_FALSE(any_entry(reg)) << "entries left behind";
}

TEST(Sharing, MetersOfOneJobAreNotOthers) {
  // pepr track around pepr track: the inner meter is the outer's child, the outer its ancestor.
  pepr::test::TempDir tmp;
  EnvGuard env{PEPR_NO_SENSORS_ENV, {"PEPR_METER_REGISTRY", (tmp.path() / "registry").string()}};
  const auto outer = tmp.path() / "outer.json", inner = tmp.path() / "inner.json";
  // The inner run lasts past the outer's periodic check (every 2 s).
  auto r =
      pepr::test::run_pepr({"track", "-q", "-o", outer.string(), "--", pepr::test::pepr_binary(),
                            "track", "-q", "-o", inner.string(), "--", "sleep", "2.5"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const auto& p : {outer, inner}) {
    auto j = nlohmann::json::parse(pepr::test::read_file(p));
    EXPECT_EQ(j["sharing"]["attribution"], "job") << p << ": " << j["sharing"].dump();
  }
}

TEST(Sharing, EntriesOfMetersThatAreGoneAreRemoved) {
  pepr::test::TempDir tmp;
  const auto stale = tmp.path() / "999999-0.meter";
  pepr::test::write_file(stale, "");
  const auto live = tmp.path() / "424242-3.meter";
  pepr::test::write_file(live, "");
  const int fd = ::open(live.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX), 0);  // held as a running meter holds it
  pepr::test::write_file(tmp.path() / "garbage.meter", "");
  pepr::test::write_file(tmp.path() / "12-x", "");
  EXPECT_EQ(running_meters(tmp.path().string()), std::vector<pid_t>{424242});
  EXPECT_FALSE(std::filesystem::exists(stale));
  EXPECT_TRUE(std::filesystem::exists(live));
  ::close(fd);
  EXPECT_TRUE(running_meters(tmp.path().string()).empty());
}

// A process that keeps one CPU busy for `seconds` and is not a descendant of this one (the
// tracker counts its own process tree as the job): started by a child that exits at once.
void spin_elsewhere(double seconds) {
  const pid_t child = ::fork();
  if (child == 0) {
    if (::fork() == 0) {
      volatile double x = 0;
      const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
      while (std::chrono::steady_clock::now() < end) x = x + 1;
      ::_exit(0);
    }
    ::_exit(0);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
}

TEST(Sharing, ThreadsLeaveTheCpusOthersKeepBusy) {
  EXPECT_EQ(threads_for_free_cpus(2, 0.1), 2);
  EXPECT_EQ(threads_for_free_cpus(2, 1.0), 1);
  EXPECT_EQ(threads_for_free_cpus(2, 4.7), 1);  // never fewer than one
  EXPECT_EQ(threads_for_free_cpus(16, 3.4), 13);
  EXPECT_EQ(threads_for_free_cpus(8, -1), 8);
  EXPECT_EQ(threads_for_free_cpus(0, 0), 1);
}

// pepr train samples the load once at its start and hands the figure on (through a re-exec too):
// the trainer's thread choice reads it instead of sampling again, once.
TEST(Sharing, TheLoadSampledAtTheStartIsHandedOnOnce) {
  pepr::meter::remember_busy_cores_at_start(1.25);
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(pepr::meter::busy_cores_at_start(5.0), 1.25);  // no 5 s sample taken
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 4.0);
  EXPECT_EQ(std::getenv("PEPR_BUSY_CORES_AT_START"), nullptr);  // a child samples its own
  ::setenv("PEPR_BUSY_CORES_AT_START", "lots", 1);              // garbage: sampled instead
  const auto sampled = pepr::meter::busy_cores_at_start(0.05);
  ASSERT_TRUE(sampled.has_value());  // /proc/stat is readable here
  EXPECT_GE(*sampled, 0.0);
  EXPECT_EQ(std::getenv("PEPR_BUSY_CORES_AT_START"), nullptr);
}

// Issue 31: on a machine with other work, runs took 6-10 s instead of 0.4 s and nothing said so.
TEST(Sharing, ALoadedMachineIsRecordedAndSaid) {
  pepr::test::TempDir tmp;
  EnvGuard env{PEPR_NO_SENSORS_ENV, {"PEPR_METER_REGISTRY", (tmp.path() / "registry").string()}};
  spin_elsewhere(1.5);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const auto busy = busy_cores_now(0.3);
  ASSERT_TRUE(busy.has_value());
  // The spinner alone keeps about one CPU busy (less when the tests beside it compete).
  EXPECT_GE(*busy, 0.4);
  Tracker t;
  t.start();
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  t.stop();
  auto j = t.to_json();
  ASSERT_TRUE(j["sharing"]["others_busy_cores"].is_number()) << j["sharing"].dump();
  EXPECT_GE(j["sharing"]["others_busy_cores"].get<double>(), kLoadedBusyCores);
  EXPECT_EQ(j["sharing"]["loaded"], true);
  bool said = false;
  for (const auto& n : j["notes"])
    said = said || n.get<std::string>().rfind("loaded machine: other processes kept", 0) == 0;
  EXPECT_TRUE(said) << j["notes"].dump();
}

TEST(Sharing, RegistryOffIsSaid) {
  EnvGuard env{PEPR_NO_SENSORS_ENV, {"PEPR_METER_REGISTRY", std::string("off")}};
  Tracker t;
  t.start();
  t.stop();
  auto j = t.to_json();
  EXPECT_EQ(j["sharing"]["attribution"], "job");
  EXPECT_NE(j["sharing"]["registry"].get<std::string>().find("registry off"), std::string::npos);
}

TEST(Sharing, SlurmJobWithPartOfTheNode) {
  EnvGuard env{{"SLURM_JOB_ID", std::string("4242")}, {"SLURM_CPUS_ON_NODE", std::string("4")}};
  auto s = slurm_partial_node(64);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->job_id, "4242");
  EXPECT_EQ(s->job_cpus, 4);
  EXPECT_FALSE(slurm_partial_node(4).has_value());  // the whole node
  {
    EnvGuard garbage{{"SLURM_CPUS_ON_NODE", std::string("lots")}};
    EXPECT_FALSE(slurm_partial_node(64).has_value());
  }
  {
    EnvGuard no_job{{"SLURM_JOB_ID", std::nullopt}};
    EXPECT_FALSE(slurm_partial_node(64).has_value());
  }
  if (online_cpus() < 2) GTEST_SKIP() << "one CPU: no partial allocation to make";
  pepr::test::TempDir tmp;
  EnvGuard one{PEPR_NO_SENSORS_ENV,
               {"SLURM_CPUS_ON_NODE", std::string("1")},
               {"PEPR_METER_REGISTRY", (tmp.path() / "registry").string()}};
  Tracker t;
  t.start();
  // Some CPU work, so the machine's busy time moves by more than a clock tick.
  volatile double x = 0;
  for (auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(100);
       std::chrono::steady_clock::now() < end;)
    x = x + 1;
  t.stop();
  auto j = t.to_json();
  EXPECT_EQ(j["sharing"]["attribution"], "whole-machine");
  EXPECT_EQ(j["sharing"]["slurm"]["job_cpus"], 1);
  ASSERT_TRUE(j["sharing"]["cpu_time_share"].is_number()) << j["sharing"].dump();
  EXPECT_GT(j["sharing"]["cpu_time_share"].get<double>(), 0.0);
  EXPECT_LE(j["sharing"]["cpu_time_share"].get<double>(), 1.0);
}

}  // namespace
}  // namespace pepr::meter
