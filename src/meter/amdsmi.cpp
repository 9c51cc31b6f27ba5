#include "meter/amdsmi.hpp"

#include <dlfcn.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include <fmt/format.h>

#include "core/format.hpp"
#include "meter/util.hpp"

namespace pepr::meter {

namespace {

// The few amdsmi declarations pepr needs (amdsmi.h): statuses are a C enum, handles void*.
using amdsmi_status_t = int;
using amdsmi_handle = void*;
constexpr amdsmi_status_t AMDSMI_STATUS_SUCCESS = 0;
constexpr amdsmi_status_t AMDSMI_STATUS_NO_PERM = 10;
constexpr std::uint64_t AMDSMI_INIT_AMD_GPUS = 1u << 1;
constexpr std::uint32_t kSockets = 64, kProcessors = 64;
// amdsmi_power_info_t and amdsmi_asic_info_t are read into a buffer larger than either struct in
// any amdsmi version (192 and 896 bytes now), so a library with a bigger one cannot overflow it.
constexpr std::size_t kInfoBytes = 4096;
constexpr std::uint32_t kNoValue32 = 0xFFFFFFFFu;  // a member the GPU does not support

std::uint32_t u32_at(const unsigned char* p, std::size_t off) {
  std::uint32_t v = 0;
  std::memcpy(&v, p + off, sizeof v);
  return v;
}

}  // namespace

class AmdsmiLib {
 public:
  void* dl = nullptr;
  amdsmi_status_t (*init)(std::uint64_t) = nullptr;
  amdsmi_status_t (*shut_down)() = nullptr;
  amdsmi_status_t (*sockets)(std::uint32_t*, amdsmi_handle*) = nullptr;
  amdsmi_status_t (*processors)(amdsmi_handle, std::uint32_t*, amdsmi_handle*) = nullptr;
  amdsmi_status_t (*energy)(amdsmi_handle, std::uint64_t*, float*, std::uint64_t*) = nullptr;
  amdsmi_status_t (*power_info)(amdsmi_handle, void*) = nullptr;
  amdsmi_status_t (*asic_info)(amdsmi_handle, void*) = nullptr;
  amdsmi_status_t (*status_string)(amdsmi_status_t, const char**) = nullptr;
  bool initialised = false;

  std::string err(amdsmi_status_t r) const {
    const char* s = nullptr;
    if (status_string && status_string(r, &s) != AMDSMI_STATUS_SUCCESS) s = nullptr;
    std::string out =
        s ? fmt::format("{} (amdsmi status {})", s, r) : fmt::format("amdsmi status {}", r);
    if (r == AMDSMI_STATUS_NO_PERM)
      out += ": add the user to the render and video groups, or run as root";
    return out;
  }
  ~AmdsmiLib() {
    if (initialised && shut_down) shut_down();
    if (dl) ::dlclose(dl);
  }
};

namespace {

template <typename F>
void sym(void* dl, F& f, const char* name) {
  f = reinterpret_cast<F>(::dlsym(dl, name));
}

// Socket power in W from amdsmi_power_info_t. Its layout in current libraries is {uint64_t
// socket_power; uint32_t current_socket_power; uint32_t average_socket_power; ...}; older
// libraries wrote {uint32_t current_socket_power; uint32_t average_socket_power; uint32_t
// gfx_voltage; ...}. A socket_power in watts never sets its high half, so bytes 4-7 that are not
// zero mark the older layout. The first member the GPU supports (not UINT32_MAX) is taken, a
// zero only when none reads more.
std::optional<double> socket_power_w(const unsigned char* info) {
  const bool older = u32_at(info, 4) != 0;
  std::uint64_t socket = 0;
  std::memcpy(&socket, info, sizeof socket);
  const std::vector<std::uint64_t> candidates =
      older ? std::vector<std::uint64_t>{u32_at(info, 0), u32_at(info, 4)}
            : std::vector<std::uint64_t>{socket, u32_at(info, 8), u32_at(info, 12)};
  std::optional<double> out;
  for (std::uint64_t v : candidates) {
    if (v >= kNoValue32) continue;
    if (v > 0) return static_cast<double>(v);
    out = 0.0;
  }
  return out;
}

struct PowerRead {
  amdsmi_status_t status = AMDSMI_STATUS_SUCCESS;
  std::optional<double> watts;  // nullopt with SUCCESS: no member supported
};

PowerRead read_power(const AmdsmiLib& lib, amdsmi_handle h) {
  PowerRead r;
  if (!lib.power_info) return {-1, std::nullopt};
  std::vector<unsigned char> buf(kInfoBytes, 0);
  r.status = lib.power_info(h, buf.data());
  if (r.status == AMDSMI_STATUS_SUCCESS) r.watts = socket_power_w(buf.data());
  return r;
}

struct CounterRead {
  amdsmi_status_t status = AMDSMI_STATUS_SUCCESS;
  std::uint64_t count = 0;
  float resolution_uj = 0;
};

CounterRead read_counter(const AmdsmiLib& lib, amdsmi_handle h) {
  CounterRead r;
  std::uint64_t ts = 0;
  r.status = lib.energy ? lib.energy(h, &r.count, &r.resolution_uj, &ts) : -1;
  return r;
}

bool good_resolution(float uj) {
  return std::isfinite(uj) && uj > 0;
}

std::string gpu_name(const AmdsmiLib& lib, amdsmi_handle h) {
  if (!lib.asic_info) return "";
  std::vector<char> buf(kInfoBytes, 0);
  if (lib.asic_info(h, buf.data()) != AMDSMI_STATUS_SUCCESS) return "";
  buf.back() = 0;
  return trim(std::string(buf.data()));  // market_name, the struct's first member
}

bool open_amdsmi(AmdsmiLib& lib, const std::string& libname, std::string& problem) {
  lib.dl = ::dlopen(libname.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!lib.dl) {
    const char* e = ::dlerror();
    problem = fmt::format(
        "{} not found ({}): install amd-smi-lib (ROCm) or set PEPR_AMDSMI_LIB to its path", libname,
        e ? e : "unknown error");
    return false;
  }
  sym(lib.dl, lib.init, "amdsmi_init");
  sym(lib.dl, lib.shut_down, "amdsmi_shut_down");
  sym(lib.dl, lib.sockets, "amdsmi_get_socket_handles");
  sym(lib.dl, lib.processors, "amdsmi_get_processor_handles");
  sym(lib.dl, lib.energy, "amdsmi_get_energy_count");
  sym(lib.dl, lib.power_info, "amdsmi_get_power_info");
  sym(lib.dl, lib.asic_info, "amdsmi_get_gpu_asic_info");
  sym(lib.dl, lib.status_string, "amdsmi_status_code_to_string");
  if (!lib.init || !lib.sockets || !lib.processors) {
    problem = fmt::format(
        "{} lacks amdsmi_init / amdsmi_get_socket_handles / amdsmi_get_processor_handles", libname);
    return false;
  }
  if (amdsmi_status_t r = lib.init(AMDSMI_INIT_AMD_GPUS); r != AMDSMI_STATUS_SUCCESS) {
    problem = fmt::format(
        "amdsmi initialisation failed: {}; is the amdgpu driver loaded (lsmod | grep amdgpu)?",
        lib.err(r));
    return false;
  }
  lib.initialised = true;
  return true;
}

// Every GPU of every socket, in amdsmi's order.
std::vector<amdsmi_handle> list_gpus(const AmdsmiLib& lib, std::string& problem) {
  std::vector<amdsmi_handle> sockets(kSockets, nullptr), out;
  std::uint32_t n = kSockets;
  if (amdsmi_status_t r = lib.sockets(&n, sockets.data()); r != AMDSMI_STATUS_SUCCESS) {
    problem = "amdsmi_get_socket_handles failed: " + lib.err(r);
    return out;
  }
  for (std::uint32_t s = 0; s < std::min(n, kSockets); ++s) {
    std::vector<amdsmi_handle> procs(kProcessors, nullptr);
    std::uint32_t k = kProcessors;
    if (amdsmi_status_t r = lib.processors(sockets[s], &k, procs.data());
        r != AMDSMI_STATUS_SUCCESS) {
      problem = fmt::format("amdsmi_get_processor_handles (socket {}) failed: {}", s, lib.err(r));
      continue;
    }
    for (std::uint32_t i = 0; i < std::min(k, kProcessors); ++i) out.push_back(procs[i]);
  }
  return out;
}

AmdGpuInfo read_gpu(const AmdsmiLib& lib, unsigned index, amdsmi_handle h) {
  AmdGpuInfo g;
  g.index = index;
  g.handle = h;
  g.name = gpu_name(lib, h);
  const CounterRead c = read_counter(lib, h);
  if (c.status == AMDSMI_STATUS_SUCCESS && good_resolution(c.resolution_uj)) {
    g.has_energy_counter = true;
    g.energy_j = static_cast<double>(c.count) * c.resolution_uj * 1e-6;
  }
  const PowerRead p = read_power(lib, h);
  if (p.status == AMDSMI_STATUS_SUCCESS && p.watts && *p.watts <= AmdsmiSource::kMaxWatts)
    g.power_w = p.watts;
  g.readable = g.has_energy_counter || g.power_w;
  auto why = [&](amdsmi_status_t r, const char* fn) {
    return r == -1 ? fmt::format("{} missing", fn) : lib.err(r);
  };
  if (!g.readable)
    g.problem = fmt::format("neither energy counter ({}) nor socket power ({})",
                            c.status == AMDSMI_STATUS_SUCCESS ? "resolution not a positive number"
                                                              : why(c.status, "function"),
                            p.status == AMDSMI_STATUS_SUCCESS ? "no supported or sane value"
                                                              : why(p.status, "function"));
  else if (!g.has_energy_counter)
    g.problem = fmt::format("no energy counter ({}): power samples integrated over time",
                            c.status == AMDSMI_STATUS_SUCCESS ? "resolution not a positive number"
                                                              : why(c.status, "function"));
  return g;
}

}  // namespace

std::size_t AmdsmiScan::readable() const {
  return static_cast<std::size_t>(
      std::count_if(gpus.begin(), gpus.end(), [](const AmdGpuInfo& g) { return g.readable; }));
}

std::string amdsmi_library() {
  return env("PEPR_AMDSMI_LIB").value_or("libamd_smi.so");
}

AmdsmiScan scan_amdsmi(const std::string& libname) {
  AmdsmiScan s;
  s.lib = libname;
  auto lib = std::make_shared<AmdsmiLib>();
  if (!open_amdsmi(*lib, libname, s.problem)) return s;
  s.loaded = true;
  s.handle = lib;
  const std::vector<amdsmi_handle> handles = list_gpus(*lib, s.problem);
  for (std::size_t i = 0; i < handles.size(); ++i)
    s.gpus.push_back(read_gpu(*lib, static_cast<unsigned>(i), handles[i]));
  if (s.gpus.empty() && s.problem.empty()) s.problem = "amdsmi found no AMD GPU";
  if (!s.gpus.empty() && s.readable() == 0)
    s.problem = "no AMD GPU can be read (" + s.gpus.front().problem + ")";
  return s;
}

SourceChoice choose_amdsmi(const std::string& lib) {
  SourceChoice c;
  const AmdsmiScan scan = scan_amdsmi(lib.empty() ? amdsmi_library() : lib);
  for (const auto& g : scan.gpus)
    if (!g.problem.empty())
      c.notes.push_back(fmt::format("AMD GPU {}: {}{}", g.index, g.problem,
                                    g.readable ? "" : ": its energy is missing from the total"));
  auto src = std::make_unique<AmdsmiSource>(scan);
  if (src->empty()) {
    c.status = scan.problem.empty() ? "no AMD GPU measurable" : scan.problem;
    return c;
  }
  c.status = fmt::format("used: {} ({}, every AMD GPU counted)", scan.lib,
                         plural(static_cast<long long>(src->components().size()), "GPU"));
  c.source = std::move(src);
  return c;
}

AmdsmiSource::AmdsmiSource(const AmdsmiScan& scan) : lib_(scan.handle) {
  if (!lib_ || !scan.loaded) return;
  for (const auto& g : scan.gpus) {
    if (!g.readable) continue;
    Component c;
    c.name = fmt::format("gpu.amd.{}", g.index);
    c.kind = "gpu";
    c.method = g.has_energy_counter ? "amdsmi-energy-counter" : "amdsmi-power-sampling";
    c.source = fmt::format("amdsmi GPU {}{}", g.index, g.name.empty() ? "" : " " + g.name);
    components_.push_back(c);
    Gpu gpu;
    gpu.handle = g.handle;
    gpu.index = g.index;
    gpu.counter = g.has_energy_counter;
    gpus_.push_back(gpu);
  }
}

bool AmdsmiSource::needs_periodic() const {
  return std::any_of(gpus_.begin(), gpus_.end(), [](const Gpu& g) { return !g.counter; });
}

void AmdsmiSource::begin(const SampleContext& ctx) {
  for (auto& g : gpus_) {
    Gpu fresh;
    fresh.handle = g.handle, fresh.index = g.index, fresh.counter = g.counter;
    g = fresh;
    if (g.counter) {
      const CounterRead c = read_counter(*lib_, g.handle);
      if (c.status == AMDSMI_STATUS_SUCCESS && good_resolution(c.resolution_uj))
        g.last_count = c.count, g.last_t = ctx.t_s, g.have_last = true;
    } else {
      const PowerRead p = read_power(*lib_, g.handle);
      if (p.status == AMDSMI_STATUS_SUCCESS && p.watts && *p.watts <= kMaxWatts)
        g.last_w = *p.watts, g.last_t = ctx.t_s, g.have_last = true;
    }
  }
}

void AmdsmiSource::sample(const SampleContext& ctx) {
  for (auto& g : gpus_) {
    ++g.reads;
    if (g.counter)
      sample_counter(g, ctx.t_s);
    else
      sample_power(g, ctx.t_s);
  }
}

void AmdsmiSource::sample_counter(Gpu& g, double t) {
  const CounterRead c = read_counter(*lib_, g.handle);
  if (c.status != AMDSMI_STATUS_SUCCESS) {
    ++g.failed, g.last_error = c.status;
    return;  // the next reading covers the gap
  }
  if (!good_resolution(c.resolution_uj)) {
    ++g.rejected;
    g.last_rejected = fmt::format("counter resolution {} uJ", c.resolution_uj);
    return;
  }
  if (g.have_last) {
    const double dt = std::max(0.0, t - g.last_t);
    const double delta_j =
        (static_cast<double>(c.count) - static_cast<double>(g.last_count)) * c.resolution_uj * 1e-6;
    if (c.count < g.last_count || delta_j > kMaxWatts * dt + kSlackJ) {
      // The counter restarted (driver reload, GPU reset) or jumped: neither is energy used.
      ++g.resets;
      g.dropped_j += std::abs(delta_j);
    } else {
      g.joules += delta_j;
    }
  }
  g.last_count = c.count;
  g.last_t = t;
  g.have_last = true;
}

void AmdsmiSource::sample_power(Gpu& g, double t) {
  const PowerRead p = read_power(*lib_, g.handle);
  if (p.status != AMDSMI_STATUS_SUCCESS || !p.watts) {
    ++g.failed, g.last_error = p.status;
    return;  // the gap is bridged by the next trapezoid
  }
  if (!std::isfinite(*p.watts) || *p.watts < 0 || *p.watts > kMaxWatts) {
    ++g.rejected;
    g.last_rejected = fmt::format("socket power {:g} W", *p.watts);
    return;
  }
  if (g.have_last && t > g.last_t) g.joules += 0.5 * (*p.watts + g.last_w) * (t - g.last_t);
  g.last_w = *p.watts;
  g.last_t = t;
  g.have_last = true;
}

std::vector<double> AmdsmiSource::joules() const {
  std::vector<double> out;
  for (const auto& g : gpus_) out.push_back(g.joules);
  return out;
}

std::vector<std::string> AmdsmiSource::notes() const {
  std::vector<std::string> out;
  for (const auto& g : gpus_) {
    const std::string err = g.last_error == -1 ? "no reading" : lib_->err(g.last_error);
    if (g.failed > 0 && g.failed == g.reads)
      out.push_back(fmt::format(
          "AMD GPU {}: none of {} readings succeeded ({}): its energy is missing from the total",
          g.index, g.reads, err));
    else if (g.failed > 0)
      out.push_back(fmt::format("AMD GPU {}: {} of {} readings failed ({}); {}", g.index, g.failed,
                                g.reads, err,
                                g.counter ? "the energy counter covers the gaps"
                                          : "power is interpolated across the gaps"));
    if (g.rejected > 0)
      out.push_back(fmt::format(
          "AMD GPU {}: {} impossible reading{} rejected (the last: {}; above {:g} W, negative or "
          "not a number): {}",
          g.index, g.rejected, g.rejected == 1 ? "" : "s", g.last_rejected, kMaxWatts,
          g.counter ? "the energy counter covers the gaps" : "power is interpolated across them"));
    if (g.resets > 0)
      out.push_back(fmt::format(
          "AMD GPU {}: the energy counter was reset or jumped {} time{} ({:.1f} J in all, more "
          "than {:g} W could use, or backwards): dropped, not counted",
          g.index, g.resets, g.resets == 1 ? "" : "s", g.dropped_j, kMaxWatts));
  }
  return out;
}

}  // namespace pepr::meter
