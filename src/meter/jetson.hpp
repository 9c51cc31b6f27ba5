// NVIDIA Jetson boards: power of the INA3221 monitors' rails in sysfs, integrated over time. Two
// layouts, under $PEPR_JETSON_SYSFS_ROOT or /sys:
//   bus/i2c/drivers/ina3221x/*/iio:device*/rail_name_N, in_powerN_input (mW)   older L4T (32.x)
//   class/hwmon/hwmon*/ named "ina3221": inN_label, inN_input (mV), currN_input (mA)   L4T 34+
// Where no rail can be read there, the same rails from NVIDIA's `tegrastats` (meter/tegrastats).
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "meter/source.hpp"
#include "meter/tegrastats.hpp"

namespace pepr::meter {

struct JetsonRail {
  std::string name;                      // VDD_IN, VDD_CPU_GPU_CV, VDD_SOC, POM_5V_GPU, ...
  std::string power_file;                // in_powerN_input (mW): the ina3221x layout
  std::string volt_file, curr_file;      // inN_input (mV) and currN_input (mA): the hwmon layout
  std::shared_ptr<TegrastatsFeed> feed;  // read from tegrastats' lines instead of sysfs
  bool readable = false;
  std::optional<double> power_w;  // the reading at the scan
  std::string problem;            // why it cannot be read
  // The board's input (VDD_IN, POM_5V_IN, 5V_IN): everything on the module.
  bool board_input() const;
};

struct JetsonScan {
  std::string root;
  std::string layout;  // "ina3221x (iio)" or "ina3221 (hwmon)"; empty when none is found
  std::vector<JetsonRail> rails;
  std::string problem;  // why no rail is used, with the fix
  std::size_t readable() const;
};

// $PEPR_JETSON_SYSFS_ROOT or /sys.
std::string jetson_sysfs_root();
// Finds the INA3221 rails under `root` and reads each once.
JetsonScan scan_jetson(const std::string& root);
// The rails from `program` (tegrastats) at `interval_ms`, its first line read.
JetsonScan scan_tegrastats(const std::string& program, int interval_ms = 500);
// The sysfs rails under `root`; where none can be read and tegrastats is there
// (find_tegrastats()), its rails instead; the sysfs problem is kept when it has none either.
JetsonScan scan_jetson_or_tegrastats(const std::string& root);
// One reading of a rail in W; nullopt with `why` when it cannot be read.
std::optional<double> read_rail_w(const JetsonRail& rail, std::string& why);
// For the tracker: the source of the readable rails, or why there is none.
SourceChoice choose_jetson(const std::string& root);

// Energy of the rails: power samples integrated over time (trapezoids). With a board-input rail
// it is the total and the other rails are parts of it (reported, not added); without one (AGX
// Xavier: GPU, CPU, SOC, CV, VDDRQ, SYS5V) the rails are added. Impossible readings (negative,
// not a number, above kMaxWatts) are dropped and noted.
class JetsonSource final : public EnergySource {
 public:
  explicit JetsonSource(const JetsonScan& scan);
  const std::vector<Component>& components() const override { return components_; }
  void begin(const SampleContext& ctx) override;
  void sample(const SampleContext& ctx) override;
  std::vector<double> joules() const override;
  bool needs_periodic() const override { return true; }
  std::vector<std::string> notes() const override;
  bool empty() const { return rails_.empty(); }

  static constexpr double kMaxWatts = 500.0;  // no Jetson rail carries more

 private:
  struct Rail {
    explicit Rail(JetsonRail r) : rail(std::move(r)) {}
    JetsonRail rail;
    double joules = 0, last_w = 0, last_t = 0;
    bool have_last = false;
    std::size_t reads = 0, failed = 0, rejected = 0;
    std::string last_error, last_rejected;
  };
  std::optional<double> read(Rail& r);
  std::vector<Component> components_;
  std::vector<Rail> rails_;
};

}  // namespace pepr::meter
