// CPU time and resident memory of a process and its descendants, from /proc and getrusage.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

struct rusage;

namespace pepr::meter {

struct ProcReading {
  double cpu_s = 0;  // user + system CPU time of the tree (live processes and reaped children)
  // Resident memory of the live processes of the tree: the RSS of a lone process; with several,
  // the sum of their PSS (/proc/PID/smaps_rollup), so pages shared after fork count once (read
  // at most once a second and as rarely as keeps its cost under 0.1 % of a core; in between,
  // their RSS sum scaled by the last PSS / RSS ratio).
  double rss_gb = 0;
};

// A process tree: the current process (root 0) or a child of it.
class ProcessTree {
 public:
  explicit ProcessTree(pid_t root = 0);
  pid_t root() const { return root_; }
  // Reads the tree now. The list of descendants is refreshed at most every `refresh_s` seconds.
  ProcReading read(double now_s, double refresh_s = 0.5);
  // Every pid of the tree seen at the last refresh (root included).
  const std::vector<pid_t>& pids() const { return pids_; }
  // After wait4: the child's own accounting replaces /proc (which no longer has it).
  void set_exited(const struct rusage& ru);
  bool exited() const { return exited_; }
  // The kernel's peak RSS of the root, GB: VmHWM while alive; once a child is reaped, its
  // ru_maxrss, unless that is no more than the image it was forked from (Linux keeps the pre-exec
  // peak in ru_maxrss, so a small program would inherit pepr's own size), in which case the
  // latest VmHWM read while it ran (VmHWM restarts at exec).
  double kernel_peak_gb() const;
  // A child root has exec'd its program; `pre_exec_peak_gb` is the most it was seen to hold
  // before (pepr's forked image), which its ru_maxrss will also include.
  void note_exec(double pre_exec_peak_gb);
  // How the figures are obtained, for the record.
  std::string describe() const;
  // "pss" once a reading of several processes used PSS, else "rss".
  std::string memory_method() const;

 private:
  void refresh();
  pid_t root_;
  std::vector<pid_t> pids_;
  double last_refresh_ = -1e300;
  bool exited_ = false;
  double exit_cpu_s_ = 0, exit_maxrss_gb_ = 0;
  double fork_rss_gb_ = 0;  // a child root: its RSS before exec (when made, or as seen until exec)
  double last_hwm_gb_ = 0;  // a child root: the latest VmHWM read while it was alive
  double cpu_floor_ = 0;    // readings never go back (a reaped grandchild moves between fields)
  bool pss_seen_ = false;
  double pss_ratio_ = 1.0;                       // PSS / RSS of the tree at the last PSS reading
  double last_pss_t_ = -1e300;                   // when PSS was last read
  double pss_gap_s_ = 1.0;                       // time until the next PSS reading
  static constexpr double kPssCpuShare = 0.001;  // of one core, for reading PSS
};

// Children of a process (every thread's /proc/PID/task/TID/children).
std::vector<pid_t> child_pids(pid_t pid);
// This process's parent, grandparent, ... up to (not including) pid 1.
std::vector<pid_t> ancestor_pids();

}  // namespace pepr::meter
