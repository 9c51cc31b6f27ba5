// AMD GPU energy and power through the amdsmi library (ROCm's libamd_smi.so), loaded at run time
// with dlopen ($PEPR_AMDSMI_LIB or libamd_smi.so): no build dependency on ROCm.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "meter/source.hpp"

namespace pepr::meter {

class AmdsmiLib;  // the loaded library (opaque)

struct AmdGpuInfo {
  unsigned index = 0;  // in amdsmi's order (its sockets, then each socket's GPUs)
  std::string name;    // the ASIC's market name, when amdsmi gives it
  void* handle = nullptr;
  bool has_energy_counter = false;
  bool readable = false;           // a counter or a power reading: metered
  std::optional<double> power_w;   // socket power now
  std::optional<double> energy_j;  // counter x resolution (since the driver loaded)
  std::string problem;             // e.g. "no energy counter: power samples integrated"
};

struct AmdsmiScan {
  std::string lib;      // the path or name given to dlopen
  bool loaded = false;  // dlopen and amdsmi_init succeeded
  std::string problem;  // why no AMD GPU is measured, with the fix
  std::vector<AmdGpuInfo> gpus;
  std::shared_ptr<AmdsmiLib> handle;
  std::size_t readable() const;
};

// $PEPR_AMDSMI_LIB or libamd_smi.so.
std::string amdsmi_library();
// Loads amdsmi (AMD GPUs only), lists the GPUs and reads each once.
AmdsmiScan scan_amdsmi(const std::string& lib);
// For the tracker: the source of the readable GPUs, or why there is none.
SourceChoice choose_amdsmi(const std::string& lib);

// Energy of the readable AMD GPUs, every one of them (HIP_VISIBLE_DEVICES is not applied): the
// energy counter where the GPU has one, else socket power samples integrated over time.
// Impossible readings (a counter that goes backwards or gains more than kMaxWatts, a power above
// kMaxWatts, a resolution that is not a positive number) are dropped and noted.
class AmdsmiSource final : public EnergySource {
 public:
  explicit AmdsmiSource(const AmdsmiScan& scan);
  const std::vector<Component>& components() const override { return components_; }
  void begin(const SampleContext& ctx) override;
  void sample(const SampleContext& ctx) override;
  std::vector<double> joules() const override;
  bool needs_periodic() const override;
  std::vector<std::string> notes() const override;
  bool empty() const { return gpus_.empty(); }

  static constexpr double kMaxWatts = 2000.0;  // no GPU draws more
  static constexpr double kSlackJ = 1000.0;    // counter gain allowed over kMaxWatts x time

 private:
  struct Gpu {
    void* handle = nullptr;
    unsigned index = 0;
    bool counter = false;
    double joules = 0;
    std::uint64_t last_count = 0;
    double last_w = 0, last_t = 0;
    bool have_last = false;
    std::size_t reads = 0, failed = 0, resets = 0, rejected = 0;
    int last_error = 0;
    double dropped_j = 0;
    std::string last_rejected;  // what the last impossible reading was
  };
  void sample_counter(Gpu& g, double t);
  void sample_power(Gpu& g, double t);
  std::shared_ptr<AmdsmiLib> lib_;
  std::vector<Component> components_;
  std::vector<Gpu> gpus_;
};

}  // namespace pepr::meter
