#include "meter/process.hpp"

#include <dirent.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <optional>
#include <string>

#include "meter/util.hpp"

namespace pepr::meter {

namespace {

double tv(const timeval& t) {
  return static_cast<double>(t.tv_sec) + t.tv_usec * 1e-6;
}

const double kTick = static_cast<double>(::sysconf(_SC_CLK_TCK));
const double kPage = static_cast<double>(::sysconf(_SC_PAGESIZE));

struct StatFields {
  bool ok = false;
  double cpu_s = 0;       // utime + stime
  double children_s = 0;  // cutime + cstime (reaped children)
  double rss_bytes = 0;
  pid_t ppid = 0;
};

StatFields read_stat(pid_t pid) {
  StatFields f;
  auto r = read_small_file(pid == 0 ? std::string("/proc/self/stat")
                                    : "/proc/" + std::to_string(pid) + "/stat");
  if (!r.text) return f;
  const std::string& s = *r.text;
  auto close = s.rfind(')');
  if (close == std::string::npos) return f;
  // Fields after the command: 3 state, 4 ppid, ..., 14 utime, 15 stime, 16 cutime, 17 cstime,
  // ..., 24 rss.
  const char* p = s.c_str() + close + 2;
  double v[23] = {0};
  int field = 3;
  while (*p && field <= 24) {
    char* end = nullptr;
    if (field == 3) {
      while (*p && *p != ' ') ++p;
    } else {
      v[field - 3] = std::strtod(p, &end);
      p = end;
    }
    while (*p == ' ') ++p;
    ++field;
  }
  if (field <= 24) return f;
  f.ok = true;
  f.cpu_s = (v[14 - 3] + v[15 - 3]) / kTick;
  f.children_s = (v[16 - 3] + v[17 - 3]) / kTick;
  f.rss_bytes = v[24 - 3] * kPage;
  f.ppid = static_cast<pid_t>(v[4 - 3]);
  return f;
}

// Proportional set size (bytes) from /proc/PID/smaps_rollup: each page shared by n processes
// counts 1/n in each. nullopt when the kernel has no smaps_rollup (before 4.14) or it is gone.
std::optional<double> read_pss_bytes(pid_t pid) {
  auto r = read_small_file(pid == 0 ? std::string("/proc/self/smaps_rollup")
                                    : "/proc/" + std::to_string(pid) + "/smaps_rollup");
  if (!r.text) return std::nullopt;
  return proc_kb_field(*r.text, "Pss");
}

double read_hwm_gb(pid_t pid) {
  auto r = read_small_file(pid == 0 ? std::string("/proc/self/status")
                                    : "/proc/" + std::to_string(pid) + "/status");
  if (!r.text) return 0;
  return proc_kb_field(*r.text, "VmHWM").value_or(0.0) / 1e9;
}

}  // namespace

std::vector<pid_t> child_pids(pid_t pid) {
  std::vector<pid_t> out;
  std::string base = pid == 0 ? "/proc/self/task" : "/proc/" + std::to_string(pid) + "/task";
  DIR* d = ::opendir(base.c_str());
  if (!d) return out;
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;
    auto r = read_small_file(base + "/" + e->d_name + "/children");
    if (!r.text) continue;
    const char* p = r.text->c_str();
    while (*p) {
      char* end = nullptr;
      long v = std::strtol(p, &end, 10);
      if (end == p) break;
      out.push_back(static_cast<pid_t>(v));
      p = end;
    }
  }
  ::closedir(d);
  return out;
}

std::vector<pid_t> ancestor_pids() {
  std::vector<pid_t> out;
  for (pid_t p = ::getppid(); p > 1 && out.size() < 4096;) {
    out.push_back(p);
    const StatFields f = read_stat(p);
    if (!f.ok) break;
    p = f.ppid;
  }
  return out;
}

ProcessTree::ProcessTree(pid_t root) : root_(root) {
  // A child forked from this process holds at most this process's pages before it execs (right
  // after fork its RSS is lower: shared file pages are counted only as it touches them).
  if (root_ != 0) fork_rss_gb_ = std::max(read_stat(root_).rss_bytes, read_stat(0).rss_bytes) / 1e9;
}

void ProcessTree::refresh() {
  pids_.clear();
  std::vector<pid_t> todo{root_};
  while (!todo.empty() && pids_.size() < 100000) {
    pid_t p = todo.back();
    todo.pop_back();
    pids_.push_back(p == 0 ? ::getpid() : p);
    for (pid_t c : child_pids(p)) todo.push_back(c);
  }
}

ProcReading ProcessTree::read(double now, double refresh_s) {
  ProcReading r;
  if (exited_) {
    r.cpu_s = exit_cpu_s_;
    return r;
  }
  if (now - last_refresh_ >= refresh_s) {
    refresh();
    last_refresh_ = now;
  }
  // One process: its RSS. Several: pages shared between them after fork would be counted once
  // per process by RSS, so the tree counts PSS instead. Reading PSS walks every page table (about
  // 5 ms per process holding 512 MB), so it is read only as often as keeps its cost below
  // kPssCpuShare of a core (and at most once a second); in between, the RSS sum is scaled by the
  // PSS / RSS ratio of the last reading.
  const bool several = pids_.size() > 1;
  const bool pss_due = several && now - last_pss_t_ >= pss_gap_s_;
  const double pss_cpu0 = pss_due ? thread_cpu_s() : 0;
  double cpu = 0, rss = 0, pss = 0;
  for (std::size_t i = 0; i < pids_.size(); ++i) {
    const bool is_root = i == 0;
    double mem = 0;
    if (is_root && root_ == 0) {
      rusage self{}, kids{};
      ::getrusage(RUSAGE_SELF, &self);
      ::getrusage(RUSAGE_CHILDREN, &kids);
      cpu += tv(self.ru_utime) + tv(self.ru_stime) + tv(kids.ru_utime) + tv(kids.ru_stime);
      mem = read_stat(0).rss_bytes;
    } else {
      StatFields f = read_stat(pids_[i]);
      if (!f.ok) continue;  // exited since the refresh
      // VmHWM restarts at exec: keep the latest. A child that has exited but is not yet reaped
      // (a zombie) has no memory left to report: its last reading stands.
      if (is_root)
        if (const double hwm = read_hwm_gb(root_); hwm > 0) last_hwm_gb_ = hwm;
      cpu += f.cpu_s + f.children_s;
      mem = f.rss_bytes;
    }
    rss += mem;
    if (pss_due) pss += read_pss_bytes(is_root && root_ == 0 ? 0 : pids_[i]).value_or(mem);
  }
  if (pss_due && rss > 0) {
    pss_ratio_ = std::min(1.0, pss / rss);
    last_pss_t_ = now;
    pss_gap_s_ = std::max(1.0, (thread_cpu_s() - pss_cpu0) / kPssCpuShare);
    pss_seen_ = true;
  }
  if (several && pss_seen_) rss *= pss_ratio_;
  cpu_floor_ = std::max(cpu_floor_, cpu);
  r.cpu_s = cpu_floor_;
  r.rss_gb = rss / 1e9;
  return r;
}

void ProcessTree::set_exited(const struct rusage& ru) {
  exited_ = true;
  exit_cpu_s_ = std::max(cpu_floor_, tv(ru.ru_utime) + tv(ru.ru_stime));
  cpu_floor_ = exit_cpu_s_;
  exit_maxrss_gb_ = static_cast<double>(ru.ru_maxrss) * 1024.0 / 1e9;
}

void ProcessTree::note_exec(double pre_exec_peak_gb) {
  fork_rss_gb_ = std::max(fork_rss_gb_, pre_exec_peak_gb);
}

double ProcessTree::kernel_peak_gb() const {
  if (!exited_) return read_hwm_gb(root_);
  if (last_hwm_gb_ > 0 && exit_maxrss_gb_ <= fork_rss_gb_ * 1.05) return last_hwm_gb_;
  return exit_maxrss_gb_;
}

std::string ProcessTree::describe() const {
  return root_ == 0 ? "this process and its descendants: getrusage (self and reaped children) + "
                      "/proc/PID/stat of live descendants"
                    : "the child and its descendants: /proc/PID/stat of the live tree while it "
                      "runs, wait4's rusage once it exits";
}

std::string ProcessTree::memory_method() const {
  return pss_seen_ ? "pss" : "rss";
}

}  // namespace pepr::meter
