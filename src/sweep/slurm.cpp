#include "sweep/slurm.hpp"

#include <fmt/format.h>

#include "core/error.hpp"

namespace pepr::sweep {

std::string shell_quote(const std::string& w) {
  if (!w.empty() && w.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                        "0123456789_-./=:,+@%") == std::string::npos)
    return w;
  std::string out = "'";
  for (char c : w) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string slurm_script(const SlurmOptions& o) {
  if (o.shards < 1) throw Error("--shards must be at least 1");
  if (o.gpus < 0) throw Error("--gpus must be >= 0");
  std::string s = "#!/bin/bash\n";
  s += fmt::format(
      "# Written by `pepr bench --emit-slurm`: the sweep {} as a job array of {} "
      "shard(s).\n",
      o.plan_file, o.shards);
  s += "# Submit with: sbatch THIS_FILE. Every task runs one shard; together they cover the plan\n"
       "# exactly once. Re-submitting (or requeueing a task) resumes: completed runs are kept.\n";
  s += fmt::format("#SBATCH --job-name={}\n", o.job_name);
  s += fmt::format("#SBATCH --array=0-{}\n", o.shards - 1);
  s += fmt::format("#SBATCH --time={}\n", o.time);
  if (!o.partition.empty()) s += fmt::format("#SBATCH --partition={}\n", o.partition);
  if (o.gpus > 0) s += fmt::format("#SBATCH --gres=gpu:{}\n", o.gpus);
  if (o.cpus > 0) s += fmt::format("#SBATCH --cpus-per-task={}\n", o.cpus);
  if (!o.mem.empty()) s += fmt::format("#SBATCH --mem={}\n", o.mem);
  s += "#SBATCH --ntasks=1\n";
  s += fmt::format("#SBATCH --output={}/slurm-%A_%a.out\n", o.runs_dir);
  s += "#SBATCH --signal=B:TERM@120\n";  // time to mark the current run interrupted
  if (!o.device.empty())
    s += fmt::format("# device: {} (the plan's){}\n", o.device,
                     o.gpus > 0 ? fmt::format(", {} GPU(s) per task", o.gpus) : "");
  s += "set -euo pipefail\n";
  std::string extra;
  for (const auto& a : o.bench_args) extra += " " + shell_quote(a);
  s += fmt::format("exec {} bench {} -o {} --resume --shard \"${{SLURM_ARRAY_TASK_ID}}/{}\"{}\n",
                   shell_quote(o.pepr_exe), shell_quote(o.plan_file), shell_quote(o.runs_dir),
                   o.shards, extra);
  return s;
}

}  // namespace pepr::sweep
