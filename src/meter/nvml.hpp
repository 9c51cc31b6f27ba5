// NVIDIA GPU energy, power and memory through NVML, loaded at run time with dlopen
// ($PEPR_NVML_LIB or libnvidia-ml.so.1): no build dependency on CUDA.
#pragma once

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "meter/source.hpp"

namespace pepr::meter {

class NvmlLib;  // the loaded library (opaque)

struct GpuInfo {
  unsigned index = 0;  // NVML index
  std::string name, uuid;
  bool has_energy_counter = false;
  bool visible = true;             // usable by this job (CUDA_VISIBLE_DEVICES)
  std::optional<double> power_w;   // current draw
  std::optional<double> energy_j;  // counter reading (since the driver loaded)
  std::optional<double> mem_used_gb;
  std::string problem;  // e.g. "no total-energy counter: power samples integrated"
};

struct NvmlScan {
  std::string lib;         // the path or name given to dlopen
  bool loaded = false;     // dlopen and nvmlInit succeeded
  std::string problem;     // why no GPU is measured (no library, init failed, no GPU, none visible)
  std::string visibility;  // how CUDA_VISIBLE_DEVICES was applied
  std::vector<GpuInfo> gpus;  // every GPU NVML lists (visible or not)
  std::shared_ptr<NvmlLib> handle;
};

// $PEPR_NVML_LIB or libnvidia-ml.so.1.
std::string nvml_library();
// Loads NVML, lists the GPUs and reads each once; applies CUDA_VISIBLE_DEVICES.
NvmlScan scan_nvml(const std::string& lib);

// Which NVML indices a CUDA_VISIBLE_DEVICES value selects (by index or UUID prefix, each GPU at
// most once, stopping at the first entry that names no GPU, as CUDA does). `note` explains.
std::vector<unsigned> select_visible(const std::optional<std::string>& cuda_visible,
                                     const std::vector<GpuInfo>& gpus, std::string& note);

// Keeps only the visible GPU that CUDA numbers `ordinal` (cuda:ORDINAL) visible, so that a job
// on one GPU of several meters that GPU alone; says so in scan.visibility. An ordinal that names
// no visible GPU leaves none visible, with the reason in scan.problem.
void restrict_to_cuda_device(NvmlScan& scan, int ordinal);

// Energy of the visible GPUs: the total-energy counter where the GPU has one, else power
// samples integrated over time (trapezoids) at the tracker's interval.
class NvmlSource final : public EnergySource {
 public:
  explicit NvmlSource(const NvmlScan& scan);
  const std::vector<Component>& components() const override { return components_; }
  void begin(const SampleContext& ctx) override;
  void sample(const SampleContext& ctx) override;
  std::vector<double> joules() const override;
  bool needs_periodic() const override;
  bool empty() const { return gpus_.empty(); }

  // GPU memory used by the given processes summed over the visible GPUs, in GB; nullopt when
  // NVML lists none of them (not supported, or pids hidden by a container).
  std::optional<double> process_memory_gb(const std::vector<pid_t>& pids);

 private:
  struct Gpu {
    void* device = nullptr;
    bool counter = false;
    double joules = 0;
    unsigned long long last_mj = 0;
    double last_w = 0, last_t = 0;
    bool have_last = false;
  };
  std::shared_ptr<NvmlLib> lib_;
  std::vector<Component> components_;
  std::vector<Gpu> gpus_;
};

}  // namespace pepr::meter
