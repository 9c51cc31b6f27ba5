// Whether a training run fits the machine's memory, decided before it starts: the memory this
// process may still take (MemAvailable, and the cgroup's limit where one is set), its peak RSS
// (VmHWM, which the kernel lets a process restart), and the plan made from a probe's figures
// (train/memory_probe.hpp measures them: a forward and backward pass at two small batches).
// LibTorch-free: the plan is arithmetic, tested on made-up probes.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace pepr::meter {

// What this process may still take, bytes: MemAvailable of `meminfo`, lowered to the cgroup's
// headroom (memory.max - memory.current, cgroup v2) where a limit is set. nullopt when neither
// can be read.
std::optional<double> available_memory_bytes(const std::string& meminfo = "/proc/meminfo",
                                             const std::string& cgroup_dir = "/sys/fs/cgroup");
// This process's resident memory now (VmRSS) and its peak (VmHWM), bytes.
std::optional<double> current_rss_bytes();
std::optional<double> peak_rss_bytes();
// Restarts VmHWM at the current RSS (/proc/self/clear_refs, "5"); false where the kernel refuses.
bool reset_peak_rss();

// A probe's figures: the memory above the resident baseline at the peak of a training step
// (forward, loss, backward) and of an evaluation forward pass, at two batch sizes.
struct MemoryProbe {
  int batch_small = 2, batch_large = 4;
  double train_small = 0, train_large = 0;  // bytes above the baseline
  double eval_small = 0, eval_large = 0;
  double optimizer_state = 0;  // bytes the optimiser's state will take (Adam: 2x the parameters)
  double gradients = 0;        // bytes of the gradients, kept between steps and during evaluation
  double seconds = 0;          // how long the probe took
};

// Memory as a + s * batch, from the two points of a probe. A slope below zero (noise on a model
// whose activations are small against the allocator's granularity) becomes the larger point
// spread over its batch, with no intercept: never below what was seen.
struct LinearMemory {
  double intercept = 0, per_image = 0;
  double at(int batch) const { return intercept + per_image * batch; }
  // The largest batch whose memory stays within `bytes` (0 when not even one image fits).
  int largest_batch_within(double bytes, int cap) const;
};
LinearMemory fit_memory(int batch_small, double small, int batch_large, double large);

// The plan: whether training at the asked batch fits, the evaluation batch used (the asked one,
// or the largest that fits its budget: evaluation is per image, so its batch changes speed, not
// results).
struct MemoryPlan {
  double available = 0;  // bytes the process may take when the probe ran
  double usable = 0;     // the share of it pepr plans with (a margin for the allocator and others)
  double train_need = 0, eval_need = 0;  // bytes at the asked batch sizes
  double eval_budget = 0;                // what evaluation is planned within (see kEvalShare)
  int train_batch = 0;                   // as asked
  int train_batch_fits = 0;              // the largest that fits (the fix when it does not)
  bool train_fits = true;
  int eval_batch_asked = 0, eval_batch = 0;
  // The refusal, naming the fix; empty when training fits.
  std::string refusal;
  // Why the evaluation batch was lowered; empty when it was not.
  std::string eval_note;
};
// `what`: the run in words ("resnet18 at 28 px"); `smaller_size`: the smallest image size the
// model accepts, when it is below the run's (nullopt: a fixed size, or the run's is its minimum),
// for the fix when not even one image fits. The margin: pepr plans with 85 % of what is available.
MemoryPlan plan_memory(const MemoryProbe& probe, int train_batch, int eval_batch,
                       double available_bytes, const std::string& what,
                       std::optional<int> smaller_size = std::nullopt);
inline constexpr double kUsableShare = 0.85;
// Evaluation is planned within the larger of what training needs and this share of what is
// available (its batch changes speed little; a large batch's peak is underestimated most).
inline constexpr double kEvalShare = 0.5;

// The record's environment.memory_check: the plan and the probe, GB.
nlohmann::json memory_check_json(const MemoryPlan& plan, const MemoryProbe& probe);

}  // namespace pepr::meter
