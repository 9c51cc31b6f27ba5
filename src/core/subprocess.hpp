// One way to run a child process (POSIX): start it, optionally hold it before exec, learn whether
// exec succeeded, read its output through pipes, signal it, and reap it with its resource usage.
// `pepr track`, the sweep's trainer children and run_capture all go through it.
#pragma once

#include <signal.h>
#include <sys/resource.h>
#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

namespace pepr {

struct SpawnOptions {
  enum class Output {
    inherit,   // the child writes to this process's stdout and stderr
    merged,    // stdout and stderr into one pipe (out_fd)
    separate,  // stdout into out_fd, stderr into err_fd
  };
  Output output = Output::inherit;
  bool null_stdin = false;       // stdin from /dev/null instead of this process's
  bool nonblocking = false;      // the pipes' read ends are O_NONBLOCK
  bool die_with_parent = false;  // the child gets SIGTERM when this process dies, even by SIGKILL
  bool gated = false;            // the child waits before exec until release()
};

// A waitpid() status.
struct ExitStatus {
  int raw = 0;
  bool signaled() const;
  int signal() const;  // the signal that ended it, or 0
  // The exit status, or 128 + the signal, as a shell reports it.
  int code() const;
  // "exited with status 3", "killed by signal 9 (SIGKILL); out of memory?".
  std::string describe() const;
};

// A started child. The child always starts with an empty signal mask, with every signal that this
// process catches back to its default action (before it is unblocked: a signal sent just after
// fork reaches the program, not a copy of this process's handler) and with SIGPIPE at its
// default. Moving it moves the ownership; destroying a child that was not reaped kills (SIGKILL)
// and reaps it.
class Subprocess {
 public:
  // Starts argv[0] (a path, or a name found on PATH). Throws pepr::Error when no pipe or process
  // can be made; a program that cannot be run is not an error here: exec_error() says why and
  // the child exits with 127 (as a shell's would).
  static Subprocess spawn(const std::vector<std::string>& argv, const SpawnOptions& opt = {});

  Subprocess() = default;
  Subprocess(Subprocess&& o) noexcept;
  Subprocess& operator=(Subprocess&& o) noexcept;
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;
  ~Subprocess();

  pid_t pid() const { return pid_; }
  // For a gated child: lets it exec and waits until it has (or failed to). Returns exec_error().
  int release();
  // 0 once the program runs; the errno of its failed exec (ENOENT, EACCES...) otherwise. Known
  // after spawn(), or after release() for a gated child.
  int exec_error() const { return exec_errno_; }
  // The pipes' read ends (-1 unless piped); close_out()/close_err() close them early.
  int out_fd() const { return out_fd_; }
  int err_fd() const { return err_fd_; }
  void close_out();
  void close_err();

  // Reaps the child if it has ended (nullopt while it runs); `usage` gets its resource usage.
  std::optional<ExitStatus> try_wait(struct rusage* usage = nullptr);
  // Waits for the child to end (retrying on EINTR).
  ExitStatus wait(struct rusage* usage = nullptr);
  // Sends a signal; false once the child was reaped (its pid may belong to another process).
  bool kill(int sig) const;
  bool reaped() const { return pid_ <= 0 || status_.has_value(); }

 private:
  pid_t pid_ = -1;
  int out_fd_ = -1, err_fd_ = -1;
  int gate_fd_ = -1, exec_fd_ = -1;
  int exec_errno_ = 0;
  std::optional<ExitStatus> status_;
  void read_exec_result();
  void close_all();
};

// Forwards the given signals, when another process sends them to this one (kill, a batch
// scheduler: not those typed at the terminal, which already reach the child in the same process
// group), to one child. From construction the signals are blocked and handled; forward_to(pid)
// names the child and unblocks them, so one that arrived in between is forwarded then, not lost.
// Signals this process ignores (e.g. SIGHUP under nohup) are left alone. The destructor restores
// the handlers and the mask. One forwarder at a time per process.
class SignalForwarder {
 public:
  explicit SignalForwarder(std::vector<int> signals);
  ~SignalForwarder();
  SignalForwarder(const SignalForwarder&) = delete;
  SignalForwarder& operator=(const SignalForwarder&) = delete;
  void forward_to(pid_t child);

 private:
  std::vector<int> handled_;           // the signals given a forwarding handler
  std::vector<struct sigaction> old_;  // their handlers before
  sigset_t old_mask_{};
};

struct CaptureResult {
  int exit_code = -1;  // the exit status, 128 + signal when killed, 127 when it cannot start
  std::string out, err;
};

// Runs argv (argv[0] a path, or a name found on PATH) with stdin from /dev/null and captures
// stdout and stderr. A process that cannot be made gives exit_code -1.
CaptureResult run_capture(const std::vector<std::string>& argv);

}  // namespace pepr
