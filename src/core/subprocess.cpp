#include "core/subprocess.hpp"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include <atomic>
#include <cerrno>
#include <cstring>
#include <utility>

#include <fmt/format.h>

#include "core/error.hpp"

namespace pepr {

bool ExitStatus::signaled() const {
  return WIFSIGNALED(raw);
}

int ExitStatus::signal() const {
  return WIFSIGNALED(raw) ? WTERMSIG(raw) : 0;
}

int ExitStatus::code() const {
  if (WIFEXITED(raw)) return WEXITSTATUS(raw);
  if (WIFSIGNALED(raw)) return 128 + WTERMSIG(raw);
  return 1;
}

std::string ExitStatus::describe() const {
  if (WIFEXITED(raw)) return fmt::format("exited with status {}", WEXITSTATUS(raw));
  if (WIFSIGNALED(raw)) {
    int sig = WTERMSIG(raw);
    const char* name = sigabbrev_np(sig);
    std::string s = fmt::format("killed by signal {} (SIG{})", sig, name ? name : "?");
    if (sig == SIGKILL) s += "; out of memory?";
    return s;
  }
  return fmt::format("ended with wait status {}", raw);
}

namespace {

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

// Everything below runs in the child between fork and exec: async-signal-safe calls only.
[[noreturn]] void child_exec(char* const* args, const SpawnOptions& opt, pid_t parent, int out_w,
                             int err_w, int gate_r, int exec_w) {
#ifdef __linux__
  if (opt.die_with_parent) {
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) ::_exit(1);  // the parent died before prctl
  }
#else
  (void)parent;
#endif
  // Handlers inherited from this process would run in the child (a copy of pepr) if a signal
  // came before exec: back to the defaults first, then unblock.
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    struct sigaction cur {};
    if (::sigaction(sig, nullptr, &cur) != 0) continue;
    const bool caught =
        (cur.sa_flags & SA_SIGINFO) || (cur.sa_handler != SIG_DFL && cur.sa_handler != SIG_IGN);
    if (caught || sig == SIGPIPE) {
      struct sigaction dfl {};
      dfl.sa_handler = SIG_DFL;
      sigemptyset(&dfl.sa_mask);
      ::sigaction(sig, &dfl, nullptr);
    }
  }
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  if (opt.null_stdin) {
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0 && devnull != 0) {
      ::dup2(devnull, 0);
      ::close(devnull);
    }
  }
  if (out_w >= 0) {
    ::dup2(out_w, 1);
    ::dup2(opt.output == SpawnOptions::Output::merged ? out_w : err_w, 2);
  }
  if (gate_r >= 0) {
    char go;
    ssize_t n;
    while ((n = ::read(gate_r, &go, 1)) < 0 && errno == EINTR) {
    }
    if (n != 1) ::_exit(127);  // the gate closed unopened: the parent gave the child up
  }
  ::execvp(args[0], args);
  int e = errno;
  while (::write(exec_w, &e, sizeof e) < 0 && errno == EINTR) {
  }
  ::_exit(127);
}

}  // namespace

Subprocess Subprocess::spawn(const std::vector<std::string>& argv, const SpawnOptions& opt) {
  if (argv.empty()) throw Error("no program to run");
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);

  // Every descriptor is close-on-exec: none leaks into this or any other child's program.
  int out[2] = {-1, -1}, err[2] = {-1, -1}, gate[2] = {-1, -1}, exec_pipe[2] = {-1, -1};
  auto close_pair = [](int(&p)[2]) {
    close_fd(p[0]);
    close_fd(p[1]);
  };
  auto fail = [&](const char* what) {
    const int e = errno;
    close_pair(out), close_pair(err), close_pair(gate), close_pair(exec_pipe);
    throw Error(fmt::format("cannot start {}: {}: {}", argv[0], what, std::strerror(e)));
  };
  if (opt.output != SpawnOptions::Output::inherit && ::pipe2(out, O_CLOEXEC) != 0) fail("pipe");
  if (opt.output == SpawnOptions::Output::separate && ::pipe2(err, O_CLOEXEC) != 0) fail("pipe");
  if (opt.gated && ::pipe2(gate, O_CLOEXEC) != 0) fail("pipe");
  if (::pipe2(exec_pipe, O_CLOEXEC) != 0) fail("pipe");

  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) fail("fork");
  if (pid == 0) {
    // The child's copies of the parent's ends are closed at exec (O_CLOEXEC); the gate's write
    // end is closed now, so that a parent dying before release() ends the wait.
    if (gate[1] >= 0) ::close(gate[1]);
    child_exec(args.data(), opt, parent, out[1], err[1], gate[0], exec_pipe[1]);
  }
  Subprocess p;
  p.pid_ = pid;
  close_fd(out[1]);
  close_fd(err[1]);
  close_fd(gate[0]);
  close_fd(exec_pipe[1]);
  p.out_fd_ = out[0];
  p.err_fd_ = err[0];
  p.gate_fd_ = gate[1];
  p.exec_fd_ = exec_pipe[0];
  if (opt.nonblocking)
    for (int fd : {p.out_fd_, p.err_fd_})
      if (fd >= 0) ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  if (!opt.gated) p.read_exec_result();
  return p;
}

void Subprocess::read_exec_result() {
  if (exec_fd_ < 0) return;
  int e = 0;
  ssize_t n;
  while ((n = ::read(exec_fd_, &e, sizeof e)) < 0 && errno == EINTR) {
  }
  // End of file: the exec closed the pipe, the program runs.
  exec_errno_ = n == static_cast<ssize_t>(sizeof e) ? e : 0;
  close_fd(exec_fd_);
}

namespace {

// Writes one byte to a pipe whose reader may be gone without raising SIGPIPE in this process
// (whose default action would end it): SIGPIPE is blocked in this thread for the write, and the
// one the write raised, if any, is taken off the pending set before the old mask returns.
void write_byte_no_sigpipe(int fd) {
  sigset_t pipe_set, old;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  sigset_t pending;
  sigpending(&pending);
  const bool was_pending = sigismember(&pending, SIGPIPE) == 1;
  ::pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
  ssize_t n;
  while ((n = ::write(fd, "g", 1)) < 0 && errno == EINTR) {
  }
  if (n < 0 && errno == EPIPE && !was_pending) {
    const struct timespec zero {};
    while (::sigtimedwait(&pipe_set, nullptr, &zero) < 0 && errno == EINTR) {
    }
  }
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

}  // namespace

int Subprocess::release() {
  if (gate_fd_ >= 0) {
    // The child may already be dead (a signal forwarded to it before its exec): then the gate has
    // no reader, and the write fails with EPIPE; wait() reports how the child ended.
    write_byte_no_sigpipe(gate_fd_);
    close_fd(gate_fd_);
  }
  read_exec_result();
  return exec_errno_;
}

Subprocess::Subprocess(Subprocess&& o) noexcept {
  *this = std::move(o);
}

Subprocess& Subprocess::operator=(Subprocess&& o) noexcept {
  if (this != &o) {
    close_all();
    pid_ = std::exchange(o.pid_, -1);
    out_fd_ = std::exchange(o.out_fd_, -1);
    err_fd_ = std::exchange(o.err_fd_, -1);
    gate_fd_ = std::exchange(o.gate_fd_, -1);
    exec_fd_ = std::exchange(o.exec_fd_, -1);
    exec_errno_ = std::exchange(o.exec_errno_, 0);
    status_ = std::exchange(o.status_, std::nullopt);
  }
  return *this;
}

Subprocess::~Subprocess() {
  close_all();
}

void Subprocess::close_all() {
  close_fd(gate_fd_);  // a gated child never released exits without running its program
  close_fd(exec_fd_);
  close_fd(out_fd_);
  close_fd(err_fd_);
  if (pid_ > 0 && !status_) {
    ::kill(pid_, SIGKILL);
    wait();
  }
  pid_ = -1;
  status_.reset();
}

void Subprocess::close_out() {
  close_fd(out_fd_);
}

void Subprocess::close_err() {
  close_fd(err_fd_);
}

std::optional<ExitStatus> Subprocess::try_wait(struct rusage* usage) {
  if (status_ || pid_ <= 0) return status_;
  int st = 0;
  struct rusage ru {};
  pid_t w;
  while ((w = ::wait4(pid_, &st, WNOHANG, &ru)) < 0 && errno == EINTR) {
  }
  if (w != pid_) return std::nullopt;
  status_ = ExitStatus{st};
  if (usage) *usage = ru;
  return status_;
}

ExitStatus Subprocess::wait(struct rusage* usage) {
  if (status_ || pid_ <= 0) return status_.value_or(ExitStatus{});
  int st = 0;
  struct rusage ru {};
  pid_t w;
  while ((w = ::wait4(pid_, &st, 0, &ru)) < 0 && errno == EINTR) {
  }
  status_ = ExitStatus{w == pid_ ? st : 0};
  if (usage) *usage = ru;
  return *status_;
}

bool Subprocess::kill(int sig) const {
  if (pid_ <= 0 || status_) return false;
  return ::kill(pid_, sig) == 0;
}

// ---- SignalForwarder -----------------------------------------------------------------------

namespace {

volatile sig_atomic_t g_forward_to = 0;
std::atomic<bool> g_forwarder_active{false};

void forward_signal(int sig, siginfo_t* info, void*) {
  // Only signals sent by a process (kill, a scheduler); those typed at the terminal already reach
  // the child, which is in the same process group.
  if (!info ||
      !(info->si_code == SI_USER || info->si_code == SI_QUEUE || info->si_code == SI_TKILL))
    return;
  if (g_forward_to > 0) ::kill(static_cast<pid_t>(g_forward_to), sig);
}

}  // namespace

SignalForwarder::SignalForwarder(std::vector<int> signals) {
  if (g_forwarder_active.exchange(true))
    throw Error("internal: a signal forwarder is already active in this process");
  g_forward_to = 0;
  sigset_t block;
  sigemptyset(&block);
  for (int sig : signals) {
    struct sigaction cur {};
    if (::sigaction(sig, nullptr, &cur) != 0) continue;
    if (!(cur.sa_flags & SA_SIGINFO) && cur.sa_handler == SIG_IGN) continue;  // e.g. nohup
    sigaddset(&block, sig);
    handled_.push_back(sig);
  }
  ::sigprocmask(SIG_BLOCK, &block, &old_mask_);
  struct sigaction sa {};
  sa.sa_sigaction = forward_signal;
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  sigemptyset(&sa.sa_mask);
  old_.resize(handled_.size());
  for (std::size_t i = 0; i < handled_.size(); ++i) ::sigaction(handled_[i], &sa, &old_[i]);
}

void SignalForwarder::forward_to(pid_t child) {
  g_forward_to = child;
  ::sigprocmask(SIG_SETMASK, &old_mask_, nullptr);  // a signal held meanwhile is forwarded now
}

SignalForwarder::~SignalForwarder() {
  g_forward_to = 0;
  for (std::size_t i = 0; i < handled_.size(); ++i) ::sigaction(handled_[i], &old_[i], nullptr);
  ::sigprocmask(SIG_SETMASK, &old_mask_, nullptr);
  g_forwarder_active = false;
}

// ---- run_capture ---------------------------------------------------------------------------

CaptureResult run_capture(const std::vector<std::string>& argv) {
  CaptureResult r;
  if (argv.empty()) return r;
  SpawnOptions opt;
  opt.output = SpawnOptions::Output::separate;
  opt.null_stdin = true;
  Subprocess p;
  try {
    p = Subprocess::spawn(argv, opt);
  } catch (const Error&) {
    return r;
  }
  pollfd fds[2] = {{p.out_fd(), POLLIN, 0}, {p.err_fd(), POLLIN, 0}};
  std::string* dest[2] = {&r.out, &r.err};
  int open_fds = 2;
  char buf[65536];
  while (open_fds > 0) {
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        dest[i]->append(buf, static_cast<std::size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  r.exit_code = p.wait().code();
  return r;
}

}  // namespace pepr
