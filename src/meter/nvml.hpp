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
  std::vector<std::string> mig_uuids;  // its MIG instances ("MIG-..."), when MIG is enabled
  bool has_energy_counter = false;
  bool selected = true;            // used by this job (CUDA_VISIBLE_DEVICES, cuda:N)
  bool visible = true;             // selected and readable: metered
  bool shared = false;             // selected through a MIG instance: the whole GPU is metered
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
  std::vector<GpuInfo> gpus;       // every GPU NVML lists (visible or not)
  std::vector<std::string> notes;  // warnings for the record and stderr (GPU order, MIG, ...)
  std::shared_ptr<NvmlLib> handle;
};

// NVML's compute-process entry size for nvmlDeviceGetComputeRunningProcesses_v3 under a driver
// version ("535.54.03"): 32 bytes on 535.43 to 535.86 (an extra field those drivers wrote), else
// 24 (the documented nvmlProcessInfo_v2_t layout).
std::size_t nvml_v3_entry_size(const std::string& driver_version);

// $PEPR_NVML_LIB or libnvidia-ml.so.1.
std::string nvml_library();
// Loads NVML, lists the GPUs and reads each once; applies CUDA_VISIBLE_DEVICES.
NvmlScan scan_nvml(const std::string& lib);

// Which NVML indices a CUDA_VISIBLE_DEVICES value selects (by index, GPU UUID prefix or MIG
// instance UUID, each GPU at most once, stopping at the first entry that names no GPU, as CUDA
// does). `note` explains; `warnings` gets what a person must know (a MIG instance stands for its
// whole GPU; indices that CUDA may number differently).
std::vector<unsigned> select_visible(const std::optional<std::string>& cuda_visible,
                                     const std::vector<GpuInfo>& gpus, std::string& note,
                                     std::vector<std::string>* warnings = nullptr,
                                     std::vector<unsigned>* mig_parents = nullptr);

// One note per GPU the job uses that cannot be read (no handle, no counter and no power): never
// silently missing from the total.
std::vector<std::string> unreadable_gpu_notes(const NvmlScan& scan);

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
  std::vector<std::string> notes() const override;
  bool empty() const { return gpus_.empty(); }

  // GPU memory used by the given processes summed over the visible GPUs, in GB; nullopt when
  // NVML lists none of them (not supported, or pids hidden by a container). NVML's process list
  // is costly on a busy GPU: it is queried at most every `min_gap_s` seconds of `now_s` (the
  // steady clock), the last answer standing in between.
  std::optional<double> process_memory_gb(const std::vector<pid_t>& pids, double now_s,
                                          double min_gap_s = kNvmlProcessQueryGapS);
  // How many times the process list was queried.
  std::size_t process_queries() const { return process_queries_; }

  static constexpr double kNvmlProcessQueryGapS = 1.0;
  // A GPU energy counter that gained more than this power x the time since the last reading
  // (+ kNvmlResetSlackJ) was reset or misread: the jump is dropped and noted.
  static constexpr double kNvmlResetWatts = 2000.0;
  static constexpr double kNvmlResetSlackJ = 1000.0;

 private:
  struct Gpu {
    void* device = nullptr;
    unsigned index = 0;
    bool counter = false;
    double joules = 0;
    unsigned long long last_mj = 0;
    double last_w = 0, last_t = 0;
    bool have_last = false;
    std::size_t reads = 0, failed = 0, resets = 0;
    int last_error = 0;
    double dropped_j = 0;
  };
  std::size_t process_entry_size_ = 0;  // of the v3 process list, by driver version
  double last_query_t_ = -1e300;
  std::optional<double> last_query_gb_;
  std::size_t process_queries_ = 0;
  std::shared_ptr<NvmlLib> lib_;
  std::vector<Component> components_;
  std::vector<Gpu> gpus_;
};

}  // namespace pepr::meter
