#include "meter/estimate.hpp"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

#include "meter/util.hpp"

namespace pepr::meter {

const std::vector<TdpEntry>& tdp_table() {
  // TDP and threads per package from the vendors' specification pages (Intel ARK, AMD).
  static const std::vector<TdpEntry> table = {
      {"Xeon(R) Gold 6248", 150, 40},      {"Xeon(R) Gold 6130", 125, 32},
      {"Xeon(R) Platinum 8380", 270, 80},  {"Xeon(R) Silver 4214", 85, 24},
      {"Xeon(R) CPU E5-2680 v4", 120, 28}, {"Xeon(R) CPU E5-2690 v4", 135, 28},
      {"Core(TM) i7-8700", 65, 12},        {"Core(TM) i9-9900K", 95, 16},
      {"Core(TM) i9-13900K", 125, 32},     {"AMD EPYC 7742", 225, 128},
      {"AMD EPYC 7763", 280, 128},         {"AMD EPYC 9654", 360, 192},
      {"AMD Ryzen 9 5950X", 105, 32},      {"AMD Ryzen 9 7950X", 170, 32},
  };
  return table;
}

std::string cpu_model_name() {
  if (auto m = env("PEPR_CPU_MODEL")) return *m;
  return cpuinfo_field("model name");
}

namespace {
// The pattern occurs in `model` and is not followed by a letter or digit (6248 vs 6248R).
bool matches(const std::string& model, const std::string& pattern) {
  for (auto pos = model.find(pattern); pos != std::string::npos;
       pos = model.find(pattern, pos + 1)) {
    auto end = pos + pattern.size();
    if (end >= model.size() || !std::isalnum(static_cast<unsigned char>(model[end]))) return true;
  }
  return false;
}
}  // namespace

CpuPower cpu_power(std::optional<double> tdp_override_w, const std::string& model, int cpus) {
  CpuPower p;
  p.cpus = std::max(1, cpus);
  p.model = model;
  if (tdp_override_w) {
    p.full_load_w = *tdp_override_w;
    p.why = fmt::format("--cpu-tdp {:g} W for all {} CPUs", *tdp_override_w, p.cpus);
    return p;
  }
  for (const auto& e : tdp_table()) {
    if (!matches(model, e.pattern)) continue;
    p.full_load_w = e.tdp_w / e.threads * p.cpus;
    p.why = fmt::format("TDP table: {} {:g} W / {} threads x {} CPUs = {:.1f} W", e.pattern,
                        e.tdp_w, e.threads, p.cpus, p.full_load_w);
    return p;
  }
  p.full_load_w = kDefaultWattsPerCpu * p.cpus;
  p.why = fmt::format(
      "CPU model '{}' not in the TDP table: default {:g} W per CPU x {} CPUs = "
      "{:g} W (set --cpu-tdp)",
      model.empty() ? "unknown" : model, kDefaultWattsPerCpu, p.cpus, p.full_load_w);
  return p;
}

EstimateSource::EstimateSource(const CpuPower& cpu, std::string reason) : cpu_(cpu) {
  Component c;
  c.name = "cpu.estimate";
  c.kind = "cpu";
  c.method = "estimate";
  c.source = fmt::format("{}, scaled by the CPU utilisation of the tracked processes; {}", cpu.why,
                         reason);
  components_.push_back(c);
  Component d;
  d.name = "dram.estimate";
  d.kind = "dram";
  d.method = "estimate";
  d.source =
      fmt::format("{:g} W per GB of resident memory of the tracked processes", kDramWattsPerGb);
  components_.push_back(d);
}

void EstimateSource::begin(const SampleContext& ctx) {
  cpu0_ = cpu_last_ = ctx.cpu_s;
  rss_last_ = ctx.rss_gb;
  t_last_ = ctx.t_s;
  dram_j_ = 0;
}

void EstimateSource::sample(const SampleContext& ctx) {
  cpu_last_ = std::max(cpu_last_, ctx.cpu_s);
  if (ctx.t_s > t_last_)
    dram_j_ += kDramWattsPerGb * 0.5 * (ctx.rss_gb + rss_last_) * (ctx.t_s - t_last_);
  rss_last_ = ctx.rss_gb;
  t_last_ = ctx.t_s;
}

std::vector<double> EstimateSource::joules() const {
  return {cpu_.full_load_w / cpu_.cpus * (cpu_last_ - cpu0_), dram_j_};
}

}  // namespace pepr::meter
