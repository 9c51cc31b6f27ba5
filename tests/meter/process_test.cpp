// Memory of a process tree whose processes share pages after fork (a parent and forked workers).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "meter/process.hpp"
#include "meter/tracker.hpp"
#include "meter_test_util.hpp"
#include "support/test_support.hpp"

namespace pepr::meter {
namespace {

using pepr::test::EnvGuard;

// Issue: RSS summed over a parent and its forked children counts every page they share once
// per process: a 300 MB parent with 4 children was reported as 1.63 GB.
TEST(ProcessMemory, ForkedChildrenSharingPagesAreCountedOnce) {
  constexpr std::size_t kBytes = 200u << 20;  // 210 MB
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t parent = ::fork();
  ASSERT_GE(parent, 0);
  if (parent == 0) {
    // The parent of the tree: touches 210 MB, forks 4 workers that keep it shared, waits.
    ::close(ready[0]);
    std::vector<char> block(kBytes);
    std::memset(block.data(), 1, block.size());
    for (int i = 0; i < 4; ++i)
      if (::fork() == 0) {
        volatile char sink = block[static_cast<std::size_t>(i) * 4096];
        (void)sink;
        ::pause();  // until killed
        ::_exit(0);
      }
    (void)!::write(ready[1], "r", 1);
    ::pause();
    ::_exit(0);
  }
  ::close(ready[1]);
  char c;
  ASSERT_EQ(::read(ready[0], &c, 1), 1);
  ::close(ready[0]);

  ProcessTree tree(parent);
  std::vector<pid_t> pids;
  for (int i = 0; i < 100 && pids.size() < 5; ++i) {  // the workers appear in /proc
    tree.read(static_cast<double>(i), 0);
    pids = tree.pids();
    if (pids.size() < 5) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(pids.size(), 5u);
  const ProcReading r = tree.read(1000.0, 0);
  EXPECT_EQ(tree.memory_method(), "pss");

  EnvGuard env{PEPR_NO_SENSORS_ENV};
  Tracker t;
  t.set_target(parent);
  t.start();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto total = t.stop();
  auto j = t.to_json();
  for (pid_t p : pids) ::kill(p, SIGKILL);
  ::waitpid(parent, nullptr, 0);

  const double gb = static_cast<double>(kBytes) / 1e9;
  // Five processes each map the 210 MB: RSS summed would be about 1.05 GB.
  EXPECT_GT(r.rss_gb, 0.9 * gb);
  EXPECT_LT(r.rss_gb, 1.5 * gb) << "shared pages counted more than once";
  EXPECT_GT(total.mem_peak_gb, 0.9 * gb);
  EXPECT_LT(total.mem_peak_gb, 1.5 * gb);
  EXPECT_EQ(j["methods"]["memory_kind"], "pss");
}

TEST(ProcessMemory, ALoneProcessIsItsRss) {
  ProcessTree tree(0);
  const ProcReading r = tree.read(0.0, 0);
  if (tree.pids().size() == 1) {
    EXPECT_EQ(tree.memory_method(), "rss");
  }
  EXPECT_GT(r.rss_gb, 0.0);
}

}  // namespace
}  // namespace pepr::meter

// A child that grew to 200 MB, exec'd a small program and exited: read once more between its exit
// and wait4 (a zombie, the window a sampler can hit under load), its peak is still the small
// program's, not the pre-exec 200 MB that Linux keeps in ru_maxrss.
TEST(ProcessMemory, ChildReadWhileAZombieKeepsItsPeakAfterExec) {
  pepr::test::GrownChildBeforeExec child("0.2");
  const pid_t pid = child.pid();
  ASSERT_GE(pid, 0);
  pepr::meter::ProcessTree tree(pid);
  ASSERT_TRUE(child.wait_grown());
  const double pre_exec = tree.read(0.0).rss_gb;
  EXPECT_GT(pre_exec, 0.15);
  ASSERT_TRUE(child.release_and_wait_exec());
  tree.note_exec(pre_exec);
  tree.read(1.0);  // alive, after the exec: sleep's own VmHWM
  siginfo_t info{};
  ASSERT_EQ(::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOWAIT), 0);  // a zombie
  tree.read(2.0);
  struct rusage ru {};
  int status = 0;
  ASSERT_EQ(::wait4(pid, &status, 0, &ru), pid);
  tree.set_exited(ru);
  EXPECT_GT(static_cast<double>(ru.ru_maxrss) * 1024 / 1e9, 0.15);
  EXPECT_LT(tree.kernel_peak_gb(), 0.05);
  EXPECT_GT(tree.kernel_peak_gb(), 0.0);
}
