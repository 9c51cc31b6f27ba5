// pepr track: runs any program as a child and measures its time, CPU time, energy, CO2eq and
// peak memory; forwards SIGINT/SIGTERM and exits with the child's exit code.
#include <signal.h>
#include <sys/resource.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "core/error.hpp"
#include "core/file_io.hpp"
#include "core/subprocess.hpp"
#include "core/table.hpp"
#include "core/version.hpp"
#include "meter/carbon.hpp"
#include "meter/estimate.hpp"
#include "meter/tracker.hpp"
#include "meter/tracker_record.hpp"
#include "meter/util.hpp"
#include "run/environment.hpp"

namespace pepr::cli {

namespace {

struct TrackArgs {
  std::string output, samples, append, label, recompute, metrics, model, dataset;
  std::vector<std::string> columns;
  std::vector<std::string> command;
  double interval_s = 0.1;
  double cpu_tdp = 0, intensity = 0, pue = 1.0, idle_baseline = 0;
  std::string country;
  bool quiet = false;
  CLI::Option *cpu_tdp_opt = nullptr, *intensity_opt = nullptr, *country_opt = nullptr,
              *pue_opt = nullptr;
};

// Signals sent to pepr track by another process (kill, a batch scheduler) go on to the child.
constexpr int kForwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};

std::string num(const nlohmann::json& v) {
  if (v.is_null()) return "";
  if (v.is_number()) return fmt::format("{:.10g}", v.get<double>());
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

// The member `key` of a checked record, or null when it is absent (operator[] on a const JSON
// object must not be used for a key that may be missing).
const nlohmann::json& member_or_null(const nlohmann::json& obj, const char* key) {
  static const nlohmann::json kNull;
  auto it = obj.find(key);
  return it == obj.end() ? kNull : *it;
}

// The other processes' busy CPUs over the run (the meter's sharing account), or "".
std::string others_busy_cores(const nlohmann::json& rec) {
  const auto& sharing = member_or_null(rec, "sharing");
  return sharing.is_object() ? num(member_or_null(sharing, "others_busy_cores")) : "";
}

// Appends one row to a results table that `pepr score` reads (rewritten atomically). A record
// that names its model or dataset (--model, --dataset) gets them as the first columns, as pepr
// collect's table has them, and others_busy_cores; one that does not keeps the columns of the
// tables written before those options (so that they can still be appended to).
void append_row(const std::string& path, const nlohmann::json& rec, const std::string& label,
                const std::vector<std::pair<std::string, std::string>>& extra) {
  const auto& t = rec["total"];
  const auto& carbon = rec["carbon"];
  const bool named = rec.contains("model") || rec.contains("dataset");
  std::vector<std::pair<std::string, std::string>> cols;
  if (named) cols = {{"model", rec.value("model", label)}, {"dataset", rec.value("dataset", "")}};
  std::vector<std::pair<std::string, std::string>> measured = {
      {"label", label},
      {"time_s", num(t["wall_s"])},
      {"cpu_time_s", num(t["cpu_s"])},
      {"energy_kwh", num(t["energy_kwh"])},
      {"energy_raw_kwh", num(t["energy_raw_kwh"])},
      {"energy_idle_kwh", t.contains("idle_j") ? num(t["idle_j"].get<double>() / 3.6e6) : "0"},
      {"co2_g", num(t["co2_g"])},
      {"mem_peak_gb", num(t["mem_peak_gb"])},
      {"gpu_mem_peak_gb", num(member_or_null(t, "gpu_mem_peak_gb"))},
      {"energy_method", rec["methods"]["energy"].get<std::string>()},
      {"intensity_g_per_kwh", num(carbon["intensity_g_per_kwh"])},
      {"pue", num(carbon["pue"])},
      {"country", num(carbon["country"])},
      {"exit_code", rec.contains("exit_code") ? num(rec["exit_code"]) : ""},
  };
  cols.insert(cols.end(), measured.begin(), measured.end());
  // The error model's bounds (meter/uncertainty.hpp); a table of an earlier version without them
  // is appended to without them.
  const std::size_t bounds_at = cols.size();
  for (const char* k : {"energy_kwh_lo", "energy_kwh_hi", "co2_g_lo", "co2_g_hi"})
    cols.emplace_back(k, num(member_or_null(t, k)));
  const auto& err = member_or_null(t, "energy_error");
  cols.emplace_back("energy_error_per_run",
                    err.is_object() ? num(member_or_null(err, "per_run")) : "");
  const std::size_t bounds_end = cols.size();
  if (named) cols.emplace_back("others_busy_cores", others_busy_cores(rec));
  for (const auto& e : extra) {
    for (const auto& c : cols)
      if (c.first == e.first)
        throw Error(
            fmt::format("{}: column '{}' from --column or --metrics is already one of the "
                        "row's columns, not appending",
                        path, e.first));
    cols.push_back(e);
  }
  auto csv_lines = [&](bool with_bounds) {
    std::string header, row;
    for (std::size_t i = 0, n = 0; i < cols.size(); ++i) {
      if (!with_bounds && i >= bounds_at && i < bounds_end) continue;
      if (n++) header += ',', row += ',';
      append_csv_field(header, cols[i].first, ',', false, n == 1);
      append_csv_field(row, cols[i].second);
    }
    return std::pair{header, row};
  };
  auto [header, row] = csv_lines(true);
  std::string old;
  std::error_code ec;
  if (std::filesystem::exists(path, ec)) {
    old = read_text_file(path);
    std::string first = old.substr(0, old.find('\n'));
    if (!first.empty() && first.back() == '\r') first.pop_back();
    if (!old.empty() && first != header && first == csv_lines(false).first)
      std::tie(header, row) = csv_lines(false);
    if (!old.empty() && first != header)
      throw Error(
          fmt::format("{}: its header differs from this run's columns, not appending\n"
                      "  file: {}\n  run:  {}",
                      path, first, header));
    if (!old.empty() && old.back() != '\n') old += '\n';
  }
  if (old.empty()) old = header + "\n";
  write_file_atomic(path, old + row + "\n");
}

// "within LO-HI UNIT (...)" for a figure with bounds in the record, else "".
std::string bounds_line(const nlohmann::json& t, const std::string& key, double scale,
                        const char* unit) {
  const auto &lo = member_or_null(t, (key + "_lo").c_str()),
             &hi = member_or_null(t, (key + "_hi").c_str());
  if (!lo.is_number() || !hi.is_number()) return "";
  std::string why;
  if (const auto& e = member_or_null(t, "energy_error"); e.is_object() && key == "energy_kwh")
    why = fmt::format(": +-{:.0f} % systematic, +-{:.0f} % per run (docs/meters.md)",
                      100 * e.value("systematic", 0.0), 100 * e.value("per_run", 0.0));
  return fmt::format("          within {:.3g}-{:.3g} {}{}\n", lo.get<double>() * scale,
                     hi.get<double>() * scale, unit, why);
}

std::string summary(const nlohmann::json& rec) {
  const auto& t = rec["total"];
  const auto& c = rec["carbon"];
  std::string o;
  o += fmt::format("  time    {:.2f} s wall, {:.2f} s CPU\n", t["wall_s"].get<double>(),
                   t["cpu_s"].get<double>());
  // Human output: energy in Wh throughout (the record and --append keep J and kWh).
  std::string parts;
  for (const auto& comp : rec["components"]) {
    if (!comp["in_total"].get<bool>()) continue;
    const std::string n = comp["name"].get<std::string>();
    parts += fmt::format("{}{} {:.3g} Wh", parts.empty() ? "" : ", ", n,
                         t["energy_j"].value(n, 0.0) / 3600);
  }
  o += fmt::format("  energy  {:.3g} Wh raw  [{}]  {}\n", t["energy_raw_j"].get<double>() / 3600,
                   rec["methods"]["energy"].get<std::string>(), parts);
  if (t.contains("idle_j"))
    o += fmt::format(
        "          idle baseline {:.3g} W: {:.3g} Wh of it is idle draw; net x PUE "
        "{:g} = {:.3g} Wh\n",
        rec["idle_baseline"]["power_w"].get<double>(), t["idle_j"].get<double>() / 3600,
        c["pue"].get<double>(), t["energy_kwh"].get<double>() * 1000);
  else
    o += fmt::format("          x PUE {:g} = {:.3g} Wh\n", c["pue"].get<double>(),
                     t["energy_kwh"].get<double>() * 1000);
  o += bounds_line(t, "energy_kwh", 1000, "Wh");
  o += fmt::format("  CO2eq   {:.3g} g at {:g} g/kWh = {:.3g} km by an average new car\n",
                   t["co2_g"].get<double>(), c["intensity_g_per_kwh"].get<double>(),
                   t["car_km"].get<double>());
  o += bounds_line(t, "co2_g", 1, "g");
  o += fmt::format("          intensity: {}\n", c["why"].get<std::string>());
  o += fmt::format("  memory  peak RSS {:.3f} GB", t["mem_peak_gb"].get<double>());
  if (const auto& g = member_or_null(t, "gpu_mem_peak_gb"); g.is_number())
    o += fmt::format(", peak GPU memory {:.3f} GB", g.get<double>());
  o += "\n";
  if (const auto& e = member_or_null(rec, "estimate_reason"); e.is_string()) {
    // The estimate is the figure only where it is in the total; beside a sensor that covers the
    // CPU (a Jetson's board rails) it is reported, not added.
    bool estimate_counted = false;
    for (const auto& comp : rec.value("components", nlohmann::json::array()))
      estimate_counted = estimate_counted ||
                         (comp.value("method", "") == "estimate" && comp.value("in_total", false));
    o += estimate_counted ? "  estimate (no sensor): "
                          : "  CPU estimate reported, not added (a sensor covers the CPU): ";
    o += e.get<std::string>() + "\n";
  }
  return o;
}

meter::Intensity intensity_of(const TrackArgs& a) {
  std::optional<std::string> country;
  std::optional<double> intensity;
  if (a.country_opt->count()) country = a.country;
  if (a.intensity_opt->count()) intensity = a.intensity;
  return meter::resolve_intensity(country, intensity);
}

std::vector<std::pair<std::string, std::string>> extra_columns(const TrackArgs& a,
                                                               const nlohmann::json& metrics) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& kv : a.columns) {
    auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0)
      throw Error(fmt::format("--column '{}': expected NAME=VALUE", kv));
    out.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
  }
  if (metrics.is_object())
    for (const auto& [k, v] : metrics.items()) out.emplace_back(k, num(v));
  return out;
}

void write_outputs(const TrackArgs& a, nlohmann::json& rec, const std::string& label) {
  nlohmann::json metrics = rec.contains("metrics") ? rec["metrics"] : nlohmann::json();
  if (!a.output.empty()) write_file_atomic(a.output, rec.dump(2) + "\n");
  if (!a.append.empty()) append_row(a.append, rec, label, extra_columns(a, metrics));
}

// Every file pepr track writes, checked before anything runs: a bad path must not lose the run.
void check_outputs(const TrackArgs& a) {
  check_output_path(a.output, "-o");
  check_output_path(a.append, "--append");
  check_output_path(a.samples, "--samples");
}

void run_recompute(const TrackArgs& a) {
  check_outputs(a);
  nlohmann::json rec;
  try {
    rec = nlohmann::json::parse(read_text_file(a.recompute));
  } catch (const nlohmann::json::parse_error& e) {
    // A CSV table (--append's) or any other file: say what it is not, and where it broke.
    throw Error(fmt::format(
        "{}: not a pepr track record (a JSON file written by pepr track -o): not JSON at byte {}",
        a.recompute, e.byte));
  }
  try {
    meter::check_tracker_record(rec);
  } catch (const Error& e) {
    throw Error(fmt::format("{}: not a pepr track record: {}", a.recompute, e.what()));
  }
  // What is not given again is kept from the record.
  meter::Intensity in;
  if (a.country_opt->count() || a.intensity_opt->count() || !rec.contains("carbon") ||
      !rec["carbon"].is_object()) {
    in = intensity_of(a);
  } else {
    const auto& c = rec["carbon"];
    in.g_per_kwh = c.value("intensity_g_per_kwh", meter::kWorldIntensity);
    in.country = c.contains("country") && c["country"].is_string() ? c["country"].get<std::string>()
                                                                   : std::string();
    in.why = c.value("why", std::string("kept from the record"));
  }
  double pue = a.pue;
  if (!a.pue_opt->count() && rec.contains("carbon") && rec["carbon"].is_object())
    pue = rec["carbon"].value("pue", 1.0);
  try {
    meter::recompute_carbon(rec, in, pue);
  } catch (const Error& e) {
    throw Error(fmt::format("{}: {}", a.recompute, e.what()));
  }
  std::string label = !a.label.empty() ? a.label : rec.value("label", std::string("run"));
  if (!a.model.empty()) rec["model"] = a.model;
  if (!a.dataset.empty()) rec["dataset"] = a.dataset;
  write_outputs(a, rec, label);
  if (!a.quiet) fmt::print(stderr, "pepr track: {} recomputed\n{}", a.recompute, summary(rec));
}

int run_track(const TrackArgs& a, const std::vector<std::string>& cmd) {
  if (cmd.empty())
    throw Error("no command to run: pepr track [options] -- CMD ARGS... (or --recompute RUN.json)");
  if (a.idle_baseline < 0) throw Error("--idle-baseline: expected seconds >= 0");
  check_outputs(a);
  meter::TrackerOptions opt;
  opt.interval_s = a.interval_s;
  if (a.cpu_tdp_opt->count()) opt.cpu_tdp_w = a.cpu_tdp;
  opt.pue = a.pue;
  opt.intensity = intensity_of(a);
  opt.keep_samples = !a.samples.empty();
  meter::Tracker tracker(opt);
  const std::string label =
      !a.label.empty() ? a.label : std::filesystem::path(cmd[0]).filename().string();
  const std::vector<std::string> first_notes = tracker.notes();
  if (!a.quiet)
    for (const auto& n : first_notes) fmt::print(stderr, "pepr track: note: {}\n", n);

  if (a.idle_baseline > 0) {
    if (!a.quiet)
      fmt::print(stderr, "pepr track: measuring the idle draw for {:g} s...\n", a.idle_baseline);
    tracker.measure_idle(a.idle_baseline);
  }

  // Signals sent to pepr are held from here until the child's pid is known, then forwarded; the
  // child is held before exec until the tracker runs, so its whole life is metered.
  const std::string started = run::utc_now();
  int exec_errno = 0;
  ExitStatus status;
  struct rusage ru {};
  {
    SignalForwarder forwarder({std::begin(kForwarded), std::end(kForwarded)});
    SpawnOptions so;
    so.gated = true;
    Subprocess child = Subprocess::spawn(cmd, so);
    forwarder.forward_to(child.pid());
    tracker.set_target(child.pid());
    tracker.start();
    exec_errno = child.release();
    if (exec_errno == 0) tracker.child_execed();  // the program runs
    status = child.wait(&ru);
  }  // forwarding ends with the child: once reaped, its pid may be another process's
  tracker.child_exited(ru);
  tracker.stop();
  if (exec_errno != 0) {
    fmt::print(stderr, "pepr: error: cannot run '{}': {}\n", cmd[0], std::strerror(exec_errno));
    return 127;  // as a shell does
  }
  const int code = status.code();

  nlohmann::json rec = tracker.to_json();
  rec["label"] = label;
  if (!a.model.empty()) rec["model"] = a.model;
  if (!a.dataset.empty()) rec["dataset"] = a.dataset;
  rec["command"] = cmd;
  rec["exit_code"] = code;
  if (status.signaled()) rec["signal"] = status.signal();
  rec["started_at"] = started;
  rec["host"] = {{"hostname", run::host_name()},
                 {"cpu_model", meter::cpu_model_name()},
                 {"cpus", meter::online_cpus()},
                 {"mem_total_gb", meter::mem_total_gb()}};
  rec["pepr_version"] = kVersion;
  if (!a.metrics.empty()) {
    std::error_code ec;
    if (!std::filesystem::exists(a.metrics, ec)) {
      fmt::print(stderr, "pepr track: warning: --metrics {} was not written by the command\n",
                 a.metrics);
    } else {
      try {
        auto m = nlohmann::json::parse(read_text_file(a.metrics));
        if (!m.is_object()) throw Error("");
        rec["metrics"] = m;
      } catch (const std::exception&) {
        throw Error(fmt::format("--metrics {}: expected a JSON object like {{\"accuracy\": 0.9}}",
                                a.metrics));
      }
    }
  }
  write_outputs(a, rec, label);
  if (!a.samples.empty()) write_file_atomic(a.samples, tracker.samples_jsonl());
  if (!a.quiet) {
    // What was learnt while measuring (counter resets, other meters on the machine).
    for (const auto& n : tracker.notes())
      if (std::find(first_notes.begin(), first_notes.end(), n) == first_notes.end())
        fmt::print(stderr, "pepr track: note: {}\n", n);
    fmt::print(stderr, "pepr track: {} exited with {}{}\n{}", label, code,
               status.signaled() ? fmt::format(" (signal {})", status.signal()) : "", summary(rec));
  }
  return code;
}

}  // namespace

void add_track(CLI::App& app) {
  auto a = std::make_shared<TrackArgs>();
  CLI::App* cmd = app.add_subcommand(
      "track",
      "Run a command and measure its time, CPU time, energy (RAPL, perf, NVML or an estimate), "
      "CO2eq and peak memory: pepr track [options] -- CMD ARGS...");
  cmd->add_option("command", a->command,
                  "the command and its arguments, after -- (e.g. -- python train.py --epochs 3)");
  cmd->add_option("-o,--output", a->output, "write the run record (JSON) here");
  cmd->add_option("--samples", a->samples, "write the time series (JSON lines) here");
  cmd->add_option("--append", a->append,
                  "append one row to this results table (CSV, created with a header when new; "
                  "read directly by pepr score)");
  cmd->add_option("--label", a->label, "the row's label (default: the command's name)");
  cmd->add_option("--model", a->model,
                  "the model's name: --append rows then start with model and dataset columns, "
                  "as pepr collect's table, so that pepr score ranks them beside a sweep "
                  "(default with --dataset: the label)");
  cmd->add_option("--dataset", a->dataset,
                  "the dataset's name, for the row's dataset column (pepr score -g dataset)");
  cmd->add_option("--column", a->columns,
                  "an extra column NAME=VALUE for --append (repeatable), e.g. accuracy=0.91")
      ->expected(1)
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  cmd->add_option("--metrics", a->metrics,
                  "a JSON object file the command writes (e.g. {\"accuracy\": 0.91}): kept in the "
                  "record and added as columns to --append");
  cmd->add_option("--interval", a->interval_s, "sampling interval in seconds (default 0.1)");
  a->cpu_tdp_opt = cmd->add_option(
      "--cpu-tdp", a->cpu_tdp,
      "for the estimate: CPU power in W with all this machine's CPUs busy (default: the "
      "built-in TDP table, else 5 W per CPU)");
  a->country_opt = cmd->add_option("--country", a->country,
                                   "grid carbon intensity of this country (ISO 3166 alpha-2 or "
                                   "alpha-3, e.g. DE or DEU; default $PEPR_COUNTRY, else the "
                                   "world average)");
  a->intensity_opt = cmd->add_option("--intensity", a->intensity,
                                     "grid carbon intensity in g CO2eq/kWh (default "
                                     "$PEPR_CARBON_INTENSITY)");
  a->pue_opt = cmd->add_option(
      "--pue", a->pue,
      "data-centre PUE applied to energy_kwh and CO2 (default 1.0; the PePR paper's "
      "tracker applied 1.58); raw energy is always kept");
  cmd->add_option("--idle-baseline", a->idle_baseline,
                  "measure the machine's idle draw for this many seconds first, and report net "
                  "energy above it");
  cmd->add_option("--recompute", a->recompute,
                  "recompute CO2eq of a saved record (-o) for another --country/--intensity/--pue "
                  "without running anything");
  cmd->add_flag("-q,--quiet", a->quiet, "no summary on stderr");
  cmd->callback([a] {
    std::vector<std::string> rest = a->command;
    if (!a->recompute.empty()) {
      if (!rest.empty()) throw Error("--recompute runs nothing: give no command");
      run_recompute(*a);
      return;
    }
    int code = run_track(*a, rest);
    std::fflush(stdout);
    if (code != 0) throw CLI::RuntimeError(code);
  });
}

}  // namespace pepr::cli
