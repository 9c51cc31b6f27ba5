// NVIDIA's `tegrastats` on a Jetson whose INA3221 rails cannot be read from sysfs (meter/jetson):
// its lines carry the same rails' power ("VDD_IN 5000mW/4000mW" on L4T 34 and later,
// "POM_5V_IN 2345/2345" in mW on L4T 32), current then average. A feed runs
// `tegrastats --interval MS` beside the tracked job and keeps each rail's latest power; the
// Jetson source integrates it like the sysfs readings.
#pragma once

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/subprocess.hpp"

namespace pepr::meter {

// The rails' current power in W, in the line's order: "NAME CUR/AVG" with both in mW ("mW"
// written or not); every other field (RAM 2000/3964MB, CPU [..], EMC_FREQ 0%, temperatures) is
// not a rail. Empty for a line without any.
std::vector<std::pair<std::string, double>> parse_tegrastats_line(const std::string& line);

// `$PEPR_TEGRASTATS` ("off": none), else `tegrastats` on PATH; empty when there is none.
std::string find_tegrastats();

class TegrastatsFeed {
 public:
  // Starts `program --interval interval_ms` and waits up to `first_line_s` for a line with
  // rails. nullptr, with `why`, when it cannot run or prints none.
  static std::shared_ptr<TegrastatsFeed> start(const std::string& program, int interval_ms,
                                               double first_line_s, std::string& why);
  ~TegrastatsFeed();
  TegrastatsFeed(const TegrastatsFeed&) = delete;
  TegrastatsFeed& operator=(const TegrastatsFeed&) = delete;

  // The rail's latest power; nullopt with `why` when tegrastats has stopped, has not printed
  // for three intervals, or its last line lacks the rail.
  std::optional<double> power_w(const std::string& rail, std::string& why) const;
  // The rails of the first line, in its order.
  std::vector<std::string> rails() const;
  const std::string& program() const { return program_; }
  double interval_s() const { return interval_s_; }

 private:
  TegrastatsFeed() = default;
  void read_lines();
  std::string program_;
  double interval_s_ = 1;
  Subprocess child_;
  std::thread reader_;
  mutable std::mutex m_;
  std::condition_variable first_;
  std::map<std::string, double> latest_;
  std::vector<std::string> order_;
  double last_line_t_ = 0;
  bool ended_ = false;
};

}  // namespace pepr::meter
