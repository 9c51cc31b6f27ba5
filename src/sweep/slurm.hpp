// `pepr bench --emit-slurm`: an sbatch job-array script, one array task per shard.
#pragma once

#include <string>
#include <vector>

namespace pepr::sweep {

struct SlurmOptions {
  std::string pepr_exe;   // absolute path of pepr
  std::string plan_file;  // absolute
  std::string runs_dir;   // absolute
  std::string job_name = "pepr-sweep";
  int shards = 1;
  std::string partition;  // empty: the cluster's default
  int gpus = 0;           // GPUs per task (--gres=gpu:G)
  std::string device;     // the plan's device (cpu, cuda, cuda:N), named in the script
  int cpus = 0;           // CPUs per task (0: not set)
  std::string mem;        // e.g. 32G (empty: not set)
  std::string time = "24:00:00";
  std::vector<std::string> bench_args;  // passed on to every `pepr bench` (budgets, patience)
};

// Quotes a word for a POSIX shell when it needs it.
std::string shell_quote(const std::string& word);

// The script: #SBATCH --array=0-(N-1), then
// pepr bench PLAN -o RUNS_DIR --resume --shard $SLURM_ARRAY_TASK_ID/N.
std::string slurm_script(const SlurmOptions& options);

}  // namespace pepr::sweep
