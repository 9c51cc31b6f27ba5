#include "meter/nvml.hpp"

#include <dlfcn.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include <fmt/format.h>

#include "core/format.hpp"
#include "meter/util.hpp"

namespace pepr::meter {

namespace {

using nvmlReturn_t = int;
using nvmlDevice_t = void*;
constexpr nvmlReturn_t NVML_SUCCESS = 0;
constexpr nvmlReturn_t NVML_ERROR_INSUFFICIENT_SIZE = 7;

struct nvmlMemory_t {
  unsigned long long total, free, used;
};
struct nvmlProcessInfo_v1_t {
  unsigned int pid;
  unsigned long long usedGpuMemory;
};
struct nvmlProcessInfo_v2_t {  // also the layout of _v3
  unsigned int pid;
  unsigned long long usedGpuMemory;
  unsigned int gpuInstanceId;
  unsigned int computeInstanceId;
};
constexpr unsigned long long kNotAvailable = ~0ULL;

}  // namespace

class NvmlLib {
 public:
  void* dl = nullptr;
  nvmlReturn_t (*init)() = nullptr;
  nvmlReturn_t (*shutdown)() = nullptr;
  nvmlReturn_t (*count)(unsigned*) = nullptr;
  nvmlReturn_t (*handle)(unsigned, nvmlDevice_t*) = nullptr;
  nvmlReturn_t (*name)(nvmlDevice_t, char*, unsigned) = nullptr;
  nvmlReturn_t (*uuid)(nvmlDevice_t, char*, unsigned) = nullptr;
  nvmlReturn_t (*energy)(nvmlDevice_t, unsigned long long*) = nullptr;
  nvmlReturn_t (*power)(nvmlDevice_t, unsigned*) = nullptr;
  nvmlReturn_t (*memory)(nvmlDevice_t, nvmlMemory_t*) = nullptr;
  nvmlReturn_t (*procs_v2)(nvmlDevice_t, unsigned*, nvmlProcessInfo_v2_t*) = nullptr;
  nvmlReturn_t (*procs_v1)(nvmlDevice_t, unsigned*, nvmlProcessInfo_v1_t*) = nullptr;
  const char* (*error_string)(nvmlReturn_t) = nullptr;
  bool initialised = false;

  std::string err(nvmlReturn_t r) const {
    const char* s = error_string ? error_string(r) : nullptr;
    return s ? fmt::format("{} (NVML error {})", s, r) : fmt::format("NVML error {}", r);
  }
  ~NvmlLib() {
    if (initialised && shutdown) shutdown();
    if (dl) ::dlclose(dl);
  }
};

namespace {

std::optional<std::string> env_raw_cuda_visible() {
  const char* v = std::getenv("CUDA_VISIBLE_DEVICES");
  if (!v) return std::nullopt;
  return std::string(v);
}

template <typename F>
void sym(void* dl, F& f, const char* name) {
  f = reinterpret_cast<F>(::dlsym(dl, name));
}

}  // namespace

std::string nvml_library() {
  return env("PEPR_NVML_LIB").value_or("libnvidia-ml.so.1");
}

std::vector<unsigned> select_visible(const std::optional<std::string>& cuda_visible,
                                     const std::vector<GpuInfo>& gpus, std::string& note) {
  std::vector<unsigned> out;
  if (!cuda_visible) {
    for (const auto& g : gpus) out.push_back(g.index);
    note = "CUDA_VISIBLE_DEVICES unset: every GPU counted";
    return out;
  }
  std::string v = *cuda_visible;
  std::size_t start = 0;
  std::string stopped;
  while (start <= v.size() && !v.empty()) {
    auto comma = v.find(',', start);
    if (comma == std::string::npos) comma = v.size();
    std::string tok = trim(v.substr(start, comma - start));
    start = comma + 1;
    std::optional<unsigned> hit;
    if (!tok.empty() && std::all_of(tok.begin(), tok.end(), ::isdigit)) {
      // An index too large for any GPU (even for an unsigned long) names none, as 7 does on a
      // machine with one GPU: CUDA ignores it and every entry after it.
      const auto digits = tok.find_first_not_of('0');
      const std::string_view num = digits == std::string::npos
                                       ? std::string_view("0")
                                       : std::string_view(tok).substr(digits);
      if (num.size() <= 9) {
        const unsigned i = static_cast<unsigned>(std::stoul(std::string(num)));
        for (const auto& g : gpus)
          if (g.index == i) hit = i;
      }
    } else if (tok.rfind("GPU-", 0) == 0 || tok.rfind("MIG-", 0) == 0) {
      for (const auto& g : gpus)
        if (g.uuid.rfind(tok, 0) == 0) hit = g.index;
    }
    if (!hit) {
      stopped = tok;
      break;  // CUDA ignores this entry and every one after it
    }
    if (std::find(out.begin(), out.end(), *hit) == out.end()) out.push_back(*hit);
    if (comma >= v.size()) break;
  }
  note = fmt::format("CUDA_VISIBLE_DEVICES='{}': {} counted", v,
                     plural(static_cast<long long>(out.size()), "GPU"));
  if (!stopped.empty())
    note += fmt::format(" (entry '{}' names no GPU: it and later entries ignored, as CUDA does)",
                        stopped);
  if (out.size() > 1 && env("CUDA_DEVICE_ORDER").value_or("") != "PCI_BUS_ID")
    note += "; indices read in NVML (PCI bus) order";
  return out;
}

void restrict_to_cuda_device(NvmlScan& scan, int ordinal) {
  std::string note;
  const std::vector<unsigned> order = select_visible(env_raw_cuda_visible(), scan.gpus, note);
  if (ordinal < 0 || static_cast<std::size_t>(ordinal) >= order.size()) {
    for (auto& g : scan.gpus) g.visible = false;
    scan.problem = fmt::format("cuda:{} names no visible GPU ({} visible)", ordinal, order.size());
    return;
  }
  const unsigned chosen = order[static_cast<std::size_t>(ordinal)];
  for (auto& g : scan.gpus) g.visible = g.index == chosen;
  scan.visibility +=
      fmt::format("; only cuda:{} (NVML GPU {}), the device in use, counted", ordinal, chosen);
}

NvmlScan scan_nvml(const std::string& libname) {
  NvmlScan s;
  s.lib = libname;
  auto lib = std::make_shared<NvmlLib>();
  lib->dl = ::dlopen(libname.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!lib->dl) {
    const char* e = ::dlerror();
    s.problem = fmt::format("no NVML: cannot load {} ({})", libname, e ? e : "unknown error");
    return s;
  }
  sym(lib->dl, lib->init, "nvmlInit_v2");
  if (!lib->init) sym(lib->dl, lib->init, "nvmlInit");
  sym(lib->dl, lib->shutdown, "nvmlShutdown");
  sym(lib->dl, lib->count, "nvmlDeviceGetCount_v2");
  if (!lib->count) sym(lib->dl, lib->count, "nvmlDeviceGetCount");
  sym(lib->dl, lib->handle, "nvmlDeviceGetHandleByIndex_v2");
  if (!lib->handle) sym(lib->dl, lib->handle, "nvmlDeviceGetHandleByIndex");
  sym(lib->dl, lib->name, "nvmlDeviceGetName");
  sym(lib->dl, lib->uuid, "nvmlDeviceGetUUID");
  sym(lib->dl, lib->energy, "nvmlDeviceGetTotalEnergyConsumption");
  sym(lib->dl, lib->power, "nvmlDeviceGetPowerUsage");
  sym(lib->dl, lib->memory, "nvmlDeviceGetMemoryInfo");
  sym(lib->dl, lib->procs_v2, "nvmlDeviceGetComputeRunningProcesses_v3");
  if (!lib->procs_v2) sym(lib->dl, lib->procs_v2, "nvmlDeviceGetComputeRunningProcesses_v2");
  if (!lib->procs_v2) sym(lib->dl, lib->procs_v1, "nvmlDeviceGetComputeRunningProcesses");
  sym(lib->dl, lib->error_string, "nvmlErrorString");
  if (!lib->init || !lib->count || !lib->handle) {
    s.problem =
        fmt::format("{} lacks nvmlInit / nvmlDeviceGetCount / nvmlDeviceGetHandleByIndex", libname);
    return s;
  }
  if (nvmlReturn_t r = lib->init(); r != NVML_SUCCESS) {
    s.problem = fmt::format("NVML initialisation failed: {}", lib->err(r));
    return s;
  }
  lib->initialised = true;
  s.loaded = true;
  unsigned n = 0;
  if (nvmlReturn_t r = lib->count(&n); r != NVML_SUCCESS) {
    s.problem = fmt::format("nvmlDeviceGetCount failed: {}", lib->err(r));
    return s;
  }
  for (unsigned i = 0; i < n; ++i) {
    GpuInfo g;
    g.index = i;
    nvmlDevice_t dev = nullptr;
    if (nvmlReturn_t r = lib->handle(i, &dev); r != NVML_SUCCESS) {
      g.problem = fmt::format("no handle: {}", lib->err(r));
      g.visible = false;
      s.gpus.push_back(g);
      continue;
    }
    char buf[96] = {0};
    if (lib->name && lib->name(dev, buf, sizeof buf) == NVML_SUCCESS) g.name = buf;
    std::memset(buf, 0, sizeof buf);
    if (lib->uuid && lib->uuid(dev, buf, sizeof buf) == NVML_SUCCESS) g.uuid = buf;
    unsigned long long mj = 0;
    nvmlReturn_t er = lib->energy ? lib->energy(dev, &mj) : -1;
    if (er == NVML_SUCCESS) {
      g.has_energy_counter = true;
      g.energy_j = static_cast<double>(mj) * 1e-3;
    }
    unsigned mw = 0;
    nvmlReturn_t pr = lib->power ? lib->power(dev, &mw) : -1;
    if (pr == NVML_SUCCESS) g.power_w = mw * 1e-3;
    nvmlMemory_t mem{};
    if (lib->memory && lib->memory(dev, &mem) == NVML_SUCCESS) g.mem_used_gb = mem.used / 1e9;
    if (!g.has_energy_counter && !g.power_w)
      g.problem =
          fmt::format("neither energy counter ({}) nor power reading ({})",
                      er == -1 ? "missing" : lib->err(er), pr == -1 ? "missing" : lib->err(pr));
    else if (!g.has_energy_counter)
      g.problem = fmt::format("no total-energy counter ({}): power samples integrated over time",
                              er == -1 ? "function missing" : lib->err(er));
    s.gpus.push_back(g);
  }
  if (n == 0) s.problem = "NVML found no GPU";
  auto sel = select_visible(env_raw_cuda_visible(), s.gpus, s.visibility);
  for (auto& g : s.gpus)
    g.visible = g.visible && std::find(sel.begin(), sel.end(), g.index) != sel.end() &&
                (g.has_energy_counter || g.power_w);
  if (n > 0 && sel.empty()) s.problem = "no GPU usable by this job (" + s.visibility + ")";
  s.handle = lib;
  return s;
}

NvmlSource::NvmlSource(const NvmlScan& scan) : lib_(scan.handle) {
  if (!lib_ || !scan.loaded) return;
  for (const auto& g : scan.gpus) {
    if (!g.visible) continue;
    nvmlDevice_t dev = nullptr;
    if (lib_->handle(g.index, &dev) != NVML_SUCCESS) continue;
    Component c;
    c.name = fmt::format("gpu.{}", g.index);
    c.kind = "gpu";
    c.method = g.has_energy_counter ? "nvml-energy-counter" : "nvml-power-sampling";
    c.source =
        fmt::format("NVML GPU {} {}{}", g.index, g.name, g.uuid.empty() ? "" : " (" + g.uuid + ")");
    components_.push_back(c);
    Gpu gpu;
    gpu.device = dev;
    gpu.counter = g.has_energy_counter;
    gpus_.push_back(gpu);
  }
}

bool NvmlSource::needs_periodic() const {
  return std::any_of(gpus_.begin(), gpus_.end(), [](const Gpu& g) { return !g.counter; });
}

void NvmlSource::begin(const SampleContext& ctx) {
  for (auto& g : gpus_) {
    g.joules = 0;
    g.have_last = false;
    if (g.counter) {
      unsigned long long mj = 0;
      if (lib_->energy(g.device, &mj) == NVML_SUCCESS) g.last_mj = mj, g.have_last = true;
    } else {
      unsigned mw = 0;
      if (lib_->power(g.device, &mw) == NVML_SUCCESS)
        g.last_w = mw * 1e-3, g.last_t = ctx.t_s, g.have_last = true;
    }
  }
}

void NvmlSource::sample(const SampleContext& ctx) {
  for (auto& g : gpus_) {
    if (g.counter) {
      unsigned long long mj = 0;
      if (lib_->energy(g.device, &mj) != NVML_SUCCESS) continue;
      if (g.have_last && mj >= g.last_mj) g.joules += static_cast<double>(mj - g.last_mj) * 1e-3;
      g.last_mj = mj;
      g.have_last = true;
    } else {
      unsigned mw = 0;
      if (lib_->power(g.device, &mw) != NVML_SUCCESS) continue;
      double w = mw * 1e-3;
      if (g.have_last && ctx.t_s > g.last_t)
        g.joules += 0.5 * (w + g.last_w) * (ctx.t_s - g.last_t);
      g.last_w = w;
      g.last_t = ctx.t_s;
      g.have_last = true;
    }
  }
}

std::vector<double> NvmlSource::joules() const {
  std::vector<double> out;
  for (const auto& g : gpus_) out.push_back(g.joules);
  return out;
}

std::optional<double> NvmlSource::process_memory_gb(const std::vector<pid_t>& pids) {
  if (!lib_ || (!lib_->procs_v2 && !lib_->procs_v1)) return std::nullopt;
  bool any = false;
  double bytes = 0;
  auto mine = [&](unsigned pid) {
    return std::find(pids.begin(), pids.end(), static_cast<pid_t>(pid)) != pids.end();
  };
  for (auto& g : gpus_) {
    unsigned n = 64;
    if (lib_->procs_v2) {
      std::vector<nvmlProcessInfo_v2_t> info(n);
      nvmlReturn_t r = lib_->procs_v2(g.device, &n, info.data());
      if (r == NVML_ERROR_INSUFFICIENT_SIZE) {
        info.resize(n + 16);
        n = static_cast<unsigned>(info.size());
        r = lib_->procs_v2(g.device, &n, info.data());
      }
      if (r != NVML_SUCCESS) continue;
      for (unsigned i = 0; i < n && i < info.size(); ++i)
        if (mine(info[i].pid) && info[i].usedGpuMemory != kNotAvailable)
          any = true, bytes += static_cast<double>(info[i].usedGpuMemory);
    } else {
      std::vector<nvmlProcessInfo_v1_t> info(n);
      nvmlReturn_t r = lib_->procs_v1(g.device, &n, info.data());
      if (r != NVML_SUCCESS) continue;
      for (unsigned i = 0; i < n && i < info.size(); ++i)
        if (mine(info[i].pid) && info[i].usedGpuMemory != kNotAvailable)
          any = true, bytes += static_cast<double>(info[i].usedGpuMemory);
    }
  }
  if (!any) return std::nullopt;
  return bytes / 1e9;
}

}  // namespace pepr::meter
