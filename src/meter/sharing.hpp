// Whether the machine's sensors see other people's work: other pepr meters running at the same
// time (found through a registry of lock files) and Slurm jobs given part of a node. RAPL and NVML
// measure whole packages and GPUs, so such figures are the whole machine's, and records say so.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/caveats.hpp"

namespace pepr::meter {

// $PEPR_METER_REGISTRY, else /tmp/pepr-meters ("off" disables the registry).
std::string meter_registry_dir();

// This meter's entry in the registry: a file `<pid>-<n>.meter` holding an exclusive flock while
// the meter runs. A file whose lock can be taken belongs to a meter that is gone and is removed.
class MeterRegistration {
 public:
  // Registers in `dir` (created with mode 1777 like /tmp when missing); never throws: on failure
  // problem() says why, and other meters cannot be seen.
  explicit MeterRegistration(const std::string& dir);
  ~MeterRegistration();
  MeterRegistration(const MeterRegistration&) = delete;
  MeterRegistration& operator=(const MeterRegistration&) = delete;

  // The pids of the other meters registered now.
  std::vector<pid_t> others() const;
  const std::string& problem() const { return problem_; }
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_, path_, problem_;
  int fd_ = -1;
};

// The pids of the pepr meters registered in `dir` now, except the entry named `except`; removes
// the entries of meters that are gone.
std::vector<pid_t> running_meters(const std::string& dir, const std::string& except = "");

// A Slurm job with part of this node: SLURM_JOB_ID set and SLURM_CPUS_ON_NODE below the node's
// online CPUs. nullopt otherwise.
struct SlurmShare {
  std::string job_id;
  int job_cpus = 0, node_cpus = 0;
};
std::optional<SlurmShare> slurm_partial_node(int node_cpus);

// Busy CPU seconds of the whole machine so far (/proc/stat: user, nice, system, irq, softirq,
// steal); nullopt when unreadable. The job's CPU time over the difference of two readings is its
// share of the machine's CPU work.
std::optional<double> machine_busy_cpu_s();

// The CPUs other processes keep busy: the machine's busy CPU seconds over `sample_s` of waiting,
// divided by it (this process sleeps meanwhile). nullopt when /proc/stat is unreadable.
std::optional<double> busy_cores_now(double sample_s = 0.2);

// The figure busy_cores_now gave when the process started: `pepr train` samples the load once,
// before it decides the OpenMP wait policy (and may re-execute itself), and hands the figure on
// in PEPR_BUSY_CORES_AT_START; sampled now when that is absent or unreadable. Removes the
// variable, so that a child process samples its own start.
std::optional<double> busy_cores_at_start(double sample_s = 0.2);
void remember_busy_cores_at_start(double busy);

// A machine is loaded when other processes kept at least this many CPUs busy on average (the
// job's own threads then compete for cores, and its time and CPU energy grow with their work).
// Defined in the core, which says so beside pepr score's ranking (core/caveats.hpp).
inline constexpr double kLoadedBusyCores = pepr::kLoadedBusyCores;

// The threads to train with when none are asked: the CPUs the other processes leave free (busy
// rounded to the nearest whole CPU), at least 1, at most `cpus`.
int threads_for_free_cpus(int cpus, double others_busy_cores);

// What the tracker learns about sharing during a run.
struct SharingState {
  std::string registry;             // the registry folder, or why none
  std::vector<pid_t> other_meters;  // every other meter seen while this one ran
  std::optional<SlurmShare> slurm;
  std::optional<double> cpu_time_share;  // job CPU s / machine busy CPU s over the run
  // Other processes' busy CPU s / wall s over the run (machine busy minus the job's CPU time).
  std::optional<double> others_busy_cores;
  int cpus = 0;  // online CPUs
  bool loaded() const { return others_busy_cores && *others_busy_cores >= kLoadedBusyCores; }
  bool whole_machine() const { return !other_meters.empty() || slurm.has_value(); }
  // The notes for the record and stderr (empty when the machine was not shared).
  std::vector<std::string> notes() const;
  nlohmann::json to_json() const;
};

}  // namespace pepr::meter
