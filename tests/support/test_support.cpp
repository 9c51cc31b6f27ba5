#include "support/test_support.hpp"

#include <poll.h>
#include <pty.h>
#include <sys/ioctl.h>

#include <chrono>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace pepr::test {

namespace fs = std::filesystem;

std::optional<fs::path> shared_data_dir() {
  if (const char* env = std::getenv("PEPR_SHARED_DATA"); env && *env) {
    if (fs::is_directory(env)) return fs::path(env);
    return std::nullopt;
  }
  fs::path p(PEPR_SHARED_DATA_DIR);
  if (fs::is_directory(p)) return fs::canonical(p);
  return std::nullopt;
}

std::optional<fs::path> shared_data(const std::string& relative) {
  auto dir = shared_data_dir();
  if (!dir) return std::nullopt;
  fs::path p = *dir / relative;
  if (!fs::exists(p)) return std::nullopt;
  return p;
}

TempDir::TempDir() {
  std::random_device rd;
  for (int i = 0; i < 100; ++i) {
    fs::path p = fs::temp_directory_path() / ("pepr-test-" + std::to_string(rd()));
    if (fs::create_directory(p)) {
      path_ = p;
      return;
    }
  }
  throw std::runtime_error("cannot create a temporary folder");
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

void write_file(const fs::path& path, const std::string& content) {
  std::ofstream f(path, std::ios::binary);
  f << content;
  if (!f) throw std::runtime_error("cannot write " + path.string());
}

std::string read_file(const fs::path& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("cannot read " + path.string());
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

std::string pepr_binary() {
  if (const char* env = std::getenv("PEPR_BIN"); env && *env) return env;
  return std::string(PEPR_BINARY_DIR) + "/pepr";
}

fs::path source_dir() {
  return fs::path(PEPR_SOURCE_DIR);
}

namespace {
std::string drain(int fd) {
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}
}  // namespace

RunResult run(const std::vector<std::string>& argv, const std::string& stdin_text) {
  ::signal(SIGPIPE, SIG_IGN);  // a child that ignores its stdin must not kill the test
  int in[2], out[2], err[2];
  if (::pipe(in) || ::pipe(out) || ::pipe(err)) throw std::runtime_error("pipe failed");
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    ::dup2(in[0], 0);
    ::dup2(out[1], 1);
    ::dup2(err[1], 2);
    for (int fd : {in[0], in[1], out[0], out[1], err[0], err[1]}) ::close(fd);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    _exit(127);
  }
  ::close(in[0]);
  ::close(out[1]);
  ::close(err[1]);
  std::thread writer([&] {
    std::size_t off = 0;
    while (off < stdin_text.size()) {
      ssize_t n = ::write(in[1], stdin_text.data() + off, stdin_text.size() - off);
      if (n <= 0) break;
      off += static_cast<std::size_t>(n);
    }
    ::close(in[1]);
  });
  RunResult r;
  std::thread err_reader([&] { r.err = drain(err[0]); });
  r.out = drain(out[0]);
  err_reader.join();
  writer.join();
  ::close(out[0]);
  ::close(err[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

RunResult run_in_pty(const std::vector<std::string>& argv, const PtyOptions& o) {
  struct winsize ws {};
  ws.ws_row = 24;
  ws.ws_col = static_cast<unsigned short>(o.columns);
  int master = -1;
  pid_t pid = ::forkpty(&master, nullptr, nullptr, &ws);
  if (pid < 0) throw std::runtime_error("forkpty failed");
  if (pid == 0) {
    for (const auto& [k, v] : o.env) {
      if (v)
        ::setenv(k.c_str(), v->c_str(), 1);
      else
        ::unsetenv(k.c_str());
    }
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    _exit(127);
  }
  RunResult r;
  const auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  bool resized = false;
  char buf[4096];
  for (;;) {
    struct pollfd p {};
    p.fd = master;
    p.events = POLLIN;
    const int ready = ::poll(&p, 1, 100);
    if (!resized && o.resize_after_s >= 0 && elapsed() >= o.resize_after_s) {
      struct winsize w2 = ws;
      w2.ws_col = static_cast<unsigned short>(o.resize_to);
      ::ioctl(master, TIOCSWINSZ, &w2);  // the child gets SIGWINCH
      resized = true;
    }
    if (elapsed() > o.timeout_s) {
      ::kill(pid, SIGKILL);
      r.err = "killed after the timeout";
      break;
    }
    if (ready < 0 && errno == EINTR) continue;
    if (ready > 0) {
      const ssize_t n = ::read(master, buf, sizeof buf);
      if (n > 0) {
        r.out.append(buf, static_cast<std::size_t>(n));
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      break;  // EIO: the child closed the terminal (exited)
    }
  }
  ::close(master);
  int status = 0;
  ::waitpid(pid, &status, 0);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

RunResult run_pepr_in_pty(const std::vector<std::string>& args, const PtyOptions& options) {
  std::vector<std::string> argv{pepr_binary()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_in_pty(argv, options);
}

RunResult run_pepr(const std::vector<std::string>& args, const std::string& stdin_text) {
  std::vector<std::string> argv{pepr_binary()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv, stdin_text);
}

bool pepr_has_train() {
  static const bool has = run_pepr({"train", "--help"}).exit_code == 0;
  return has;
}

}  // namespace pepr::test
