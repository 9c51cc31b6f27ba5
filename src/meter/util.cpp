#include "meter/util.hpp"

#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <sstream>

namespace pepr::meter {

std::string FileRead::message() const {
  if (error == EACCES || error == EPERM) return "permission denied";
  if (error == ENOENT) return "missing";
  return std::strerror(error);
}

FileRead read_small_file(const std::string& path) {
  FileRead r;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    r.error = errno;
    return r;
  }
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      r.error = errno;
      ::close(fd);
      return r;
    }
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
    if (out.size() > (1u << 20)) break;
  }
  ::close(fd);
  r.text = std::move(out);
  return r;
}

std::string trim(const std::string& s) {
  std::size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

std::optional<std::uint64_t> parse_u64(const std::string& text) {
  std::string t = trim(text);
  if (t.empty() || t.size() > 20) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : t) {
    if (c < '0' || c > '9') return std::nullopt;
    std::uint64_t d = static_cast<std::uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return std::nullopt;
    v = v * 10 + d;
  }
  return v;
}

std::optional<double> parse_double(const std::string& text) {
  std::string t = trim(text);
  if (t.empty()) return std::nullopt;
  char* end = nullptr;
  errno = 0;
  double v = std::strtod(t.c_str(), &end);
  if (errno != 0 || end != t.c_str() + t.size()) return std::nullopt;
  return v;
}

std::optional<std::string> env(const char* name) {
  const char* v = std::getenv(name);
  if (!v || !*v) return std::nullopt;
  return std::string(v);
}

double now_s() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

double thread_cpu_s() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

std::string cpuinfo_field(const std::string& key) {
  auto r = read_small_file("/proc/cpuinfo");
  if (!r.text) return "";
  for (std::size_t pos = r.text->find(key); pos != std::string::npos;
       pos = r.text->find(key, pos + 1)) {
    if (pos != 0 && (*r.text)[pos - 1] != '\n') continue;
    const auto colon = r.text->find(':', pos);
    const auto eol = std::min(r.text->find('\n', pos), r.text->size());
    if (colon == std::string::npos || colon > eol) continue;
    if (trim(r.text->substr(pos, colon - pos)) != key) continue;
    return trim(r.text->substr(colon + 1, eol - colon - 1));
  }
  return "";
}

int online_cpus() {
  long n = ::sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? static_cast<int>(n) : 1;
}

double mem_total_gb() {
  auto r = read_small_file("/proc/meminfo");
  if (!r.text) return 0;
  return proc_kb_field(*r.text, "MemTotal").value_or(0.0) / 1e9;
}

std::optional<double> proc_kb_field(const std::string& text, const std::string& key) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key + ":", 0) != 0) continue;
    std::string value = trim(line.substr(key.size() + 1));
    if (value.size() > 2 && value.compare(value.size() - 2, 2, "kB") == 0)
      value = trim(value.substr(0, value.size() - 2));
    const auto v = parse_u64(value);
    if (v) return static_cast<double>(*v) * 1024.0;
    return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace pepr::meter
