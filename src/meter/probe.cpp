#include "meter/probe.hpp"

#include <chrono>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/format.hpp"
#include "meter/amdsmi.hpp"
#include "meter/estimate.hpp"
#include "meter/jetson.hpp"
#include "meter/nvml.hpp"
#include "meter/perf_power.hpp"
#include "meter/rapl.hpp"
#include "meter/sharing.hpp"
#include "meter/util.hpp"

namespace pepr::meter {

namespace {

// Average power of each component of a source over the window.
std::vector<double> average_power(EnergySource& src, double window_s) {
  SampleContext ctx{now_s(), 0, 0};
  src.begin(ctx);
  std::this_thread::sleep_for(std::chrono::duration<double>(window_s));
  const double t1 = now_s();
  src.sample({t1, 0, 0});
  std::vector<double> w = src.joules();
  for (double& x : w) x = x / (t1 - ctx.t_s);
  return w;
}

nlohmann::json opt_num(const std::optional<double>& v) {
  return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
}

// AMD GPUs through amdsmi: each GPU with its reading, or the reason and the fix.
nlohmann::json amdsmi_json(const AmdsmiScan& s) {
  nlohmann::json gpus = nlohmann::json::array();
  for (const auto& g : s.gpus)
    gpus.push_back({{"index", g.index},
                    {"name", g.name},
                    {"readable", g.readable},
                    {"energy_counter", g.has_energy_counter},
                    {"power_w", opt_num(g.power_w)},
                    {"energy_j", opt_num(g.energy_j)},
                    {"problem", g.problem}});
  return {{"library", s.lib},
          {"loaded", s.loaded},
          {"problem", s.problem},
          {"gpus", gpus},
          {"used", s.readable()}};
}

// NVIDIA Jetson INA3221 rails: each rail with its power, or the reason and the fix.
nlohmann::json jetson_json(const JetsonScan& s) {
  JetsonSource src(s);
  nlohmann::json rails = nlohmann::json::array();
  for (const auto& r : s.rails) {
    nlohmann::json j{{"name", r.name},
                     {"readable", r.readable},
                     {"power_w", opt_num(r.power_w)},
                     {"problem", r.problem}};
    for (const auto& c : src.components())
      if (c.name == "jetson." + r.name) j["in_total"] = c.in_total, j["kind"] = c.kind;
    rails.push_back(j);
  }
  return {{"root", s.root},
          {"layout", s.layout},
          {"usable", s.readable() > 0},
          {"problem", s.problem},
          {"rails", rails}};
}

// What `pepr track` would meter the GPUs (and a Jetson board) with.
std::string gpu_selection(std::size_t nvml, std::size_t amd, const std::string& jetson) {
  std::string out;
  if (nvml) out = fmt::format("nvml ({})", plural(static_cast<long long>(nvml), "GPU"));
  if (amd)
    out += fmt::format("{}amdsmi ({})", out.empty() ? "" : " + ",
                       plural(static_cast<long long>(amd), "GPU"));
  if (!jetson.empty()) out += std::string(out.empty() ? "" : " + ") + jetson + " (board rails)";
  return out.empty() ? "none" : out;
}

}  // namespace

nlohmann::json probe_sensors(double window_s, std::optional<double> cpu_tdp_w) {
  nlohmann::json out;
  out["window_s"] = window_s;
  // RAPL powercap.
  RaplScan rapl = scan_rapl(powercap_root());
  nlohmann::json rj;
  rj["root"] = rapl.root;
  rj["exists"] = rapl.root_exists;
  rj["usable"] = rapl.usable();
  rj["problem"] = rapl.problem();
  std::vector<double> rapl_w;
  RaplSource rsrc(rapl);
  if (rapl.usable()) rapl_w = average_power(rsrc, window_s);
  nlohmann::json zones = nlohmann::json::array();
  std::size_t k = 0;
  for (const auto& d : rapl.domains) {
    nlohmann::json z{{"zone", d.zone},       {"name", d.name},         {"kind", d.kind},
                     {"package", d.package}, {"readable", d.readable}, {"problem", d.problem}};
    if (d.readable) {
      z["energy_uj"] = d.energy_uj;
      z["max_energy_range_uj"] = d.max_range_uj;
      z["power_w"] = k < rapl_w.size() ? nlohmann::json(rapl_w[k]) : nlohmann::json(nullptr);
      ++k;
    }
    zones.push_back(z);
  }
  rj["zones"] = zones;
  out["rapl"] = rj;

  // perf PMU.
  PerfScan perf = scan_perf();
  nlohmann::json pj;
  pj["root"] = perf.root;
  pj["exists"] = perf.pmu_exists;
  nlohmann::json evs = nlohmann::json::array();
  for (const auto& e : perf.events) evs.push_back({{"event", e.event}, {"scale", e.scale}});
  pj["events"] = evs;
  pj["cpus"] = perf.cpus;
  auto psrc = PerfSource::open(perf);
  pj["usable"] = psrc != nullptr;
  pj["problem"] = perf.problem;
  if (psrc) {
    auto w = average_power(*psrc, window_s);
    nlohmann::json readings = nlohmann::json::array();
    for (std::size_t i = 0; i < w.size(); ++i)
      readings.push_back({{"name", psrc->components()[i].name},
                          {"source", psrc->components()[i].source},
                          {"power_w", w[i]}});
    pj["readings"] = readings;
  }
  out["perf"] = pj;

  // NVML.
  NvmlScan nv = scan_nvml(nvml_library());
  nlohmann::json nj;
  nj["library"] = nv.lib;
  nj["loaded"] = nv.loaded;
  nj["problem"] = nv.problem;
  nj["visibility"] = nv.visibility;
  nlohmann::json gpus = nlohmann::json::array();
  for (const auto& g : nv.gpus)
    gpus.push_back({{"index", g.index},
                    {"name", g.name},
                    {"uuid", g.uuid},
                    {"visible", g.visible},
                    {"selected", g.selected},
                    {"shared", g.shared},
                    {"mig_instances", g.mig_uuids},
                    {"energy_counter", g.has_energy_counter},
                    {"power_w", opt_num(g.power_w)},
                    {"energy_j", opt_num(g.energy_j)},
                    {"mem_used_gb", opt_num(g.mem_used_gb)},
                    {"problem", g.problem}});
  nj["gpus"] = gpus;
  std::vector<std::string> gpu_notes = nv.notes;
  for (auto& n : unreadable_gpu_notes(nv)) gpu_notes.push_back(std::move(n));
  nj["notes"] = gpu_notes;
  out["nvml"] = nj;
  const AmdsmiScan amd = scan_amdsmi(amdsmi_library());
  out["amdsmi"] = amdsmi_json(amd);
  const JetsonScan jetson = scan_jetson_or_tegrastats(jetson_sysfs_root());
  out["jetson"] = jetson_json(jetson);

  // The estimate.
  CpuPower cpu = cpu_power(cpu_tdp_w, cpu_model_name(), online_cpus());
  out["estimate"] = {{"cpu_model", cpu.model},
                     {"cpus", cpu.cpus},
                     {"cpu_full_load_w", cpu.full_load_w},
                     {"cpu_why", cpu.why},
                     {"dram_w_per_gb", kDramWattsPerGb},
                     {"mem_total_gb", mem_total_gb()}};
  // Sharing: other pepr meters running now, a Slurm job with part of the node.
  SharingState sharing;
  sharing.registry = meter_registry_dir();
  sharing.other_meters = running_meters(sharing.registry);
  sharing.slurm = slurm_partial_node(online_cpus());
  sharing.cpus = online_cpus();
  sharing.others_busy_cores = busy_cores_now(0.2);  // over 0.2 s now, not over a run
  out["sharing"] = sharing.to_json();

  std::string cpu_method = rapl.usable() ? "rapl-powercap" : psrc ? "perf-pmu" : "estimate";
  std::size_t visible = 0;
  for (const auto& g : nv.gpus) visible += g.visible;
  const std::string jetson_method = jetson.readable() == 0          ? ""
                                    : jetson.layout == "tegrastats" ? "jetson-tegrastats"
                                                                    : "jetson-ina3221";
  out["selected"] = {{"cpu_dram", cpu_method},
                     {"gpu", gpu_selection(visible, amd.readable(), jetson_method)}};
  if (cpu_method == "estimate")
    out["estimate_reason"] = fmt::format(
        "no readable RAPL powercap ({}) and no perf power PMU ({})", rapl.problem(), perf.problem);
  if (cpu_method == "estimate" && jetson.readable() > 0)
    out["selected"]["cpu_dram"] = jetson_method + " (the board's rails include the CPU and memory)";
  return out;
}

namespace {

std::string num(const nlohmann::json& v, const char* fmtstr) {
  if (!v.is_number()) return "-";
  return fmt::format(fmt::runtime(fmtstr), v.get<double>());
}

std::string format_amdsmi(const nlohmann::json& a) {
  std::string o = fmt::format("amdsmi         {}  {}\n", a["library"].get<std::string>(),
                              a["loaded"].get<bool>() ? "loaded" : "NOT LOADED");
  if (!a["problem"].get<std::string>().empty())
    o += fmt::format("  reason: {}\n", a["problem"].get<std::string>());
  for (const auto& g : a["gpus"])
    o += fmt::format(
        "  gpu.amd.{:<3} {} {}  {} W  energy counter: {}{}\n", g["index"].get<unsigned>(),
        g["name"].get<std::string>(), g["readable"].get<bool>() ? "" : "(unreadable)",
        num(g["power_w"], "{:.1f}"),
        g["energy_counter"].get<bool>() ? num(g["energy_j"], "{:.0f} J") : std::string("none"),
        g["problem"].get<std::string>().empty() ? std::string()
                                                : "\n      " + g["problem"].get<std::string>());
  return o;
}

std::string format_jetson(const nlohmann::json& j) {
  std::string o = fmt::format(
      "Jetson INA3221 {}  {}\n", j["root"].get<std::string>(),
      j["usable"].get<bool>() ? "readable: " + j["layout"].get<std::string>() : "NOT USABLE");
  if (!j["problem"].get<std::string>().empty())
    o += fmt::format("  reason: {}\n", j["problem"].get<std::string>());
  for (const auto& r : j["rails"]) {
    if (!r["readable"].get<bool>()) {
      o += fmt::format("  {:<16} unreadable: {}\n", r["name"].get<std::string>(),
                       r["problem"].get<std::string>());
      continue;
    }
    o += fmt::format("  {:<16} {:>10} W   {}\n", r["name"].get<std::string>(),
                     num(r["power_w"], "{:.2f}"),
                     r.value("in_total", true) ? "counted in the total" : "part of the total");
  }
  return o;
}

}  // namespace

std::string format_probe(const nlohmann::json& p) {
  std::string o;
  const auto& r = p["rapl"];
  o += fmt::format("RAPL powercap  {}  {}\n", r["root"].get<std::string>(),
                   r["usable"].get<bool>() ? "readable" : "NOT USABLE");
  if (!r["usable"].get<bool>()) o += fmt::format("  reason: {}\n", r["problem"].get<std::string>());
  for (const auto& z : r["zones"]) {
    if (z["readable"].get<bool>())
      o += fmt::format("  {:<16} {:<10} {:>10} W   counter {} uJ (wraps at {})\n",
                       z["zone"].get<std::string>(), z["name"].get<std::string>(),
                       num(z["power_w"], "{:.2f}"), z["energy_uj"].get<std::uint64_t>(),
                       z["max_energy_range_uj"].get<std::uint64_t>());
    else
      o += fmt::format("  {:<16} {:<10} unreadable: {}\n", z["zone"].get<std::string>(),
                       z["name"].get<std::string>(), z["problem"].get<std::string>());
  }
  const auto& pf = p["perf"];
  o += fmt::format("perf power PMU {}  {}\n", pf["root"].get<std::string>(),
                   pf["usable"].get<bool>() ? "readable" : "NOT USABLE");
  if (!pf["usable"].get<bool>())
    o += fmt::format("  reason: {}\n", pf["problem"].get<std::string>());
  if (pf.contains("readings"))
    for (const auto& x : pf["readings"])
      o += fmt::format("  {:<16} {:>10} W   ({})\n", x["name"].get<std::string>(),
                       num(x["power_w"], "{:.2f}"), x["source"].get<std::string>());
  const auto& nv = p["nvml"];
  o += fmt::format("NVML           {}  {}\n", nv["library"].get<std::string>(),
                   nv["loaded"].get<bool>() ? "loaded" : "NOT LOADED");
  if (!nv["problem"].get<std::string>().empty())
    o += fmt::format("  reason: {}\n", nv["problem"].get<std::string>());
  if (!nv["visibility"].get<std::string>().empty())
    o += fmt::format("  {}\n", nv["visibility"].get<std::string>());
  for (const auto& g : nv["gpus"]) {
    o += fmt::format(
        "  gpu.{:<3} {} {}  {} W  energy counter: {}  memory used {} GB{}\n",
        g["index"].get<unsigned>(), g["name"].get<std::string>(),
        g["visible"].get<bool>() ? "" : "(not counted)", num(g["power_w"], "{:.1f}"),
        g["energy_counter"].get<bool>() ? num(g["energy_j"], "{:.0f} J") : std::string("none"),
        num(g["mem_used_gb"], "{:.2f}"),
        g["problem"].get<std::string>().empty() ? std::string()
                                                : "\n      " + g["problem"].get<std::string>());
  }
  if (nv.contains("notes"))
    for (const auto& n : nv["notes"]) o += fmt::format("  note: {}\n", n.get<std::string>());
  if (p.contains("amdsmi")) o += format_amdsmi(p["amdsmi"]);
  if (p.contains("jetson")) o += format_jetson(p["jetson"]);
  const auto& e = p["estimate"];
  o += fmt::format("estimate       CPU '{}', {} CPUs: {:.1f} W at full load ({})\n",
                   e["cpu_model"].get<std::string>(), e["cpus"].get<int>(),
                   e["cpu_full_load_w"].get<double>(), e["cpu_why"].get<std::string>());
  o += fmt::format("               DRAM {:g} W per GB of resident memory ({:.1f} GB installed)\n",
                   e["dram_w_per_gb"].get<double>(), e["mem_total_gb"].get<double>());
  o += fmt::format("pepr track would use: CPU/DRAM {}, GPU {}\n",
                   p["selected"]["cpu_dram"].get<std::string>(),
                   p["selected"]["gpu"].get<std::string>());
  if (p.contains("estimate_reason"))
    o += fmt::format("  estimate because {}\n", p["estimate_reason"].get<std::string>());
  if (p.contains("sharing")) {
    const auto& sh = p["sharing"];
    std::string others;
    for (const auto& pid : sh["other_meters"])
      others += (others.empty() ? "" : ", ") + std::to_string(pid.get<long>());
    o += fmt::format("sharing        other pepr meters running now: {} (registry {})\n",
                     others.empty() ? "none" : "pid " + others, sh["registry"].get<std::string>());
    if (!sh["slurm"].is_null())
      o += fmt::format("               Slurm job {} has {} of this node's {} CPUs\n",
                       sh["slurm"]["job_id"].get<std::string>(), sh["slurm"]["job_cpus"].get<int>(),
                       sh["slurm"]["node_cpus"].get<int>());
    if (sh.contains("others_busy_cores") && sh["others_busy_cores"].is_number())
      o += fmt::format("               other processes keep {:.1f} CPUs busy now{}\n",
                       sh["others_busy_cores"].get<double>(),
                       sh.value("loaded", false)
                           ? ": LOADED (a run now gets fewer threads, and its time and CPU "
                             "energy are not comparable with an idle machine's)"
                           : "");
    o += fmt::format(
        "               energy attribution now: {}\n",
        sh["attribution"].get<std::string>() == "job"
            ? std::string("job (sensor figures belong to the job and the machine's own draw)")
            : std::string("whole-machine (sensor figures include others' work)"));
  }
  return o;
}

}  // namespace pepr::meter
