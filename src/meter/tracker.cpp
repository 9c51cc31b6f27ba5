#include "meter/tracker.hpp"

#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "meter/amdsmi.hpp"
#include "meter/estimate.hpp"
#include "meter/jetson.hpp"
#include "meter/nvml.hpp"
#include "meter/perf_power.hpp"
#include "meter/process.hpp"
#include "meter/rapl.hpp"
#include "meter/sharing.hpp"
#include "meter/uncertainty.hpp"
#include "meter/util.hpp"

namespace pepr::meter {

namespace {

struct SampleRow {
  double t_s;
  std::vector<double> joules;
  double cpu_s, rss_gb;
  std::optional<double> gpu_mem_gb;
};

}  // namespace

struct Tracker::Impl {
  TrackerOptions opt;
  std::vector<std::unique_ptr<EnergySource>> sources;
  NvmlSource* nvml = nullptr;
  std::vector<Component> components;
  std::vector<std::string> notes;
  std::string estimate_reason;
  std::string rapl_status, perf_status, nvml_status, gpu_memory_status;
  std::string amdsmi_status = "not tried", jetson_status;
  double interval = 0.1;
  bool amd = amd_cpu();  // its RAPL is a model (meter/uncertainty.hpp)

  ProcessTree tree{0};
  std::optional<std::vector<double>> idle_w;  // per component
  double idle_s = 0;

  // Other pepr meters on the machine (not this job's own: ancestors and the tracked tree).
  std::unique_ptr<MeterRegistration> registration;
  std::vector<pid_t> ancestors;
  SharingState sharing;
  double last_sharing_check = -1e300;
  std::optional<double> busy0;
  static constexpr double kSharingCheckS = 2.0;

  // State guarded by mu.
  std::mutex mu;
  bool running = false, started = false, stopped = false;
  double t0 = 0, last_mark_t = 0, last_mark_cpu = 0, cpu0 = 0;
  std::vector<double> last_mark_j;
  double iv_mem_peak = 0, tot_mem_peak = 0;
  std::optional<double> iv_gpu_peak, tot_gpu_peak;
  std::vector<IntervalRecord> intervals;
  IntervalRecord total;
  std::vector<SampleRow> samples;

  // Sampler thread.
  std::thread thread;
  std::condition_variable cv;
  bool quit = false;
  std::atomic<double> sampler_cpu{0};
  std::atomic<std::size_t> ticks{0};

  std::vector<double> cumulative() const {
    std::vector<double> out;
    for (const auto& s : sources)
      for (double j : s->joules()) out.push_back(j);
    return out;
  }

  // Looks for other meters now (mu held).
  void check_sharing_locked(double t) {
    last_sharing_check = t;
    if (!registration) return;
    for (pid_t p : registration->others()) {
      const auto own = [p](const std::vector<pid_t>& v) {
        return std::find(v.begin(), v.end(), p) != v.end();
      };
      if (p == ::getpid() || own(ancestors) || own(tree.pids()) || own(sharing.other_meters))
        continue;
      sharing.other_meters.push_back(p);
    }
  }

  // Reads everything now (mu held).
  ProcReading tick_locked(bool keep) {
    const double t = now_s();
    ProcReading pr = tree.read(t);
    if (t - last_sharing_check >= kSharingCheckS) check_sharing_locked(t);
    SampleContext ctx{t, pr.cpu_s, pr.rss_gb};
    for (auto& s : sources) s->sample(ctx);
    iv_mem_peak = std::max(iv_mem_peak, pr.rss_gb);
    tot_mem_peak = std::max(tot_mem_peak, pr.rss_gb);
    std::optional<double> gmem;
    if (nvml && !tree.exited()) {
      gmem = nvml->process_memory_gb(tree.pids(), t);
      if (gmem) {
        iv_gpu_peak = std::max(iv_gpu_peak.value_or(0), *gmem);
        tot_gpu_peak = std::max(tot_gpu_peak.value_or(0), *gmem);
      }
    }
    if (keep && opt.keep_samples)
      samples.push_back({t - t0, cumulative(), pr.cpu_s, pr.rss_gb, gmem});
    return pr;
  }

  void begin_locked() {
    const double t = now_s();
    ProcReading pr = tree.read(t, 0);
    // A child is started before it execs: what it holds now is pepr's own forked image.
    if (tree.root() != 0) pr.rss_gb = 0;
    SampleContext ctx{t, pr.cpu_s, pr.rss_gb};
    for (auto& s : sources) s->begin(ctx);
    t0 = last_mark_t = t;
    cpu0 = last_mark_cpu = pr.cpu_s;
    last_mark_j.assign(components.size(), 0.0);
    iv_mem_peak = tot_mem_peak = pr.rss_gb;
    iv_gpu_peak.reset();
    tot_gpu_peak.reset();
    samples.clear();
  }

  void run_thread() {
    std::unique_lock lock(mu);
    while (!quit) {
      cv.wait_for(lock, std::chrono::duration<double>(interval));
      if (quit) break;
      tick_locked(true);
      ++ticks;
      sampler_cpu = thread_cpu_s();
    }
    sampler_cpu = thread_cpu_s();
  }

  void start_thread() {
    quit = false;
    thread = std::thread([this] { run_thread(); });
  }
  void stop_thread() {
    {
      std::lock_guard lock(mu);
      quit = true;
    }
    cv.notify_all();
    if (thread.joinable()) thread.join();
  }

  void finish(IntervalRecord& r) const {
    r.energy_raw_j = 0;
    for (std::size_t i = 0; i < components.size(); ++i)
      if (components[i].in_total) r.energy_raw_j += r.energy_j[i];
    double scored_j = r.energy_raw_j;
    if (idle_w) {
      double w = 0;
      for (std::size_t i = 0; i < components.size(); ++i)
        if (components[i].in_total) w += (*idle_w)[i];
      r.idle_j = w * r.wall_s;
      scored_j = std::max(0.0, r.energy_raw_j - *r.idle_j);
    }
    r.energy_kwh = scored_j / 3.6e6 * opt.pue;
    r.co2_g = co2_grams(scored_j / 3.6e6, opt.intensity.g_per_kwh, opt.pue);
    set_bounds(r);
  }

  // The interval [lo, hi] of the scored energy and CO2eq (meter/uncertainty.hpp).
  void set_bounds(IntervalRecord& r) const {
    BoundsInput in;
    in.components = &components;
    in.energy_j = &r.energy_j;
    in.wall_s = r.wall_s;
    in.idle_j = r.idle_j;
    if (sharing.loaded()) in.own_cpu_share = sharing.cpu_time_share;
    in.amd_cpu = amd;
    const EnergyBounds b = energy_bounds(in);
    r.energy_kwh_lo = b.lo_j / 3.6e6 * opt.pue;
    r.energy_kwh_hi = b.hi_j / 3.6e6 * opt.pue;
    r.energy_error = b.relative;
    r.error_widened = b.widened;
    const double ui = intensity_error().total();
    r.co2_g_lo = lower_bound(co2_grams(b.lo_j / 3.6e6, opt.intensity.g_per_kwh, opt.pue), ui);
    r.co2_g_hi = upper_bound(co2_grams(b.hi_j / 3.6e6, opt.intensity.g_per_kwh, opt.pue), ui);
  }

  IntervalRecord close_interval_locked(const std::string& label) {
    ProcReading pr = tick_locked(true);
    const double t = now_s();
    IntervalRecord r;
    r.label = label;
    r.start_s = last_mark_t - t0;
    r.end_s = t - t0;
    r.wall_s = t - last_mark_t;
    r.cpu_s = std::max(0.0, pr.cpu_s - last_mark_cpu);
    auto cum = cumulative();
    r.energy_j.resize(cum.size());
    for (std::size_t i = 0; i < cum.size(); ++i) r.energy_j[i] = cum[i] - last_mark_j[i];
    r.mem_peak_gb = iv_mem_peak;
    r.gpu_mem_peak_gb = iv_gpu_peak;
    finish(r);
    last_mark_t = t;
    last_mark_cpu = pr.cpu_s;
    last_mark_j = cum;
    iv_mem_peak = pr.rss_gb;
    iv_gpu_peak.reset();
    return r;
  }
};

Tracker::Tracker(TrackerOptions options) : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  m.opt = std::move(options);
  if (!(m.opt.interval_s > 0) || m.opt.interval_s > 3600)
    throw Error(fmt::format("sampling interval {:g} s: expected more than 0 and at most 3600",
                            m.opt.interval_s));
  if (!(m.opt.pue >= 1.0) || m.opt.pue > 5)
    throw Error(fmt::format("PUE {:g}: expected a number between 1 and 5", m.opt.pue));
  if (m.opt.cpu_tdp_w && !(*m.opt.cpu_tdp_w > 0))
    throw Error(fmt::format("--cpu-tdp {:g}: expected watts above 0", *m.opt.cpu_tdp_w));

  // CPU and DRAM: RAPL powercap, then the perf PMU, then the estimate.
  const std::string root = m.opt.powercap_root.empty() ? powercap_root() : m.opt.powercap_root;
  RaplScan rapl = scan_rapl(root);
  if (rapl.usable()) {
    m.sources.push_back(std::make_unique<RaplSource>(rapl));
    m.rapl_status = "used: " + root;
    m.perf_status = "not needed (RAPL powercap readable)";
    for (const auto& d : rapl.domains)
      if (!d.readable)
        m.notes.push_back(fmt::format("RAPL zone {} ({}) skipped: {}", d.zone, d.name, d.problem));
  } else {
    m.rapl_status = rapl.problem();
    if (rapl.root_exists && !rapl.domains.empty()) m.notes.push_back("RAPL: " + m.rapl_status);
    PerfScan perf = scan_perf();
    auto ps = PerfSource::open(perf);
    if (ps) {
      m.perf_status = "used: " + perf.root;
      m.sources.push_back(std::move(ps));
    } else {
      m.perf_status = perf.problem;
      m.estimate_reason = fmt::format("no readable RAPL powercap ({}) and no perf power PMU ({})",
                                      m.rapl_status, m.perf_status);
      CpuPower cpu = cpu_power(m.opt.cpu_tdp_w, cpu_model_name(), online_cpus());
      m.sources.push_back(std::make_unique<EstimateSource>(cpu, m.estimate_reason));
    }
  }
  // GPUs through NVML.
  if (m.opt.use_nvml) {
    NvmlScan scan = scan_nvml(m.opt.nvml_lib.empty() ? nvml_library() : m.opt.nvml_lib);
    if (m.opt.cuda_device) restrict_to_cuda_device(scan, *m.opt.cuda_device);
    auto ns = std::make_unique<NvmlSource>(scan);
    for (const auto& g : scan.gpus)
      if (g.visible && !g.problem.empty())
        m.notes.push_back(fmt::format("GPU {}: {}", g.index, g.problem));
    for (auto& n : unreadable_gpu_notes(scan)) m.notes.push_back(std::move(n));
    for (const auto& n : scan.notes) m.notes.push_back("GPUs: " + n);
    if (!ns->empty()) {
      m.nvml_status = "used: " + scan.lib + "; " + scan.visibility;
      m.nvml = ns.get();
      m.sources.push_back(std::move(ns));
    } else {
      m.nvml_status = scan.problem.empty() ? "no GPU measurable" : scan.problem;
    }
  } else {
    m.nvml_status = "not tried";
  }
  // AMD GPUs through amdsmi; NVIDIA Jetson boards through their INA3221 rails.
  SourceChoice amd, jetson = choose_jetson(m.opt.jetson_root);
  if (m.opt.use_amdsmi) amd = choose_amdsmi(m.opt.amdsmi_lib);
  m.amdsmi_status = m.opt.use_amdsmi ? amd.status : "not tried";
  m.jetson_status = jetson.status;
  for (SourceChoice* c : {&amd, &jetson}) {
    for (auto& n : c->notes) m.notes.push_back(std::move(n));
    if (c->source) m.sources.push_back(std::move(c->source));
  }
  for (const auto& s : m.sources)
    for (const auto& c : s->components()) m.components.push_back(c);
  if (jetson.covers_cpu && !m.estimate_reason.empty()) {
    // The board's rails include the CPU and memory: the estimate is reported, not added.
    for (auto& c : m.components) c.in_total = c.in_total && c.method != "estimate";
    m.notes.push_back(
        "the CPU/DRAM estimate is reported but not added: the Jetson's INA3221 rails already "
        "include the CPU and memory");
  }
  m.interval = m.opt.interval_s;
  for (const auto& s : m.sources) m.interval = std::min(m.interval, s->max_interval_s());
  m.interval = std::max(m.interval, 0.001);
}

Tracker::~Tracker() {
  impl_->stop_thread();
}

void Tracker::set_target(pid_t pid) {
  if (impl_->started) throw Error("Tracker::set_target after start()");
  impl_->tree = ProcessTree(pid);
}

void Tracker::measure_idle(double seconds) {
  Impl& m = *impl_;
  if (m.started) throw Error("Tracker::measure_idle after start()");
  if (!(seconds > 0)) return;
  ProcessTree target = m.tree;
  m.tree = ProcessTree(0);  // nothing of the job runs yet: this process, idle
  {
    std::lock_guard lock(m.mu);
    m.begin_locked();
  }
  m.start_thread();
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  m.stop_thread();
  std::lock_guard lock(m.mu);
  m.tick_locked(false);
  const double wall = now_s() - m.t0;
  auto cum = m.cumulative();
  m.idle_w = std::vector<double>(cum.size());
  for (std::size_t i = 0; i < cum.size(); ++i) (*m.idle_w)[i] = wall > 0 ? cum[i] / wall : 0;
  m.idle_s = wall;
  m.tree = target;
}

void Tracker::start() {
  Impl& m = *impl_;
  if (m.started) throw Error("Tracker::start called twice");
  {
    std::lock_guard lock(m.mu);
    m.begin_locked();
    m.registration = std::make_unique<MeterRegistration>(meter_registry_dir());
    m.sharing.registry =
        m.registration->problem().empty() ? m.registration->dir() : m.registration->problem();
    m.ancestors = ancestor_pids();
    m.sharing.slurm = slurm_partial_node(online_cpus());
    m.sharing.cpus = online_cpus();
    m.busy0 = machine_busy_cpu_s();
    m.check_sharing_locked(now_s());
    m.started = true;
  }
  m.start_thread();
}

IntervalRecord Tracker::mark(const std::string& label) {
  Impl& m = *impl_;
  std::lock_guard lock(m.mu);
  if (!m.started || m.stopped) throw Error("Tracker::mark outside start() .. stop()");
  m.intervals.push_back(m.close_interval_locked(label));
  return m.intervals.back();
}

IntervalRecord Tracker::stop(const std::string& label) {
  Impl& m = *impl_;
  if (!m.started) throw Error("Tracker::stop before start()");
  if (m.stopped) return m.total;
  m.stop_thread();
  std::lock_guard lock(m.mu);
  m.stopped = true;
  const bool had_marks = !m.intervals.empty();
  IntervalRecord last = m.close_interval_locked(label);
  if (had_marks && last.wall_s >= 1e-3) {
    m.intervals.push_back(last);
  } else if (had_marks) {
    // Stopped right after a mark: the crumb joins the last interval so the intervals still add
    // up to the total.
    IntervalRecord& prev = m.intervals.back();
    prev.end_s = last.end_s;
    prev.wall_s += last.wall_s;
    prev.cpu_s += last.cpu_s;
    for (std::size_t i = 0; i < prev.energy_j.size(); ++i) prev.energy_j[i] += last.energy_j[i];
    prev.mem_peak_gb = std::max(prev.mem_peak_gb, last.mem_peak_gb);
    if (last.gpu_mem_peak_gb)
      prev.gpu_mem_peak_gb = std::max(prev.gpu_mem_peak_gb.value_or(0), *last.gpu_mem_peak_gb);
    m.finish(prev);
  }
  IntervalRecord& t = m.total;
  t.label = "total";
  t.start_s = 0;
  t.end_s = last.end_s;
  t.wall_s = last.end_s;
  t.cpu_s = std::max(0.0, m.tree.read(now_s(), 1e300).cpu_s - m.cpu0);
  t.energy_j = m.cumulative();
  t.mem_peak_gb = std::max(m.tot_mem_peak, m.tree.kernel_peak_gb());
  t.gpu_mem_peak_gb = m.tot_gpu_peak;
  m.finish(t);
  m.check_sharing_locked(now_s());
  if (auto busy = machine_busy_cpu_s(); busy && m.busy0 && *busy - *m.busy0 > 0) {
    m.sharing.cpu_time_share = std::min(1.0, t.cpu_s / (*busy - *m.busy0));
    if (t.wall_s > 0)
      m.sharing.others_busy_cores = std::max(0.0, (*busy - *m.busy0 - t.cpu_s) / t.wall_s);
  }
  if (m.sharing.loaded()) {
    // Others kept the machine busy: whole-package sensors read their work too.
    m.set_bounds(t);
    for (auto& iv : m.intervals) m.set_bounds(iv);
  }
  m.registration.reset();
  if (!had_marks) {
    // Without marks there is one interval: the whole run.
    last.cpu_s = t.cpu_s;
    last.mem_peak_gb = t.mem_peak_gb;
    m.intervals.push_back(last);
    m.intervals.back().label = label;
  }
  return t;
}

void Tracker::child_execed() {
  std::lock_guard lock(impl_->mu);
  auto& m = *impl_;
  m.tree.note_exec(m.tot_mem_peak);
  const double rss = m.tree.read(now_s(), 0).rss_gb;
  m.iv_mem_peak = m.tot_mem_peak = rss;
}

void Tracker::child_exited(const struct rusage& ru) {
  std::lock_guard lock(impl_->mu);
  impl_->tree.set_exited(ru);
}

const std::vector<Component>& Tracker::components() const {
  return impl_->components;
}
const std::vector<IntervalRecord>& Tracker::intervals() const {
  return impl_->intervals;
}
const IntervalRecord& Tracker::total() const {
  return impl_->total;
}
std::string Tracker::estimate_reason() const {
  return impl_->estimate_reason;
}
std::vector<std::string> Tracker::notes() const {
  Impl& m = *impl_;
  std::lock_guard lock(m.mu);
  std::vector<std::string> out = m.notes;
  for (const auto& s : m.sources)
    for (auto& n : s->notes())
      if (std::find(out.begin(), out.end(), n) == out.end()) out.push_back(std::move(n));
  for (auto& n : m.sharing.notes()) out.push_back(std::move(n));
  return out;
}
double Tracker::interval_s() const {
  return impl_->interval;
}
double Tracker::sampler_cpu_s() const {
  return impl_->sampler_cpu.load();
}
std::size_t Tracker::sample_count() const {
  return impl_->ticks.load();
}

std::string Tracker::energy_method() const {
  // The methods of the total's components (a figure reported but not added, like the CPU
  // estimate beside a Jetson's board rails, is not how the energy was measured).
  bool any_in_total = false;
  for (const auto& c : impl_->components) any_in_total = any_in_total || c.in_total;
  std::vector<std::string> methods;
  for (const auto& c : impl_->components)
    if ((c.in_total || !any_in_total) &&
        std::find(methods.begin(), methods.end(), c.method) == methods.end())
      methods.push_back(c.method);
  std::string out;
  for (const auto& m : methods) out += (out.empty() ? "" : "+") + m;
  return out.empty() ? "none" : out;
}

nlohmann::json interval_json(const IntervalRecord& r, const std::vector<Component>& components) {
  nlohmann::json j;
  j["label"] = r.label;
  j["start_s"] = r.start_s;
  j["end_s"] = r.end_s;
  j["wall_s"] = r.wall_s;
  j["cpu_s"] = r.cpu_s;
  nlohmann::json e = nlohmann::json::object();
  for (std::size_t i = 0; i < components.size() && i < r.energy_j.size(); ++i)
    e[components[i].name] = r.energy_j[i];
  j["energy_j"] = e;
  j["energy_raw_j"] = r.energy_raw_j;
  if (r.idle_j) j["idle_j"] = *r.idle_j;
  j["energy_kwh"] = r.energy_kwh;
  j["energy_kwh_lo"] = r.energy_kwh_lo;
  j["energy_kwh_hi"] = r.energy_kwh_hi;
  j["energy_error"] = {{"systematic", r.energy_error.systematic},
                       {"per_run", r.energy_error.per_run}};
  if (!r.error_widened.empty()) j["energy_error"]["widened_by"] = r.error_widened;
  j["co2_g"] = r.co2_g;
  j["co2_g_lo"] = r.co2_g_lo;
  j["co2_g_hi"] = r.co2_g_hi;
  j["mem_peak_gb"] = r.mem_peak_gb;
  j["gpu_mem_peak_gb"] =
      r.gpu_mem_peak_gb ? nlohmann::json(*r.gpu_mem_peak_gb) : nlohmann::json(nullptr);
  return j;
}

namespace {

std::string kind_method(const std::vector<Component>& cs, const std::string& kind) {
  std::string out;
  for (const auto& c : cs)
    if (c.kind == kind && out.find(c.method) == std::string::npos)
      out += (out.empty() ? "" : "+") + c.method;
  return out;
}

}  // namespace

nlohmann::json Tracker::to_json() const {
  const Impl& m = *impl_;
  nlohmann::json j;
  j["format"] = "pepr-meter-record/1";
  nlohmann::json comps = nlohmann::json::array();
  for (std::size_t i = 0; i < m.components.size(); ++i) {
    const auto& c = m.components[i];
    nlohmann::json cj{{"name", c.name},
                      {"kind", c.kind},
                      {"method", c.method},
                      {"source", c.source},
                      {"in_total", c.in_total}};
    if (m.idle_w) cj["idle_w"] = (*m.idle_w)[i];
    comps.push_back(cj);
  }
  j["components"] = comps;
  const std::string cpu = kind_method(m.components, "cpu");
  const std::string dram = kind_method(m.components, "dram");
  const std::string gpu = kind_method(m.components, "gpu");
  nlohmann::json methods;
  methods["energy"] = energy_method();
  bool estimate_added = false;
  for (const auto& c : m.components)
    estimate_added = estimate_added || (c.method == "estimate" && c.in_total);
  const std::string not_added =
      " (reported, not added: the board's rails include the CPU and memory)";
  methods["cpu_energy"] =
      cpu == "estimate"
          ? (estimate_added ? "estimate" : "estimate" + not_added)
          : cpu + " (whole CPU packages: every process on the machine, not only the tracked one)";
  methods["dram_energy"] = dram.empty()                            ? "not measured (no DRAM domain)"
                           : dram == "estimate" && !estimate_added ? dram + not_added
                                                                   : dram;
  methods["gpu_energy"] = gpu.empty()
                              ? "not measured: " + m.nvml_status
                              : gpu + " (whole GPUs usable by the job: every process on them)";
  methods["total"] =
      "sum of the components with in_total: CPU packages + DRAM + GPUs (core/uncore are parts "
      "of the package, psys contains it: both reported, not added)";
  methods["time"] = "steady clock (CLOCK_MONOTONIC)";
  methods["cpu_time"] = m.tree.describe();
  methods["memory"] = fmt::format(
      "resident memory of the tracked process tree sampled every {:g} s: the RSS of a lone "
      "process; while the tree has several processes, the sum of their PSS "
      "(/proc/PID/smaps_rollup: pages shared after fork counted once in all); the total also "
      "takes the kernel's peak of the root process (VmHWM / wait4 ru_maxrss)",
      m.interval);
  methods["memory_kind"] = m.tree.memory_method();
  methods["gpu_memory"] =
      m.nvml ? "NVML per-process used GPU memory of the tracked tree, sampled (null when NVML "
               "lists none of its processes, e.g. pids hidden by a container)"
             : "not measured: " + m.nvml_status;
  j["methods"] = methods;
  j["sensors"] = {{"rapl", m.rapl_status},
                  {"perf", m.perf_status},
                  {"nvml", m.nvml_status},
                  {"amdsmi", m.amdsmi_status},
                  {"jetson", m.jetson_status}};
  j["sharing"] = m.sharing.to_json();
  j["estimate_reason"] =
      m.estimate_reason.empty() ? nlohmann::json(nullptr) : nlohmann::json(m.estimate_reason);
  j["notes"] = notes();
  j["sampling"] = {{"interval_s", m.interval},
                   {"requested_interval_s", m.opt.interval_s},
                   {"samples", m.ticks.load()},
                   {"sampler_cpu_s", m.sampler_cpu.load()}};
  if (m.idle_w) {
    double w = 0;
    for (std::size_t i = 0; i < m.components.size(); ++i)
      if (m.components[i].in_total) w += (*m.idle_w)[i];
    j["idle_baseline"] = {
        {"duration_s", m.idle_s},
        {"power_w", w},
        {"note", m.estimate_reason.empty()
                     ? "machine draw measured before the job; energy_kwh is net of it"
                     : "the estimate counts only the tracked processes, so its idle draw is "
                       "about zero"}};
  } else {
    j["idle_baseline"] = nullptr;
  }
  nlohmann::json ivs = nlohmann::json::array();
  for (const auto& r : m.intervals) ivs.push_back(interval_json(r, m.components));
  j["intervals"] = ivs;
  j["total"] = interval_json(m.total, m.components);
  recompute_carbon(j, m.opt.intensity, m.opt.pue);
  return j;
}

std::string Tracker::samples_jsonl() const {
  const Impl& m = *impl_;
  std::string out;
  const SampleRow* prev = nullptr;
  for (const auto& s : m.samples) {
    nlohmann::json j;
    j["t_s"] = s.t_s;
    nlohmann::json p = nlohmann::json::object();
    double dt = prev ? s.t_s - prev->t_s : s.t_s;
    for (std::size_t i = 0; i < m.components.size() && i < s.joules.size(); ++i) {
      double prev_j = prev ? prev->joules[i] : 0.0;
      p[m.components[i].name] = dt > 0 ? (s.joules[i] - prev_j) / dt : 0.0;
    }
    j["power_w"] = p;
    j["cpu_s"] = s.cpu_s;
    j["rss_gb"] = s.rss_gb;
    j["gpu_mem_gb"] = s.gpu_mem_gb ? nlohmann::json(*s.gpu_mem_gb) : nlohmann::json(nullptr);
    out += j.dump() + "\n";
    prev = &s;
  }
  return out;
}

std::string Tracker::summary() const {
  const Impl& m = *impl_;
  const IntervalRecord& t = m.total;
  std::string out;
  out += fmt::format("  time    {:.2f} s wall, {:.2f} s CPU\n", t.wall_s, t.cpu_s);
  std::string parts;
  for (std::size_t i = 0; i < m.components.size() && i < t.energy_j.size(); ++i)
    if (m.components[i].in_total)
      parts += fmt::format("{}{} {:.1f} J", parts.empty() ? "" : ", ", m.components[i].name,
                           t.energy_j[i]);
  out += fmt::format("  energy  {:.1f} J = {:.3g} kWh raw [{}] ({})\n", t.energy_raw_j,
                     t.energy_raw_j / 3.6e6, energy_method(), parts);
  if (t.idle_j)
    out += fmt::format(
        "          idle baseline {:.1f} J over the run; net x PUE {:g} = {:.3g} "
        "kWh\n",
        *t.idle_j, m.opt.pue, t.energy_kwh);
  else if (m.opt.pue != 1.0)
    out += fmt::format("          x PUE {:g} = {:.3g} kWh\n", m.opt.pue, t.energy_kwh);
  out += fmt::format(
      "          within {:.3g}-{:.3g} kWh: +-{:.0f} % systematic, +-{:.0f} % per run{}\n",
      t.energy_kwh_lo, t.energy_kwh_hi, 100 * t.energy_error.systematic,
      100 * t.energy_error.per_run,
      t.error_widened.empty() ? "" : " (" + t.error_widened.front() + ")");
  out += fmt::format("  CO2eq   {:.3g} g at {:g} g/kWh ({:.3g} km by an average new car)\n",
                     t.co2_g, m.opt.intensity.g_per_kwh, t.co2_g / kCarGramsPerKm);
  out += fmt::format("          within {:.3g}-{:.3g} g (with the grid intensity's +-{:.0f} %)\n",
                     t.co2_g_lo, t.co2_g_hi, 100 * intensity_error().total());
  out += fmt::format("          intensity: {}\n", m.opt.intensity.why);
  out += fmt::format("  memory  peak RSS {:.3f} GB", t.mem_peak_gb);
  if (t.gpu_mem_peak_gb) out += fmt::format(", peak GPU memory {:.3f} GB", *t.gpu_mem_peak_gb);
  out += "\n";
  if (!m.estimate_reason.empty()) out += "  estimate because " + m.estimate_reason + "\n";
  return out;
}

}  // namespace pepr::meter
