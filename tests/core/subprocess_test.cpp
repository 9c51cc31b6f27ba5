// core/subprocess: one way to run a child. Real children (sh, sleep) throughout; the signal tests
// cover the races CI once found in pepr track (a signal just after fork, before the child's pid
// was known or before the child's handlers were reset).
#include "core/subprocess.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "core/error.hpp"
#include "support/test_support.hpp"

namespace pepr {
namespace {

namespace fs = std::filesystem;

std::string read_all(int fd) {
  std::string s;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) != 0) {
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    s.append(buf, static_cast<std::size_t>(n));
  }
  return s;
}

// Running and not a zombie (an orphan's zombie may wait long for a reaper in a container).
bool running(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(f, line)) return false;
  auto close = line.rfind(')');
  return close != std::string::npos && close + 2 < line.size() && line[close + 2] != 'Z';
}

bool wait_until_gone(pid_t pid, double seconds) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < end) {
    if (!running(pid)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return !running(pid);
}

TEST(Subprocess, CapturesStdoutAndStderrApartWithTheExitCode) {
  auto r = run_capture({"sh", "-c", "echo out; echo err >&2; exit 3"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.out, "out\n");
  EXPECT_EQ(r.err, "err\n");
}

TEST(Subprocess, MergedOutputIsOnePipe) {
  SpawnOptions o;
  o.output = SpawnOptions::Output::merged;
  auto p = Subprocess::spawn({"sh", "-c", "echo a; echo b >&2; echo c"}, o);
  EXPECT_EQ(p.err_fd(), -1);
  EXPECT_EQ(read_all(p.out_fd()), "a\nb\nc\n");
  EXPECT_EQ(p.wait().code(), 0);
}

TEST(Subprocess, NullStdinGivesEndOfFile) {
  SpawnOptions o;
  o.output = SpawnOptions::Output::separate;
  o.null_stdin = true;
  auto p = Subprocess::spawn({"sh", "-c", "cat; echo done"}, o);
  EXPECT_EQ(read_all(p.out_fd()), "done\n");
  EXPECT_EQ(p.wait().code(), 0);
}

TEST(Subprocess, ExecFailureIsReportedWithItsErrno) {
  auto missing = Subprocess::spawn({"/nonexistent/pepr-no-such-program"});
  EXPECT_EQ(missing.exec_error(), ENOENT);
  EXPECT_EQ(missing.wait().code(), 127);

  test::TempDir dir;
  const fs::path script = dir.path() / "not-executable.sh";
  std::ofstream(script) << "#!/bin/sh\nexit 0\n";
  ::chmod(script.c_str(), 0644);
  auto denied = Subprocess::spawn({script.string()});
  EXPECT_EQ(denied.exec_error(), EACCES);
  EXPECT_EQ(denied.wait().code(), 127);

  auto found = Subprocess::spawn({"true"});  // a name on PATH
  EXPECT_EQ(found.exec_error(), 0);
  EXPECT_EQ(found.wait().code(), 0);

  EXPECT_EQ(run_capture({"/nonexistent/pepr-no-such-program"}).exit_code, 127);
}

TEST(Subprocess, AGatedChildRunsOnlyAfterRelease) {
  test::TempDir dir;
  const fs::path mark = dir.path() / "ran";
  SpawnOptions o;
  o.gated = true;
  auto p = Subprocess::spawn({"sh", "-c", "echo ran > '" + mark.string() + "'"}, o);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_FALSE(fs::exists(mark)) << "the child ran before release()";
  EXPECT_FALSE(p.try_wait().has_value());
  EXPECT_EQ(p.release(), 0);
  EXPECT_EQ(p.wait().code(), 0);
  EXPECT_TRUE(fs::exists(mark));

  // The exec error of a gated child is known at release().
  auto bad = Subprocess::spawn({"/nonexistent/pepr-no-such-program"}, o);
  EXPECT_EQ(bad.exec_error(), 0);
  EXPECT_EQ(bad.release(), ENOENT);
  EXPECT_EQ(bad.wait().code(), 127);
}

// pepr track forwards a SIGTERM to its gated child as soon as the child's pid is known; one that
// arrives before the child's exec ends the child there, and release() then writes to a gate whose
// reader is gone. That write must not raise SIGPIPE in pepr (its default action ended pepr track
// instead of reporting the child's signal: the flaky TrackCli.ForwardsSigterm).
TEST(Subprocess, ReleasingAChildThatDiedBeforeItsExecReportsItsSignal) {
  SpawnOptions o;
  o.gated = true;
  auto p = Subprocess::spawn({"sleep", "30"}, o);
  ASSERT_EQ(::kill(p.pid(), SIGTERM), 0);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  // Dead (a zombie) before release: /proc/PID/stat says Z.
  for (;;) {
    std::ifstream stat("/proc/" + std::to_string(p.pid()) + "/stat");
    std::string line;
    std::getline(stat, line);
    const auto close = line.rfind(')');
    if (close != std::string::npos && line.substr(close + 2, 1) == "Z") break;
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "the gated child did not die";
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(p.release(), 0);  // this process is still alive: no SIGPIPE ended it
  sigset_t pending;
  sigpending(&pending);
  EXPECT_EQ(sigismember(&pending, SIGPIPE), 0) << "a SIGPIPE was left pending";
  EXPECT_EQ(p.wait().signal(), SIGTERM);
}

TEST(Subprocess, TryWaitAndKillAndUsage) {
  auto p = Subprocess::spawn({"sleep", "30"});
  EXPECT_FALSE(p.try_wait().has_value());
  EXPECT_FALSE(p.reaped());
  EXPECT_TRUE(p.kill(SIGTERM));
  struct rusage ru {};
  ExitStatus st = p.wait(&ru);
  EXPECT_TRUE(st.signaled());
  EXPECT_EQ(st.signal(), SIGTERM);
  EXPECT_EQ(st.code(), 128 + SIGTERM);
  EXPECT_EQ(st.describe(), "killed by signal 15 (SIGTERM)");
  EXPECT_TRUE(p.reaped());
  EXPECT_FALSE(p.kill(SIGTERM)) << "a reaped pid may be another process's: never signalled";

  // The child's CPU time comes back from wait().
  auto busy = Subprocess::spawn({"sh", "-c", "i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done"});
  struct rusage bu {};
  EXPECT_EQ(busy.wait(&bu).code(), 0);
  EXPECT_GT(bu.ru_utime.tv_sec * 1e6 + bu.ru_utime.tv_usec + bu.ru_stime.tv_sec * 1e6 +
                bu.ru_stime.tv_usec,
            0);

  ExitStatus killed{};
  killed.raw = SIGKILL;  // WIFSIGNALED with WTERMSIG 9
  EXPECT_EQ(killed.describe(), "killed by signal 9 (SIGKILL); out of memory?");
  ExitStatus exited{};
  exited.raw = 3 << 8;
  EXPECT_EQ(exited.describe(), "exited with status 3");
}

TEST(Subprocess, DestroyingAnUnreapedChildKillsAndReapsIt) {
  pid_t pid = -1;
  {
    auto p = Subprocess::spawn({"sleep", "30"});
    pid = p.pid();
    ASSERT_TRUE(running(pid));
    Subprocess moved = std::move(p);
    EXPECT_EQ(p.pid(), -1);
    EXPECT_EQ(moved.pid(), pid);
  }
  // Reaped by the destructor: not even a zombie of ours is left.
  EXPECT_EQ(::waitpid(pid, nullptr, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD);
}

// The parent catches and blocks SIGTERM (as pepr track does while it starts a child). A SIGTERM
// sent to the child at once must end the child's program, not run a copy of the parent's handler
// in the child before exec.
std::atomic<int> g_caught{0};
void count_signal(int) {
  g_caught.fetch_add(1);
}

TEST(Subprocess, ASignalJustAfterForkReachesTheChildNotTheParentsHandler) {
  struct sigaction sa {
  }, old{};
  sa.sa_handler = count_signal;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGTERM, &sa, &old);
  sigset_t term, old_mask;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  ::sigprocmask(SIG_BLOCK, &term, &old_mask);
  SpawnOptions o;
  o.gated = true;
  for (int i = 0; i < 5; ++i) {
    // Were the signal caught by the copy of our handler, `sleep 3` would run and exit 0.
    auto p = Subprocess::spawn({"sleep", "3"}, o);
    ASSERT_TRUE(p.kill(SIGTERM));  // the child is somewhere between fork and its gate
    p.release();
    ExitStatus st = p.wait();
    EXPECT_EQ(st.signal(), SIGTERM) << "try " << i << ": " << st.describe();
  }
  ::sigprocmask(SIG_SETMASK, &old_mask, nullptr);
  ::sigaction(SIGTERM, &old, nullptr);
  EXPECT_EQ(g_caught.load(), 0);
}

TEST(Subprocess, TheChildDiesWithItsParentWhenAsked) {
  // A middle process starts `sleep 30`, reports its pid, and exits without waiting for it.
  auto orphan_of = [](bool die_with_parent) {
    int fds[2];
    EXPECT_EQ(::pipe(fds), 0);
    pid_t middle = ::fork();
    if (middle == 0) {
      ::close(fds[0]);
      SpawnOptions o;
      o.die_with_parent = die_with_parent;
      auto p = Subprocess::spawn({"sleep", "30"}, o);
      pid_t pid = p.pid();
      (void)!::write(fds[1], &pid, sizeof pid);
      ::_exit(0);  // no destructor: the child is left behind
    }
    ::close(fds[1]);
    pid_t pid = -1;
    EXPECT_EQ(::read(fds[0], &pid, sizeof pid), static_cast<ssize_t>(sizeof pid));
    ::close(fds[0]);
    ::waitpid(middle, nullptr, 0);
    return pid;
  };
  const pid_t dies = orphan_of(true);
  EXPECT_TRUE(wait_until_gone(dies, 10)) << "the child outlived its parent";
  const pid_t lives = orphan_of(false);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_TRUE(running(lives)) << "without die_with_parent the child should live on";
  ::kill(lives, SIGKILL);
}

TEST(SignalForwarder, ASignalHeldBeforeTheChildIsKnownIsForwardedToIt) {
  SignalForwarder fw({SIGTERM});
  ASSERT_EQ(::kill(::getpid(), SIGTERM), 0);  // blocked: pending in this process
  auto child = Subprocess::spawn({"sleep", "30"});
  fw.forward_to(child.pid());  // unblocked: the handler forwards it now
  ExitStatus st = child.wait();
  EXPECT_EQ(st.signal(), SIGTERM) << st.describe();
}

TEST(SignalForwarder, IgnoredSignalsStayIgnoredInThisProcessAndTheChild) {
  struct sigaction ign {
  }, old{};
  ign.sa_handler = SIG_IGN;
  sigemptyset(&ign.sa_mask);
  ::sigaction(SIGHUP, &ign, &old);
  {
    SignalForwarder fw({SIGHUP, SIGTERM});
    auto child = Subprocess::spawn({"sleep", "30"});
    fw.forward_to(child.pid());
    ::kill(::getpid(), SIGHUP);       // ignored here (as under nohup), so not forwarded either
    ASSERT_TRUE(child.kill(SIGHUP));  // and ignored by the child, which inherited it
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    EXPECT_FALSE(child.try_wait().has_value()) << "SIGHUP ended a child started under nohup";
    ::kill(::getpid(), SIGTERM);  // forwarded
    EXPECT_EQ(child.wait().signal(), SIGTERM);
  }
  ::sigaction(SIGHUP, &old, nullptr);
}

TEST(SignalForwarder, OneAtATime) {
  SignalForwarder fw({SIGUSR2});
  EXPECT_THROW(SignalForwarder second({SIGUSR2}), Error);
}

}  // namespace
}  // namespace pepr
