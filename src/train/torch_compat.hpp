// What differs between the LibTorch versions pepr builds against (Debian 12's 1.13, Debian 13's
// 2.6, pytorch.org's and Python torch's 2.x, CPU or CUDA), in one place. Included only by
// files that already use LibTorch; nothing else in pepr tests TORCH_VERSION or PEPR_TORCH_CUDA.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <ATen/autocast_mode.h>
#include <torch/torch.h>
#include <torch/version.h>

#define PEPR_TORCH_AT_LEAST(major, minor) \
  (TORCH_VERSION_MAJOR > (major) ||       \
   (TORCH_VERSION_MAJOR == (major) && TORCH_VERSION_MINOR >= (minor)))

namespace pepr::train::compat {

// Autocast (mixed precision) for one device type: 2.4 made the API device-generic and
// deprecated the CPU/CUDA-specific calls of 1.x. `dtype` is set only when enabling (1.13's CPU
// autocast accepts bf16 alone).
inline void set_autocast(c10::DeviceType type, bool enabled, c10::ScalarType dtype) {
#if PEPR_TORCH_AT_LEAST(2, 4)
  if (enabled) at::autocast::set_autocast_dtype(type, dtype);
  at::autocast::set_autocast_enabled(type, enabled);
#else
  if (type == c10::DeviceType::CUDA) {
    if (enabled) at::autocast::set_autocast_gpu_dtype(dtype);
    at::autocast::set_enabled(enabled);
  } else {
    if (enabled) at::autocast::set_autocast_cpu_dtype(dtype);
    at::autocast::set_cpu_enabled(enabled);
  }
#endif
  if (!enabled) at::autocast::clear_cache();
}

inline bool autocast_enabled(c10::DeviceType type) {
#if PEPR_TORCH_AT_LEAST(2, 4)
  return at::autocast::is_autocast_enabled(type);
#else
  return type == c10::DeviceType::CUDA ? at::autocast::is_enabled()
                                       : at::autocast::is_cpu_enabled();
#endif
}

// Whether pepr reads CUDA's own statistics (a CUDA LibTorch, PEPR_CUDA_EXTRAS on): GPU memory
// peaks, free memory, device properties. Without them a CUDA build still trains on the GPU.
constexpr bool cuda_extras() {
#ifdef PEPR_TORCH_CUDA
  return true;
#else
  return false;
#endif
}

// The CUDA side of the environment; empty strings where this build has no CUDA.
struct CudaInfo {
  std::string runtime;      // "13.0"
  std::string cudnn;        // "9.10.2"
  std::string device_name;  // "NVIDIA H200"
  double total_memory_gb = 0;
  int capability_major = 0, capability_minor = 0;
};
// Implemented in torch_cuda.cpp (real on CUDA builds, nullopt otherwise).
std::optional<CudaInfo> cuda_info(int device_index);

// Free and total memory of a CUDA device in bytes; nullopt without CUDA.
std::optional<std::pair<std::uint64_t, std::uint64_t>> cuda_memory_info(int device_index);

// The caching allocator's peaks since the last reset, in bytes: the paper's memR is the reserved
// peak. nullopt without CUDA.
struct CudaMemoryPeaks {
  std::uint64_t allocated = 0, reserved = 0;
};
std::optional<CudaMemoryPeaks> cuda_memory_peaks(int device_index);
void reset_cuda_memory_peaks(int device_index);

// The device's own times of a run of steps on a CUDA device: a timing event is recorded on the
// device's current stream at construction and at each mark(); after a synchronise, intervals_s()
// gives the time between consecutive events on the GPU's clock. (The host's clock only sees how
// long each step took to enqueue: the GPU runs behind it, so host times of early steps are too
// short and later ones absorb the queue.) Without CUDA, or with no GPU, it records nothing and
// intervals_s() is empty. Implemented in torch_cuda.cpp.
class CudaStepTimer {
 public:
  explicit CudaStepTimer(int device_index);
  ~CudaStepTimer();
  CudaStepTimer(const CudaStepTimer&) = delete;
  CudaStepTimer& operator=(const CudaStepTimer&) = delete;
  void mark();
  std::vector<double> intervals_s() const;

 private:
  int device_ = -1;
  std::vector<void*> events_;  // cudaEvent_t
};

}  // namespace pepr::train::compat
