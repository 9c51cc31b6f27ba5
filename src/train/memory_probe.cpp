#include "train/memory_probe.hpp"

#include <malloc.h>

#include <chrono>

#include <torch/torch.h>

namespace pepr::train {

void release_free_memory() {
  ::malloc_trim(0);
}

namespace {

// Peak resident memory above the baseline while `step` runs. Freed memory is returned to the
// system first (release_free_memory), so that the baseline is what is in use, not what the
// allocator keeps from an earlier step.
std::optional<double> peak_above_baseline(const std::function<void()>& step) {
  release_free_memory();
  if (!meter::reset_peak_rss()) return std::nullopt;
  const auto base = meter::current_rss_bytes();
  step();
  const auto peak = meter::peak_rss_bytes();
  if (!base || !peak) return std::nullopt;
  return std::max(0.0, *peak - *base);
}

}  // namespace

std::optional<meter::MemoryProbe> probe_memory(const ProbeModel& m,
                                               double optimizer_state_per_parameter,
                                               int batch_small, int batch_large) {
  const auto t0 = std::chrono::steady_clock::now();
  meter::MemoryProbe p;
  p.batch_small = batch_small;
  p.batch_large = batch_large;
  double param_bytes = 0;
  for (const auto& t : m.parameters)
    param_bytes += static_cast<double>(t.numel()) * static_cast<double>(t.element_size());
  p.gradients = param_bytes;
  p.optimizer_state = optimizer_state_per_parameter * param_bytes;

  // What the probe changes, to put back: BatchNorm's statistics (and any other buffer), the
  // gradients, and the generator dropout and drop-path draw from.
  std::vector<torch::Tensor> saved;
  saved.reserve(m.buffers.size());
  for (const auto& b : m.buffers) saved.push_back(b.clone());
  auto gen = at::detail::getDefaultCPUGenerator();
  torch::Tensor rng_state;
  {
    std::lock_guard<std::mutex> lock(gen.mutex());
    rng_state = gen.get_state();
  }
  auto restore = [&] {
    torch::NoGradGuard no_grad;
    for (size_t i = 0; i < saved.size(); ++i) m.buffers[i].copy_(saved[i]);
    for (const auto& t : m.parameters) t.mutable_grad() = torch::Tensor();
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_state(rng_state);
  };

  auto input = [&](int batch) {
    std::vector<int64_t> shape{batch};
    for (long d : m.input_shape) shape.push_back(d);
    auto x = torch::randn(shape);
    return m.channels_last ? x.contiguous(torch::MemoryFormat::ChannelsLast) : x;
  };
  auto train_step = [&](int batch) {
    return peak_above_baseline([&] {
      m.set_training(true);
      auto x = input(batch);
      auto y = torch::zeros({batch}, torch::kLong);
      auto loss = torch::nn::functional::cross_entropy(m.forward(x), y);
      loss.backward();
    });
  };
  auto eval_pass = [&](int batch) {
    return peak_above_baseline([&] {
      torch::NoGradGuard no_grad;
      m.set_training(false);
      auto x = input(batch);
      auto logits = m.forward(x);
    });
  };

  std::optional<double> ts, tl, es, el;
  try {
    // Gradients of the first step are allocated in it: the small step runs first, from none.
    ts = train_step(batch_small);
    for (const auto& t : m.parameters) t.mutable_grad() = torch::Tensor();
    tl = train_step(batch_large);
    for (const auto& t : m.parameters) t.mutable_grad() = torch::Tensor();
    es = eval_pass(batch_small);
    el = eval_pass(batch_large);
  } catch (...) {
    restore();
    m.set_training(true);
    throw;
  }
  restore();
  m.set_training(true);
  release_free_memory();
  if (!ts || !tl || !es || !el) return std::nullopt;
  p.train_small = *ts;
  p.train_large = *tl;
  p.eval_small = *es;
  p.eval_large = *el;
  p.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return p;
}

}  // namespace pepr::train
