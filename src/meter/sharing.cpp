#include "meter/sharing.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "meter/util.hpp"

namespace pepr::meter {

std::string meter_registry_dir() {
  return env("PEPR_METER_REGISTRY").value_or("/tmp/pepr-meters");
}

namespace {

std::atomic<unsigned> g_next_entry{0};

// "1234-0.meter" -> 1234
std::optional<pid_t> entry_pid(const std::string& name) {
  if (name.size() < 7 || name.compare(name.size() - 6, 6, ".meter") != 0) return std::nullopt;
  char* end = nullptr;
  const long v = std::strtol(name.c_str(), &end, 10);
  if (end == name.c_str() || *end != '-' || v <= 0) return std::nullopt;
  return static_cast<pid_t>(v);
}

}  // namespace

MeterRegistration::MeterRegistration(const std::string& dir) : dir_(dir) {
  if (dir_ == "off") {
    problem_ = "registry off (PEPR_METER_REGISTRY=off): other pepr meters cannot be seen";
    return;
  }
  if (::mkdir(dir_.c_str(), 01777) == 0) {
    ::chmod(dir_.c_str(), 01777);  // mkdir's mode is masked by the umask
  } else if (errno != EEXIST) {
    problem_ = fmt::format("cannot create {}: {}", dir_, std::strerror(errno));
    return;
  }
  const std::string name =
      fmt::format("{}-{}", static_cast<long>(::getpid()), g_next_entry.fetch_add(1));
  // Locked under a temporary name and renamed: no one ever sees an entry that is not locked yet
  // (and takes it for a dead meter's).
  const std::string tmp = dir_ + "/." + name + ".tmp";
  fd_ = ::open(tmp.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) {
    problem_ = fmt::format("cannot register in {}: {}", dir_, std::strerror(errno));
    return;
  }
  path_ = dir_ + "/" + name + ".meter";
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0 || ::rename(tmp.c_str(), path_.c_str()) != 0) {
    problem_ = fmt::format("cannot register in {}: {}", dir_, std::strerror(errno));
    ::unlink(tmp.c_str());
    ::close(fd_);
    fd_ = -1;
    path_.clear();
  }
}

MeterRegistration::~MeterRegistration() {
  if (fd_ < 0) return;
  ::unlink(path_.c_str());
  ::close(fd_);
}

std::vector<pid_t> MeterRegistration::others() const {
  if (fd_ < 0) return {};
  return running_meters(dir_, path_.substr(path_.rfind('/') + 1));
}

std::vector<pid_t> running_meters(const std::string& dir, const std::string& except) {
  std::vector<pid_t> out;
  if (dir == "off") return out;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return out;
  while (dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    const auto pid = entry_pid(name);
    if (!pid || name == except) continue;
    const std::string path = dir + "/" + name;
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) continue;
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0) {
      ::unlink(path.c_str());  // its meter is gone (crashed or killed): a stale entry
    } else if (std::find(out.begin(), out.end(), *pid) == out.end()) {
      out.push_back(*pid);
    }
    ::close(fd);
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

std::optional<SlurmShare> slurm_partial_node(int node_cpus) {
  auto job = env("SLURM_JOB_ID");
  auto cpus = env("SLURM_CPUS_ON_NODE");
  if (!job || !cpus) return std::nullopt;
  auto n = parse_u64(*cpus);
  if (!n || *n == 0 || static_cast<double>(*n) >= node_cpus) return std::nullopt;
  return SlurmShare{*job, static_cast<int>(*n), node_cpus};
}

std::optional<double> machine_busy_cpu_s() {
  auto r = read_small_file("/proc/stat");
  if (!r.text || r.text->rfind("cpu ", 0) != 0) return std::nullopt;
  // cpu  user nice system idle iowait irq softirq steal ...
  double v[8] = {0};
  const char* p = r.text->c_str() + 4;
  for (double& x : v) {
    char* end = nullptr;
    x = std::strtod(p, &end);
    if (end == p) return std::nullopt;
    p = end;
  }
  static const double tick = static_cast<double>(::sysconf(_SC_CLK_TCK));
  return (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / tick;
}

std::optional<double> busy_cores_now(double sample_s) {
  const auto t0 = std::chrono::steady_clock::now();
  const auto b0 = machine_busy_cpu_s();
  std::this_thread::sleep_for(std::chrono::duration<double>(sample_s));
  const auto b1 = machine_busy_cpu_s();
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!b0 || !b1 || wall <= 0) return std::nullopt;
  return std::max(0.0, (*b1 - *b0) / wall);
}

namespace {
constexpr const char* kBusyAtStartEnv = "PEPR_BUSY_CORES_AT_START";
}

void remember_busy_cores_at_start(double busy) {
  ::setenv(kBusyAtStartEnv, fmt::format("{}", busy).c_str(), 1);
}

std::optional<double> busy_cores_at_start(double sample_s) {
  if (const char* v = std::getenv(kBusyAtStartEnv)) {
    char* end = nullptr;
    const double busy = std::strtod(v, &end);
    const bool ok = end != v && *end == '\0' && std::isfinite(busy) && busy >= 0;
    ::unsetenv(kBusyAtStartEnv);
    if (ok) return busy;
  }
  return busy_cores_now(sample_s);
}

int threads_for_free_cpus(int cpus, double others_busy_cores) {
  cpus = std::max(1, cpus);
  const int busy = static_cast<int>(std::lround(std::max(0.0, others_busy_cores)));
  return std::clamp(cpus - busy, 1, cpus);
}

std::vector<std::string> SharingState::notes() const {
  std::vector<std::string> out;
  if (loaded())
    out.push_back(fmt::format(
        "loaded machine: other processes kept {:.1f} of the {} CPUs busy during the run: this "
        "run's time, CPU time and CPU energy are higher than on an idle machine and not "
        "comparable with such runs (measure alone, or compare runs made side by side)",
        *others_busy_cores, cpus));
  const std::string share =
      cpu_time_share
          ? fmt::format(" (this job did {:.0f} % of the machine's CPU work)", 100 * *cpu_time_share)
          : std::string();
  if (!other_meters.empty()) {
    std::string pids;
    for (pid_t p : other_meters) pids += fmt::format("{}{}", pids.empty() ? "" : ", ", p);
    out.push_back(fmt::format(
        "shared machine: {} other pepr meter{} ran at the same time (pid {}): RAPL and NVML "
        "figures are the whole machine's, including their work (attribution: whole-machine){}",
        other_meters.size(), other_meters.size() == 1 ? "" : "s", pids, share));
  }
  if (slurm)
    out.push_back(fmt::format(
        "shared node: Slurm job {} has {} of this node's {} CPUs: RAPL figures include other "
        "jobs' work (attribution: whole-machine){}",
        slurm->job_id, slurm->job_cpus, slurm->node_cpus, share));
  return out;
}

nlohmann::json SharingState::to_json() const {
  nlohmann::json j;
  j["attribution"] = whole_machine() ? "whole-machine" : "job";
  j["registry"] = registry;
  j["other_meters"] = other_meters;
  if (slurm)
    j["slurm"] = {
        {"job_id", slurm->job_id}, {"job_cpus", slurm->job_cpus}, {"node_cpus", slurm->node_cpus}};
  else
    j["slurm"] = nullptr;
  j["cpu_time_share"] = cpu_time_share ? nlohmann::json(*cpu_time_share) : nlohmann::json(nullptr);
  j["others_busy_cores"] =
      others_busy_cores ? nlohmann::json(*others_busy_cores) : nlohmann::json(nullptr);
  j["loaded"] = loaded();
  j["note"] =
      whole_machine()
          ? "the machine was shared: sensor figures (RAPL, NVML) include others' work; "
            "cpu_time_share is the job's share of the machine's busy CPU time over the run, for "
            "apportioning by hand"
      : loaded()
          ? "no other pepr meter ran and no partial Slurm allocation was seen, but other "
            "processes kept CPUs busy (others_busy_cores): sensor figures (RAPL) include their "
            "draw, and the job's time and CPU time grew with their load"
          : "no other pepr meter ran and no partial Slurm allocation was seen: the sensors "
            "measured this job and the machine's own draw";
  return j;
}

}  // namespace pepr::meter
