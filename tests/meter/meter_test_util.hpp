// Helpers for the meter tests: environment guards and fake powercap trees.
#pragma once

#include <fcntl.h>
#include <sys/types.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace pepr::test {

// Sets (or unsets, with nullopt) environment variables for the scope, restoring them after.
class EnvGuard {
 public:
  EnvGuard(std::initializer_list<std::pair<const char*, std::optional<std::string>>> vars) {
    for (const auto& [k, v] : vars) {
      const char* old = std::getenv(k);
      saved_.emplace_back(k, old ? std::optional<std::string>(old) : std::nullopt);
      if (v)
        ::setenv(k, v->c_str(), 1);
      else
        ::unsetenv(k);
    }
  }
  ~EnvGuard() {
    for (auto it = saved_.rbegin(); it != saved_.rend(); ++it) {
      if (it->second)
        ::setenv(it->first.c_str(), it->second->c_str(), 1);
      else
        ::unsetenv(it->first.c_str());
    }
  }
  EnvGuard(const EnvGuard&) = delete;
  EnvGuard& operator=(const EnvGuard&) = delete;

 private:
  std::vector<std::pair<std::string, std::optional<std::string>>> saved_;
};

// Writes a file atomically (temporary + rename) so a sampler never reads half of it.
inline void put(const std::filesystem::path& p, const std::string& text) {
  auto tmp = p;
  tmp += ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary);
    f << text;
  }
  std::filesystem::rename(tmp, p);
}

// A powercap zone folder: name, energy_uj and max_energy_range_uj (empty text: file absent).
inline std::filesystem::path make_zone(const std::filesystem::path& root, const std::string& zone,
                                       const std::string& name, const std::string& energy_uj,
                                       const std::string& max_uj = "262143328850") {
  auto dir = root / zone;
  std::filesystem::create_directories(dir);
  put(dir / "name", name + "\n");
  if (!energy_uj.empty()) put(dir / "energy_uj", energy_uj + "\n");
  if (!max_uj.empty()) put(dir / "max_energy_range_uj", max_uj + "\n");
  return dir;
}

inline void set_energy(const std::filesystem::path& root, const std::string& zone,
                       unsigned long long uj) {
  put(root / zone / "energy_uj", std::to_string(uj) + "\n");
}

// Environment in which no real sensor is consulted: the estimate, deterministic.
#define PEPR_NO_SENSORS_ENV                                                                      \
  {"PEPR_POWERCAP_ROOT", std::string("/nonexistent/powercap")}, {"PEPR_PERF", std::string("0")}, \
      {"PEPR_NVML_LIB", std::string("/nonexistent/libnvidia-ml.so.1")},                          \
      {"PEPR_AMDSMI_LIB", std::string("/nonexistent/libamd_smi.so")},                            \
      {"PEPR_JETSON_SYSFS_ROOT", std::string("/nonexistent/sys")}, {                             \
    "PEPR_TEGRASTATS", std::string("off")                                                        \
  }

// A forked child that first fills 200 MB of the image it was forked from, says so, waits to be
// released, then execs `sleep <seconds>`: a program whose own peak is a few MB, while Linux keeps
// the 200 MB in its ru_maxrss. pid() is negative when the pipes or the fork failed.
class GrownChildBeforeExec {
 public:
  explicit GrownChildBeforeExec(const char* sleep_seconds) {
    if (::pipe(gate_) != 0 || ::pipe(ready_) != 0 || ::pipe2(exec_, O_CLOEXEC) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::close(gate_[1]);
      ::close(ready_[0]);
      ::close(exec_[0]);
      std::vector<char> big(200u << 20);
      std::memset(big.data(), 1, big.size());
      (void)!::write(ready_[1], "r", 1);
      char c = 0;
      (void)!::read(gate_[0], &c, 1);
      ::execlp("sleep", "sleep", sleep_seconds, static_cast<char*>(nullptr));
      ::_exit(127);
    }
    for (int fd : {gate_[0], ready_[1], exec_[1]}) ::close(fd);
  }
  ~GrownChildBeforeExec() {
    for (int fd : {gate_[1], ready_[0], exec_[0]})
      if (fd >= 0) ::close(fd);
  }
  GrownChildBeforeExec(const GrownChildBeforeExec&) = delete;
  GrownChildBeforeExec& operator=(const GrownChildBeforeExec&) = delete;

  pid_t pid() const { return pid_; }
  // Blocks until the 200 MB are resident.
  bool wait_grown() {
    char c = 0;
    return ::read(ready_[0], &c, 1) == 1;
  }
  // Lets the child exec; returns once it has (the exec closes its end of a close-on-exec pipe).
  bool release_and_wait_exec() {
    (void)!::write(gate_[1], "g", 1);
    char c = 0;
    return ::read(exec_[0], &c, 1) == 0;
  }

 private:
  pid_t pid_ = -1;
  int gate_[2] = {-1, -1}, ready_[2] = {-1, -1}, exec_[2] = {-1, -1};
};

}  // namespace pepr::test
