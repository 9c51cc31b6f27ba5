#include "meter/perf_power.hpp"

#include <linux/perf_event.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <optional>

#include <fmt/format.h>

#include "core/error.hpp"
#include "meter/util.hpp"

namespace pepr::meter {

namespace fs = std::filesystem;

namespace {

std::vector<int> parse_cpu_list(const std::string& text) {
  std::vector<int> out;
  std::string t = trim(text);
  std::size_t start = 0;
  while (start < t.size()) {
    auto comma = t.find(',', start);
    if (comma == std::string::npos) comma = t.size();
    std::string part = t.substr(start, comma - start);
    auto dash = part.find('-');
    try {
      if (dash == std::string::npos) {
        out.push_back(std::stoi(part));
      } else {
        int a = std::stoi(part.substr(0, dash)), b = std::stoi(part.substr(dash + 1));
        for (int i = a; i <= b; ++i) out.push_back(i);
      }
    } catch (...) {
    }
    start = comma + 1;
  }
  return out;
}

// "event=0x02" -> 2
std::optional<unsigned long long> parse_config(const std::string& config) {
  auto pos = config.find("event=");
  if (pos == std::string::npos) return std::nullopt;
  try {
    return std::stoull(config.substr(pos + 6), nullptr, 0);
  } catch (...) {
    return std::nullopt;
  }
}

int perf_open(unsigned type, unsigned long long config, int cpu) {
  perf_event_attr attr;
  std::memset(&attr, 0, sizeof attr);
  attr.type = type;
  attr.size = sizeof attr;
  attr.config = config;
  return static_cast<int>(::syscall(SYS_perf_event_open, &attr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC));
}

std::string paranoid_text() {
  auto r = read_small_file("/proc/sys/kernel/perf_event_paranoid");
  return r.text ? trim(*r.text) : "unknown";
}

}  // namespace

std::string cpu_vendor() {
  if (auto v = env("PEPR_CPU_VENDOR")) return *v;
  return cpuinfo_field("vendor_id");
}

std::vector<int> perf_package_cpus(const std::vector<int>& cpus, const std::vector<int>& package_of,
                                   const std::string& vendor, std::vector<std::string>& notes) {
  if (vendor != "AuthenticAMD" && vendor != "HygonGenuine") return cpus;
  std::vector<int> out;
  std::vector<std::pair<int, int>> seen;  // socket, the CPU kept for it
  for (std::size_t i = 0; i < cpus.size(); ++i) {
    const int pkg = i < package_of.size() ? package_of[i] : -1;
    auto hit =
        std::find_if(seen.begin(), seen.end(), [&](const auto& s) { return s.first == pkg; });
    if (pkg >= 0 && hit != seen.end()) {
      notes.push_back(fmt::format(
          "perf power PMU: CPU {} is on socket {} like CPU {}; on {} CPUs the package energy "
          "counter is per socket, so it is read once (cpumask lists a CPU per die)",
          cpus[i], pkg, hit->second, vendor));
      continue;
    }
    if (pkg >= 0) seen.emplace_back(pkg, cpus[i]);
    out.push_back(cpus[i]);
  }
  return out;
}

PerfScan scan_perf() {
  PerfScan s;
  s.root = env("PEPR_PERF_ROOT").value_or("/sys/bus/event_source/devices/power");
  s.cpu_root = env("PEPR_CPU_SYSFS_ROOT").value_or("/sys/devices/system/cpu");
  auto v = env("PEPR_PERF");
  if (v && *v != "0" && *v != "off" && *v != "no" && *v != "1" && *v != "on" && *v != "yes")
    throw Error(
        fmt::format("PEPR_PERF='{}': expected 0, off or no (disable the perf PMU) or 1, "
                    "on or yes",
                    *v));
  if (v && (*v == "0" || *v == "off" || *v == "no")) {
    s.disabled = true;
    s.problem = "perf PMU disabled by PEPR_PERF=0";
    return s;
  }
  std::error_code ec;
  s.pmu_exists = fs::is_directory(s.root, ec);
  if (!s.pmu_exists) {
    s.problem = fmt::format("no perf power PMU ({} absent)", s.root);
    return s;
  }
  for (const auto& e : fs::directory_iterator(s.root + "/events", ec)) {
    std::string n = e.path().filename().string();
    if (n.rfind("energy-", 0) != 0 || n.find('.') != std::string::npos) continue;
    PerfEventInfo info;
    info.event = n;
    auto c = read_small_file(e.path().string());
    info.config = c.text ? trim(*c.text) : "";
    auto sc = read_small_file(e.path().string() + ".scale");
    info.scale = sc.text ? parse_double(*sc.text).value_or(0) : 0;
    s.events.push_back(info);
  }
  std::sort(s.events.begin(), s.events.end(),
            [](const auto& a, const auto& b) { return a.event < b.event; });
  auto mask = read_small_file(s.root + "/cpumask");
  if (mask.text) {
    std::vector<int> listed = parse_cpu_list(*mask.text);
    std::vector<int> package_of;
    for (int cpu : listed) {
      auto id =
          read_small_file(fmt::format("{}/cpu{}/topology/physical_package_id", s.cpu_root, cpu));
      auto v = id.text ? parse_u64(*id.text) : std::nullopt;
      package_of.push_back(v && *v < 1000000 ? static_cast<int>(*v) : -1);
    }
    s.cpus = perf_package_cpus(listed, package_of, cpu_vendor(), s.notes);
  }
  bool has_pkg = false;
  for (const auto& e : s.events) has_pkg |= e.event == "energy-pkg";
  if (!has_pkg) {
    std::string list;
    for (const auto& e : s.events) list += (list.empty() ? "" : ", ") + e.event;
    s.problem = fmt::format("perf power PMU has no energy-pkg event (it lists: {})",
                            list.empty() ? "none" : list);
  } else if (s.cpus.empty()) {
    s.problem = fmt::format("cannot read {}/cpumask", s.root);
  }
  return s;
}

std::unique_ptr<PerfSource> PerfSource::open(PerfScan& scan) {
  if (!scan.problem.empty()) return nullptr;
  auto type_file = read_small_file(scan.root + "/type");
  auto type = type_file.text ? parse_u64(*type_file.text) : std::nullopt;
  if (!type) {
    scan.problem = fmt::format("cannot read {}/type", scan.root);
    return nullptr;
  }
  std::unique_ptr<PerfSource> src(new PerfSource());
  src->notes_ = scan.notes;
  for (const char* ev : {"energy-pkg", "energy-ram"}) {
    const PerfEventInfo* info = nullptr;
    for (const auto& e : scan.events)
      if (e.event == ev) info = &e;
    if (!info) continue;
    auto config = parse_config(info->config);
    if (!config || info->scale <= 0) {
      scan.problem = fmt::format("cannot parse {}/events/{}", scan.root, ev);
      return nullptr;
    }
    for (std::size_t k = 0; k < scan.cpus.size(); ++k) {
      int fd = perf_open(static_cast<unsigned>(*type), *config, scan.cpus[k]);
      if (fd < 0) {
        int err = errno;
        if (std::string(ev) == "energy-ram") break;  // optional: many CPUs lack it
        if (err == EACCES || err == EPERM)
          scan.problem = fmt::format(
              "perf_event_open(power/{}/) denied: kernel.perf_event_paranoid is {} (system-wide "
              "events need <= 0 without CAP_PERFMON); fix: sudo sysctl "
              "kernel.perf_event_paranoid=0",
              ev, paranoid_text());
        else
          scan.problem = fmt::format("perf_event_open(power/{}/) on CPU {} failed: {}", ev,
                                     scan.cpus[k], std::strerror(err));
        return nullptr;
      }
      Component c;
      bool pkg = std::string(ev) == "energy-pkg";
      c.name = fmt::format("{}.package-{}", pkg ? "cpu" : "dram", k);
      c.kind = pkg ? "cpu" : "dram";
      c.method = "perf-pmu";
      c.source = fmt::format("power/{}/ on CPU {}", ev, scan.cpus[k]);
      src->components_.push_back(c);
      src->counters_.push_back({fd, info->scale, 0, 0});
    }
  }
  return src;
}

PerfSource::~PerfSource() {
  for (auto& c : counters_)
    if (c.fd >= 0) ::close(c.fd);
}

namespace {
bool read_count(int fd, unsigned long long& out) {
  unsigned long long v = 0;
  if (::read(fd, &v, sizeof v) != static_cast<ssize_t>(sizeof v)) return false;
  out = v;
  return true;
}
}  // namespace

void PerfSource::begin(const SampleContext&) {
  for (auto& c : counters_) {
    read_count(c.fd, c.start);
    c.last = c.start;
  }
}

void PerfSource::sample(const SampleContext&) {
  for (auto& c : counters_) {
    unsigned long long v;
    if (read_count(c.fd, v) && v >= c.last) c.last = v;
  }
}

std::vector<double> PerfSource::joules() const {
  std::vector<double> out;
  for (const auto& c : counters_) out.push_back(static_cast<double>(c.last - c.start) * c.scale);
  return out;
}

}  // namespace pepr::meter
