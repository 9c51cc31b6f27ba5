#include "meter/memory_fit.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "core/progress.hpp"
#include "meter/util.hpp"

namespace pepr::meter {

namespace {

std::optional<double> status_field(const std::string& key) {
  const auto r = read_small_file("/proc/self/status");
  return r.text ? proc_kb_field(*r.text, key) : std::nullopt;
}

std::string gb(double bytes) {
  return format_bytes(static_cast<std::uint64_t>(std::max(0.0, bytes)));
}

}  // namespace

std::optional<double> available_memory_bytes(const std::string& meminfo,
                                             const std::string& cgroup_dir) {
  std::optional<double> avail;
  if (const auto r = read_small_file(meminfo); r.text)
    avail = proc_kb_field(*r.text, "MemAvailable");
  const auto max = read_small_file(cgroup_dir + "/memory.max");
  const auto cur = read_small_file(cgroup_dir + "/memory.current");
  if (max.text && cur.text) {
    const auto m = parse_u64(*max.text);  // "max" (no limit) does not parse
    const auto c = parse_u64(*cur.text);
    if (m && c) {
      const double room = *m > *c ? static_cast<double>(*m - *c) : 0.0;
      avail = avail ? std::min(*avail, room) : room;
    }
  }
  return avail;
}

std::optional<double> current_rss_bytes() {
  return status_field("VmRSS");
}

std::optional<double> peak_rss_bytes() {
  return status_field("VmHWM");
}

bool reset_peak_rss() {
  std::ofstream f("/proc/self/clear_refs");
  if (!f) return false;
  f << "5";
  f.flush();
  return static_cast<bool>(f);
}

int LinearMemory::largest_batch_within(double bytes, int cap) const {
  if (at(1) > bytes) return 0;
  if (per_image <= 0) return cap;
  const double n = std::floor((bytes - intercept) / per_image);
  return static_cast<int>(std::clamp(n, 1.0, static_cast<double>(cap)));
}

LinearMemory fit_memory(int batch_small, double small, int batch_large, double large) {
  small = std::max(0.0, small);
  large = std::max(0.0, large);
  LinearMemory m;
  if (batch_large > batch_small) m.per_image = (large - small) / (batch_large - batch_small);
  if (!(m.per_image > 0) || !std::isfinite(m.per_image)) {
    m.per_image = batch_large > 0 ? std::max(small, large) / batch_large : 0;
    m.intercept = 0;
    return m;
  }
  // Never below what was seen: an intercept below zero (the step's memory grew faster than
  // linearly between the two points) would promise less at the asked batch.
  m.intercept = std::max(0.0, small - m.per_image * batch_small);
  return m;
}

MemoryPlan plan_memory(const MemoryProbe& p, int train_batch, int eval_batch,
                       double available_bytes, const std::string& what,
                       std::optional<int> smaller_size) {
  MemoryPlan plan;
  plan.available = available_bytes;
  plan.usable = available_bytes * kUsableShare;
  const LinearMemory train = fit_memory(p.batch_small, p.train_small, p.batch_large, p.train_large);
  const LinearMemory eval = fit_memory(p.batch_small, p.eval_small, p.batch_large, p.eval_large);
  // Training: the step's activations and gradients (the probe's), and the optimiser's state,
  // made at the first step. Evaluation: its activations, beside the gradients and that state.
  plan.train_batch = train_batch;
  plan.train_need = train.at(train_batch) + p.optimizer_state;
  const double train_room = plan.usable - p.optimizer_state;
  plan.train_batch_fits = train.largest_batch_within(train_room, train_batch);
  plan.train_fits = plan.train_need <= plan.usable;
  plan.eval_batch_asked = eval_batch;
  plan.eval_need = eval.at(eval_batch) + p.optimizer_state + p.gradients;
  // Evaluation's batch changes its speed little beyond a few dozen images, and a probe at 2 and 4
  // images underestimates a large batch's peak (the allocator's fragmentation grows with it:
  // maxvit_nano_rw_256 took 11 % more than planned at 196): evaluation is planned within the
  // larger of what training needs and half of what is available, not within all of it.
  plan.eval_budget = std::min(plan.usable, std::max(plan.train_need, kEvalShare * available_bytes));
  const double eval_room = plan.eval_budget - p.optimizer_state - p.gradients;
  plan.eval_batch = std::max(1, eval.largest_batch_within(eval_room, eval_batch));
  if (!plan.train_fits) {
    const std::string fix =
        plan.train_batch_fits >= 1
            ? fmt::format("--batch-size {} fits (the optimiser then sees smaller batches)",
                          plan.train_batch_fits)
        : smaller_size ? fmt::format(
                             "not even one image fits: a smaller --image-size (the model accepts "
                             "down to {} px), or a machine with more memory",
                             *smaller_size)
                       : std::string(
                             "not even one image fits, and the model takes no smaller images: a "
                             "machine with more memory");
    plan.refusal = fmt::format(
        "not started: training {} at batch {} needs about {} of memory ({} per image, {} for "
        "the optimiser's state), and {} is available ({} of it planned with): {}; free memory, "
        "or pass --no-memory-check to try anyway",
        what, train_batch, gb(plan.train_need), gb(train.per_image), gb(p.optimizer_state),
        gb(plan.available), gb(plan.usable), fix);
  }
  if (plan.eval_batch < eval_batch)
    plan.eval_note = fmt::format(
        "evaluating in batches of {}, not {}: {} would need about {} of memory, and evaluation "
        "is planned within {} (the larger of what training needs and half of the {} available); "
        "the metrics are the same, evaluation is slower",
        plan.eval_batch, eval_batch, eval_batch, gb(plan.eval_need), gb(plan.eval_budget),
        gb(plan.available));
  return plan;
}

nlohmann::json memory_check_json(const MemoryPlan& plan, const MemoryProbe& p) {
  auto g = [](double bytes) { return std::round(bytes / 1e6) / 1e3; };
  return {{"available_gb", g(plan.available)},
          {"usable_share", kUsableShare},
          {"train_need_gb", g(plan.train_need)},
          {"train_fits", plan.train_fits},
          {"train_batch_fits", plan.train_batch_fits},
          {"eval_need_gb", g(plan.eval_need)},
          {"eval_budget_gb", g(plan.eval_budget)},
          {"eval_batch_size_asked", plan.eval_batch_asked},
          {"eval_batch_size", plan.eval_batch},
          {"probe",
           {{"batches", {p.batch_small, p.batch_large}},
            {"train_gb", {g(p.train_small), g(p.train_large)}},
            {"eval_gb", {g(p.eval_small), g(p.eval_large)}},
            {"optimizer_state_gb", g(p.optimizer_state)},
            {"gradients_gb", g(p.gradients)},
            {"seconds", std::round(p.seconds * 100) / 100}}},
          {"basis",
           "peak RSS above the resident baseline of one training step and one evaluation pass at "
           "two small batches, extrapolated linearly; the run's own peak RSS counts from here"}};
}

}  // namespace pepr::meter
