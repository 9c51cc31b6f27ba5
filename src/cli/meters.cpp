// pepr meters: every energy sensor found, readable or not, its current reading, and the reason
// for each one that cannot be used.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "core/error.hpp"
#include "meter/probe.hpp"

namespace pepr::cli {

void add_meters(CLI::App& app) {
  struct Args {
    bool json = false;
    double window_s = 0.5;
    double cpu_tdp = 0;
    CLI::Option* tdp_opt = nullptr;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "meters",
      "List the energy sensors (RAPL powercap, perf power PMU, NVIDIA GPUs through NVML) with "
      "a current reading, why any is unusable, and the estimate pepr falls back to");
  cmd->add_flag("--json", a->json, "print JSON");
  cmd->add_option("--window", a->window_s,
                  "seconds over which the current power is averaged (default 0.5)");
  a->tdp_opt = cmd->add_option("--cpu-tdp", a->cpu_tdp,
                               "CPU power at full load for the estimate (as in pepr track)");
  cmd->callback([a] {
    if (!(a->window_s > 0) || a->window_s > 60)
      throw Error("--window: expected seconds between 0 and 60");
    std::optional<double> tdp;
    if (a->tdp_opt->count()) tdp = a->cpu_tdp;
    auto probe = meter::probe_sensors(a->window_s, tdp);
    if (a->json)
      fmt::print("{}\n", probe.dump(2));
    else
      fmt::print("{}", meter::format_probe(probe));
  });
}

}  // namespace pepr::cli
