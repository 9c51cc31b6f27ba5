// pepr meters: every energy sensor found, readable or not, its current reading, and the reason
// for each one that cannot be used.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "core/error.hpp"
#include "core/file_io.hpp"
#include "meter/probe.hpp"

namespace pepr::cli {

void add_meters(CLI::App& app) {
  struct Args {
    bool json = false;
    std::string format;  // text or json; empty: from -o's extension, else text
    std::string output = "-";
    double window_s = 0.5;
    double cpu_tdp = 0;
    CLI::Option* tdp_opt = nullptr;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "meters",
      "List the energy sensors (RAPL powercap, perf power PMU, NVIDIA GPUs through NVML, AMD "
      "GPUs through amdsmi, NVIDIA Jetson INA3221 rails) with a current reading, why any is "
      "unusable, and the estimate pepr falls back to");
  cmd->add_flag("--json", a->json, "print JSON (the same as -f json)");
  cmd->add_option("-f,--format", a->format, "text or json (default: from -o's extension)")
      ->check(CLI::IsMember({"text", "json"}));
  cmd->add_option("-o,--output", a->output, "write to this file, atomically (default: stdout)");
  cmd->add_option("--window", a->window_s,
                  "seconds over which the current power is averaged (default 0.5)");
  a->tdp_opt = cmd->add_option("--cpu-tdp", a->cpu_tdp,
                               "CPU power at full load for the estimate (as in pepr track)");
  cmd->callback([a] {
    if (!(a->window_s > 0) || a->window_s > 60)
      throw Error("--window: expected seconds between 0 and 60");
    std::optional<double> tdp;
    if (a->tdp_opt->count()) tdp = a->cpu_tdp;
    check_output_path(a->output, "-o");
    // The table commands' rule (-f, else -o's extension), with text for their "table"; an
    // extension of another format (.csv, .xlsx) is refused below.
    Format f = Format::Csv;
    try {
      f = a->json
              ? Format::Json
              : output_format(a->format == "text" ? "table" : a->format, a->output, Format::Table);
    } catch (const Error&) {
    }
    if (f != Format::Json && f != Format::Table)
      throw Error(
          fmt::format("-o {}: pepr meters writes text (.txt, or no extension) or JSON "
                      "(.json); or give -f text|json",
                      a->output));
    const bool json = f == Format::Json;
    auto probe = meter::probe_sensors(a->window_s, tdp);
    write_file_atomic(a->output, json ? probe.dump(2) + "\n" : meter::format_probe(probe));
  });
}

}  // namespace pepr::cli
