#include "report/cdp.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace pepr::test {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

using Clock = std::chrono::steady_clock;

double seconds_left(Clock::time_point deadline) {
  return std::chrono::duration<double>(deadline - Clock::now()).count();
}

}  // namespace

std::optional<std::string> Chromium::find() {
  std::string path = "/usr/bin/chromium";
  if (const char* env = std::getenv("PEPR_CHROMIUM"); env && *env) path = env;
  if (::access(path.c_str(), X_OK) != 0) return std::nullopt;
  return path;
}

Chromium::Chromium(const std::string& binary, const fs::path& profile_dir) {
  fs::create_directories(profile_dir);
  log_ = profile_dir / "chromium.log";
  int to[2], from[2];
  if (::pipe2(to, O_CLOEXEC) != 0 || ::pipe2(from, O_CLOEXEC) != 0)
    throw std::runtime_error("pipe2 failed");
  const std::string user_data = "--user-data-dir=" + (profile_dir / "profile").string();
  std::vector<std::string> args{binary,
                                "--headless",
                                "--no-sandbox",
                                "--disable-gpu",
                                "--disable-quic",
                                "--no-first-run",
                                "--disable-background-networking",
                                "--disable-component-update",
                                "--disable-sync",
                                "--disable-dev-shm-usage",
                                "--hide-scrollbars",
                                user_data,
                                "--remote-debugging-pipe",
                                "--enable-logging=stderr",
                                "--v=0",
                                "about:blank"};
  const std::string log_path = log_.string();
  ::signal(SIGPIPE, SIG_IGN);
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    ::setpgid(0, 0);  // its own process group: the browser's helpers end with it
    int in_fd = ::fcntl(to[0], F_DUPFD, 10);
    int out_fd = ::fcntl(from[1], F_DUPFD, 10);
    ::dup2(in_fd, 3);
    ::dup2(out_fd, 4);
    ::close(in_fd);
    ::close(out_fd);
    int null_fd = ::open("/dev/null", O_RDONLY);
    ::dup2(null_fd, 0);
    int log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(log_fd, 1);
    ::dup2(log_fd, 2);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    _exit(127);
  }
  ::setpgid(pid, pid);
  pid_ = pid;
  ::close(to[0]);
  ::close(from[1]);
  to_browser_ = to[1];
  from_browser_ = from[0];
}

Chromium::~Chromium() {
  if (pid_ > 0) {
    try {
      call("Browser.close", {}, "", 10);
    } catch (...) {
    }
    auto deadline = Clock::now() + std::chrono::seconds(10);
    int status = 0;
    bool ended = false;
    while (Clock::now() < deadline) {
      pid_t r = ::waitpid(pid_, &status, WNOHANG);
      if (r == pid_ || r < 0) {
        ended = true;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    // Whatever is left of the browser's own process group (helpers, or the browser when it
    // did not close): it was started here, by this object.
    ::kill(-pid_, SIGKILL);
    if (!ended) ::waitpid(pid_, &status, 0);
  }
  if (to_browser_ >= 0) ::close(to_browser_);
  if (from_browser_ >= 0) ::close(from_browser_);
}

std::optional<json> Chromium::read_message(double timeout_s) {
  auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                     std::chrono::duration<double>(timeout_s));
  for (;;) {
    auto nul = buffer_.find('\0');
    if (nul != std::string::npos) {
      std::string msg = buffer_.substr(0, nul);
      buffer_.erase(0, nul + 1);
      return json::parse(msg);
    }
    double left = seconds_left(deadline);
    if (left <= 0) return std::nullopt;
    pollfd p{from_browser_, POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(left * 1000) + 1);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) continue;
    char buf[1 << 16];
    ssize_t n = ::read(from_browser_, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0)
      throw std::runtime_error("the browser closed its DevTools pipe; log:\n" + log_tail());
    buffer_.append(buf, static_cast<std::size_t>(n));
  }
}

json Chromium::call(const std::string& method, const json& params, const std::string& session,
                    double timeout_s) {
  const int id = next_id_++;
  json msg{{"id", id}, {"method", method}, {"params", params.is_null() ? json::object() : params}};
  if (!session.empty()) msg["sessionId"] = session;
  std::string text = msg.dump();
  text.push_back('\0');
  std::size_t off = 0;
  while (off < text.size()) {
    ssize_t n = ::write(to_browser_, text.data() + off, text.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw std::runtime_error("cannot write to the browser's DevTools pipe");
    off += static_cast<std::size_t>(n);
  }
  auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                     std::chrono::duration<double>(timeout_s));
  for (;;) {
    auto m = read_message(seconds_left(deadline));
    if (!m) throw std::runtime_error("no reply to " + method + " in time; log:\n" + log_tail());
    if (m->contains("id") && (*m)["id"] == id) {
      if (m->contains("error")) throw std::runtime_error(method + ": " + (*m)["error"].dump());
      return m->value("result", json::object());
    }
    events_.push_back(std::move(*m));
  }
}

json Chromium::wait_event(const std::string& method, const std::string& session, std::size_t from,
                          double timeout_s) {
  auto matches = [&](const json& e) {
    return e.value("method", "") == method &&
           (session.empty() || e.value("sessionId", "") == session);
  };
  for (std::size_t i = from; i < events_.size(); ++i)
    if (matches(events_[i])) return events_[i];
  auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                     std::chrono::duration<double>(timeout_s));
  for (;;) {
    auto m = read_message(seconds_left(deadline));
    if (!m) throw std::runtime_error("no " + method + " event in time; log:\n" + log_tail());
    events_.push_back(*m);
    if (matches(*m)) return *m;
  }
}

std::string Chromium::open_page() {
  json t = call("Target.createTarget", {{"url", "about:blank"}});
  json s = call("Target.attachToTarget", {{"targetId", t["targetId"]}, {"flatten", true}});
  return s["sessionId"].get<std::string>();
}

std::string Chromium::log_tail(std::size_t bytes) const {
  std::ifstream f(log_, std::ios::binary);
  std::ostringstream s;
  s << f.rdbuf();
  std::string all = s.str();
  return all.size() > bytes ? all.substr(all.size() - bytes) : all;
}

std::string base64_decode(const std::string& in) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string out;
  out.reserve(in.size() * 3 / 4);
  int bits = 0, acc = 0;
  for (char c : in) {
    int v = value(c);
    if (v < 0) continue;  // '=' padding and whitespace
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  return out;
}

}  // namespace pepr::test
