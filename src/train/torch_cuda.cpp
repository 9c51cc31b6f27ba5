// The CUDA-only part of torch_compat.hpp: compiled to real calls where LibTorch has CUDA
// (PEPR_TORCH_CUDA, set by CMake when the c10_cuda target exists), to "not available" elsewhere.
#include "train/torch_compat.hpp"

#ifdef PEPR_TORCH_CUDA
#include <ATen/cuda/CUDAContext.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <cuda_runtime_api.h>
#endif

#include <fmt/format.h>

namespace pepr::train::compat {

#ifdef PEPR_TORCH_CUDA

std::optional<CudaInfo> cuda_info(int device_index) {
  if (!torch::cuda::is_available()) return std::nullopt;
  CudaInfo c;
  int rt = 0;
  if (cudaRuntimeGetVersion(&rt) == cudaSuccess)
    c.runtime = fmt::format("{}.{}", rt / 1000, (rt % 1000) / 10);
  const long cudnn = at::detail::getCUDAHooks().versionCuDNN();
  if (cudnn > 0) {
    // cuDNN 9 encodes major*10000 + minor*100 + patch; 8 encoded major*1000 + minor*100 + patch.
    c.cudnn = cudnn >= 90000
                  ? fmt::format("{}.{}.{}", cudnn / 10000, cudnn / 100 % 100, cudnn % 100)
                  : fmt::format("{}.{}.{}", cudnn / 1000, cudnn / 100 % 10, cudnn % 100);
  }
  const cudaDeviceProp* p = at::cuda::getDeviceProperties(device_index);
  if (p) {
    c.device_name = p->name;
    c.total_memory_gb = static_cast<double>(p->totalGlobalMem) / 1e9;
    c.capability_major = p->major;
    c.capability_minor = p->minor;
  }
  return c;
}

std::optional<std::pair<std::uint64_t, std::uint64_t>> cuda_memory_info(int device_index) {
  if (!torch::cuda::is_available()) return std::nullopt;
  int prev = 0;
  cudaGetDevice(&prev);
  cudaSetDevice(device_index);
  size_t free_b = 0, total_b = 0;
  const bool ok = cudaMemGetInfo(&free_b, &total_b) == cudaSuccess;
  cudaSetDevice(prev);
  if (!ok) return std::nullopt;
  return std::make_pair(static_cast<std::uint64_t>(free_b), static_cast<std::uint64_t>(total_b));
}

std::optional<CudaMemoryPeaks> cuda_memory_peaks(int device_index) {
  if (device_index < 0 || !torch::cuda::is_available()) return std::nullopt;
  // The stats' type moved namespaces across versions; index 0 is the aggregate in all of them.
  const auto stats =
      c10::cuda::CUDACachingAllocator::getDeviceStats(static_cast<c10::DeviceIndex>(device_index));
  CudaMemoryPeaks p;
  p.allocated = static_cast<std::uint64_t>(stats.allocated_bytes[0].peak);
  p.reserved = static_cast<std::uint64_t>(stats.reserved_bytes[0].peak);
  return p;
}

void reset_cuda_memory_peaks(int device_index) {
  if (device_index < 0 || !torch::cuda::is_available()) return;
  c10::cuda::CUDACachingAllocator::resetPeakStats(static_cast<c10::DeviceIndex>(device_index));
}

CudaStepTimer::CudaStepTimer(int device_index) {
  if (device_index < 0 || !torch::cuda::is_available()) return;
  device_ = device_index;
  mark();
}

CudaStepTimer::~CudaStepTimer() {
  for (void* e : events_) cudaEventDestroy(static_cast<cudaEvent_t>(e));
}

void CudaStepTimer::mark() {
  if (device_ < 0) return;
  cudaEvent_t e = nullptr;
  if (cudaEventCreate(&e) != cudaSuccess) {  // (timing enabled: the default flags)
    device_ = -1;  // give up: intervals_s() will not match the steps and is not used
    return;
  }
  cudaEventRecord(e, at::cuda::getCurrentCUDAStream(static_cast<c10::DeviceIndex>(device_)));
  events_.push_back(e);
}

std::vector<double> CudaStepTimer::intervals_s() const {
  std::vector<double> out;
  if (device_ < 0) return out;
  for (size_t i = 1; i < events_.size(); ++i) {
    float ms = 0;
    if (cudaEventElapsedTime(&ms, static_cast<cudaEvent_t>(events_[i - 1]),
                             static_cast<cudaEvent_t>(events_[i])) != cudaSuccess)
      return {};
    out.push_back(ms / 1e3);
  }
  return out;
}

#else

CudaStepTimer::CudaStepTimer(int) {}
CudaStepTimer::~CudaStepTimer() = default;
void CudaStepTimer::mark() {}
std::vector<double> CudaStepTimer::intervals_s() const {
  return {};
}

std::optional<CudaInfo> cuda_info(int) {
  return std::nullopt;
}
std::optional<std::pair<std::uint64_t, std::uint64_t>> cuda_memory_info(int) {
  return std::nullopt;
}
std::optional<CudaMemoryPeaks> cuda_memory_peaks(int) {
  return std::nullopt;
}
void reset_cuda_memory_peaks(int) {}

#endif

}  // namespace pepr::train::compat
