// Measures what a training run will need in memory before it starts: one training step (forward,
// loss, backward) and one evaluation pass at two small batches, each peak read from the kernel
// (VmHWM, restarted before each), above the resident baseline. The model is left as it was: its
// buffers (BatchNorm statistics), gradients and the random generator are restored, so the run
// trains exactly as without the probe. CPU only (a GPU's memory is another allocator's).
#pragma once

#include <functional>
#include <vector>

#include "meter/memory_fit.hpp"
#include "train/torch_fwd.hpp"

namespace pepr::train {

struct ProbeModel {
  std::function<at::Tensor(const at::Tensor&)> forward;  // with the run's autocast, if any
  std::function<void(bool)> set_training;
  std::vector<at::Tensor> parameters, buffers;
  std::vector<long> input_shape;  // channels, height, width
  long num_classes = 2;
  bool channels_last = false;
};

// The probe's figures; `optimizer_state_per_parameter`: the optimiser's state in parameter-sized
// tensors (Adam 2, SGD with momentum 1). nullopt where peak RSS cannot be restarted.
std::optional<meter::MemoryProbe> probe_memory(const ProbeModel& m,
                                               double optimizer_state_per_parameter,
                                               int batch_small = 2, int batch_large = 4);

// Returns the memory the allocator keeps from freed blocks to the system (glibc's malloc_trim),
// so that what the process holds is what it uses, as the probe measured it.
void release_free_memory();

}  // namespace pepr::train
