#include "meter/nvml.hpp"

#include <dlfcn.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
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
// Every layout of NVML's compute-process entry starts {unsigned pid; unsigned long long
// usedGpuMemory; ...}: v1 is 16 bytes, v2 (and v3 as documented) 24, v3 on drivers 535.43-535.86
// 32. Entries are read at their stride from a buffer sized for the largest.
constexpr std::size_t kV1Entry = 16, kV2Entry = 24, kMaxEntry = 32;
constexpr unsigned kMaxProcesses = 4096;
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
  // The process-list functions take an array of entries: declared with void* (the layout depends
  // on the function and the driver).
  nvmlReturn_t (*procs_v1)(nvmlDevice_t, unsigned*, void*) = nullptr;
  nvmlReturn_t (*procs_v2)(nvmlDevice_t, unsigned*, void*) = nullptr;
  nvmlReturn_t (*procs_v3)(nvmlDevice_t, unsigned*, void*) = nullptr;
  nvmlReturn_t (*driver_version)(char*, unsigned) = nullptr;
  nvmlReturn_t (*max_mig)(nvmlDevice_t, unsigned*) = nullptr;
  nvmlReturn_t (*mig_handle)(nvmlDevice_t, unsigned, nvmlDevice_t*) = nullptr;
  std::string driver;  // nvmlSystemGetDriverVersion, e.g. "535.54.03"
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

std::size_t nvml_v3_entry_size(const std::string& driver_version) {
  unsigned major = 0, minor = 0;
  if (std::sscanf(driver_version.c_str(), "%u.%u", &major, &minor) == 2 && major == 535 &&
      minor >= 43 && minor <= 86)
    return kMaxEntry;
  return kV2Entry;
}

namespace {

bool all_digits(const std::string& t) {
  return !t.empty() && std::all_of(t.begin(), t.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// The GPUs' models differ and CUDA numbers them fastest first, NVML by PCI bus.
std::optional<std::string> order_warning(const std::vector<GpuInfo>& gpus) {
  if (env("CUDA_DEVICE_ORDER").value_or("") == "PCI_BUS_ID") return std::nullopt;
  std::vector<std::string> models;
  for (const auto& g : gpus)
    if (!g.name.empty() && std::find(models.begin(), models.end(), g.name) == models.end())
      models.push_back(g.name);
  if (models.size() < 2) return std::nullopt;
  std::string list;
  for (const auto& m : models) list += (list.empty() ? "" : ", ") + m;
  return fmt::format(
      "this machine has GPUs of different models ({}) and CUDA_DEVICE_ORDER is not PCI_BUS_ID: "
      "CUDA numbers the fastest GPU first, NVML (and pepr) by PCI bus, so a GPU index may name a "
      "different GPU to CUDA than the one metered; set CUDA_DEVICE_ORDER=PCI_BUS_ID or select "
      "GPUs by UUID",
      list);
}

}  // namespace

std::vector<unsigned> select_visible(const std::optional<std::string>& cuda_visible,
                                     const std::vector<GpuInfo>& gpus, std::string& note,
                                     std::vector<std::string>* warnings,
                                     std::vector<unsigned>* mig_parents) {
  std::vector<unsigned> out;
  auto warn = [&](std::string w) {
    if (warnings && std::find(warnings->begin(), warnings->end(), w) == warnings->end())
      warnings->push_back(std::move(w));
  };
  if (!cuda_visible) {
    for (const auto& g : gpus) out.push_back(g.index);
    note = "CUDA_VISIBLE_DEVICES unset: every GPU counted";
    return out;
  }
  std::string v = *cuda_visible;
  std::size_t start = 0;
  std::string stopped, stop_reason = "names no GPU";
  bool by_index = false;
  while (start <= v.size() && !v.empty()) {
    auto comma = v.find(',', start);
    if (comma == std::string::npos) comma = v.size();
    std::string tok = trim(v.substr(start, comma - start));
    start = comma + 1;
    std::optional<unsigned> hit;
    if (all_digits(tok)) {
      by_index = true;
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
    } else if (tok.rfind("GPU-", 0) == 0) {
      for (const auto& g : gpus)
        if (g.uuid.rfind(tok, 0) == 0) hit = g.index;
    } else if (tok.rfind("MIG-", 0) == 0) {
      // A MIG instance, "MIG-<uuid>" (or CUDA 11.0's "MIG-GPU-<uuid>/GI/CI"): NVML has no energy
      // of an instance, so its whole GPU is metered, shared with the other instances' work.
      const std::string legacy_gpu = tok.substr(4, tok.find('/') - 4);
      for (const auto& g : gpus) {
        for (const auto& m : g.mig_uuids)
          if (m.rfind(tok, 0) == 0) hit = g.index;
        if (tok.find('/') != std::string::npos && legacy_gpu.rfind("GPU-", 0) == 0 &&
            g.uuid == legacy_gpu)
          hit = g.index;
        if (hit && *hit == g.index) {
          warn(fmt::format(
              "CUDA_VISIBLE_DEVICES entry '{}' is a MIG instance of GPU {} ({}): NVML cannot meter "
              "a MIG instance, so the whole GPU {} is metered, including the work of its other "
              "instances (its figures are marked shared)",
              tok, g.index, g.name, g.index));
          if (mig_parents) mig_parents->push_back(g.index);
          break;
        }
      }
      if (!hit) stop_reason = "names no MIG instance that NVML lists (MIG off, or another GPU's)";
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
    note += fmt::format(" (entry '{}' {}: it and later entries ignored, as CUDA does)", stopped,
                        stop_reason);
  if (by_index && env("CUDA_DEVICE_ORDER").value_or("") != "PCI_BUS_ID")
    note += "; indices read in NVML (PCI bus) order";
  if (by_index)
    if (auto w = order_warning(gpus)) warn(*w);
  return out;
}

void restrict_to_cuda_device(NvmlScan& scan, int ordinal) {
  std::string note;
  const auto cuda_visible = env_raw_cuda_visible();
  const std::vector<unsigned> order = select_visible(cuda_visible, scan.gpus, note);
  if (ordinal < 0 || static_cast<std::size_t>(ordinal) >= order.size()) {
    for (auto& g : scan.gpus) g.visible = g.selected = false;
    scan.problem = fmt::format("cuda:{} names no visible GPU ({} visible)", ordinal, order.size());
    return;
  }
  const unsigned chosen = order[static_cast<std::size_t>(ordinal)];
  for (auto& g : scan.gpus) {
    g.visible = g.visible && g.index == chosen;
    g.selected = g.selected && g.index == chosen;
  }
  scan.visibility +=
      fmt::format("; only cuda:{} (NVML GPU {}), the device in use, counted", ordinal, chosen);
  // Without CUDA_VISIBLE_DEVICES, or with indices, the ordinal is counted in CUDA's order.
  if (!cuda_visible || all_digits(trim(cuda_visible->substr(0, cuda_visible->find(',')))))
    if (auto w = order_warning(scan.gpus);
        w && std::find(scan.notes.begin(), scan.notes.end(), *w) == scan.notes.end())
      scan.notes.push_back(*w);
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
  // _v2 first: its 24-byte entry never changed, while _v3 wrote 32-byte entries on some drivers.
  sym(lib->dl, lib->procs_v2, "nvmlDeviceGetComputeRunningProcesses_v2");
  sym(lib->dl, lib->procs_v3, "nvmlDeviceGetComputeRunningProcesses_v3");
  sym(lib->dl, lib->procs_v1, "nvmlDeviceGetComputeRunningProcesses");
  sym(lib->dl, lib->driver_version, "nvmlSystemGetDriverVersion");
  sym(lib->dl, lib->max_mig, "nvmlDeviceGetMaxMigDeviceCount");
  sym(lib->dl, lib->mig_handle, "nvmlDeviceGetMigDeviceHandleByIndex");
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
  if (lib->driver_version) {
    char ver[96] = {0};
    if (lib->driver_version(ver, sizeof ver) == NVML_SUCCESS) lib->driver = ver;
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
    unsigned mig_count = 0;
    if (lib->max_mig && lib->mig_handle && lib->max_mig(dev, &mig_count) == NVML_SUCCESS)
      for (unsigned k = 0; k < std::min(mig_count, 64u); ++k) {
        nvmlDevice_t mig = nullptr;
        std::memset(buf, 0, sizeof buf);
        if (lib->mig_handle(dev, k, &mig) == NVML_SUCCESS && lib->uuid &&
            lib->uuid(mig, buf, sizeof buf) == NVML_SUCCESS)
          g.mig_uuids.emplace_back(buf);
      }
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
  std::vector<unsigned> mig_parents;
  auto sel = select_visible(env_raw_cuda_visible(), s.gpus, s.visibility, &s.notes, &mig_parents);
  for (auto& g : s.gpus) {
    g.selected = std::find(sel.begin(), sel.end(), g.index) != sel.end();
    g.shared = std::find(mig_parents.begin(), mig_parents.end(), g.index) != mig_parents.end();
    g.visible = g.visible && g.selected && (g.has_energy_counter || g.power_w);
  }
  if (n > 0 && sel.empty()) s.problem = "no GPU usable by this job (" + s.visibility + ")";
  s.handle = lib;
  return s;
}

std::vector<std::string> unreadable_gpu_notes(const NvmlScan& scan) {
  std::vector<std::string> out;
  for (const auto& g : scan.gpus)
    if (g.selected && !g.visible)
      out.push_back(fmt::format(
          "GPU {}{} is used by this job but cannot be read ({}): its energy is missing from the "
          "total",
          g.index, g.name.empty() ? "" : " (" + g.name + ")",
          g.problem.empty() ? "no reading" : g.problem));
  return out;
}

NvmlSource::NvmlSource(const NvmlScan& scan) : lib_(scan.handle) {
  if (!lib_ || !scan.loaded) return;
  process_entry_size_ = nvml_v3_entry_size(lib_->driver);
  for (const auto& g : scan.gpus) {
    if (!g.visible) continue;
    nvmlDevice_t dev = nullptr;
    if (lib_->handle(g.index, &dev) != NVML_SUCCESS) continue;  // listed by unreadable_gpu_notes
    Component c;
    c.name = fmt::format("gpu.{}", g.index);
    c.kind = "gpu";
    c.method = g.has_energy_counter ? "nvml-energy-counter" : "nvml-power-sampling";
    c.source =
        fmt::format("NVML GPU {} {}{}", g.index, g.name, g.uuid.empty() ? "" : " (" + g.uuid + ")");
    if (g.shared) c.source += " [shared: whole GPU metered for a MIG instance]";
    components_.push_back(c);
    Gpu gpu;
    gpu.device = dev;
    gpu.index = g.index;
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
    g.reads = g.failed = g.resets = 0;
    g.dropped_j = 0;
    if (g.counter) {
      unsigned long long mj = 0;
      if (lib_->energy(g.device, &mj) == NVML_SUCCESS)
        g.last_mj = mj, g.last_t = ctx.t_s, g.have_last = true;
    } else {
      unsigned mw = 0;
      if (lib_->power(g.device, &mw) == NVML_SUCCESS)
        g.last_w = mw * 1e-3, g.last_t = ctx.t_s, g.have_last = true;
    }
  }
}

void NvmlSource::sample(const SampleContext& ctx) {
  for (auto& g : gpus_) {
    ++g.reads;
    if (g.counter) {
      unsigned long long mj = 0;
      if (nvmlReturn_t r = lib_->energy(g.device, &mj); r != NVML_SUCCESS) {
        ++g.failed, g.last_error = r;
        continue;  // the next reading covers the gap
      }
      if (g.have_last) {
        const double dt = std::max(0.0, ctx.t_s - g.last_t);
        const double delta_j =
            static_cast<double>(mj) * 1e-3 - static_cast<double>(g.last_mj) * 1e-3;
        if (mj < g.last_mj || delta_j > kNvmlResetWatts * dt + kNvmlResetSlackJ) {
          // The counter restarted (driver reload, GPU reset) or jumped: neither is energy used.
          ++g.resets;
          g.dropped_j += std::abs(delta_j);
        } else {
          g.joules += delta_j;
        }
      }
      g.last_mj = mj;
      g.last_t = ctx.t_s;
      g.have_last = true;
    } else {
      unsigned mw = 0;
      if (nvmlReturn_t r = lib_->power(g.device, &mw); r != NVML_SUCCESS) {
        ++g.failed, g.last_error = r;
        continue;  // the gap is bridged by the next trapezoid
      }
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

std::vector<std::string> NvmlSource::notes() const {
  std::vector<std::string> out;
  for (const auto& g : gpus_) {
    if (g.failed > 0 && g.failed == g.reads)
      out.push_back(fmt::format(
          "GPU {}: none of {} readings succeeded ({}): its energy is missing from the total",
          g.index, g.reads, lib_->err(g.last_error)));
    else if (g.failed > 0)
      out.push_back(fmt::format("GPU {}: {} of {} readings failed ({}); {}", g.index, g.failed,
                                g.reads, lib_->err(g.last_error),
                                g.counter ? "the energy counter covers the gaps"
                                          : "power is interpolated across the gaps"));
    if (g.resets > 0)
      out.push_back(fmt::format(
          "GPU {}: the energy counter was reset or jumped {} time{} ({:.1f} J in all, more than "
          "{:g} W could use, or backwards): dropped, not counted",
          g.index, g.resets, g.resets == 1 ? "" : "s", g.dropped_j, kNvmlResetWatts));
  }
  return out;
}

namespace {

// Sums the memory of `mine` processes in one GPU's compute-process list, read with `fn` whose
// entries are `entry` bytes apart. False when NVML gives no list.
template <typename Mine>
bool sum_process_memory(nvmlReturn_t (*fn)(nvmlDevice_t, unsigned*, void*), nvmlDevice_t dev,
                        std::size_t entry, const Mine& mine, double& bytes, bool& any) {
  unsigned cap = 64;
  std::vector<unsigned char> buf;
  nvmlReturn_t r = NVML_ERROR_INSUFFICIENT_SIZE;
  unsigned n = 0;
  for (int attempt = 0; attempt < 2 && r == NVML_ERROR_INSUFFICIENT_SIZE; ++attempt) {
    // Sized for the largest entry whatever `entry` is, so a driver writing bigger entries than
    // expected cannot overflow it.
    buf.assign(static_cast<std::size_t>(cap) * kMaxEntry, 0);
    n = cap;
    r = fn(dev, &n, buf.data());
    if (r == NVML_ERROR_INSUFFICIENT_SIZE) cap = std::min(std::max(n, cap) + 16, kMaxProcesses);
  }
  if (r != NVML_SUCCESS) return false;
  const std::size_t count = std::min<std::size_t>(n, buf.size() / entry);
  for (std::size_t i = 0; i < count; ++i) {
    unsigned pid = 0;
    unsigned long long used = 0;
    std::memcpy(&pid, buf.data() + i * entry, sizeof pid);
    std::memcpy(&used, buf.data() + i * entry + 8, sizeof used);
    if (mine(pid) && used != kNotAvailable) any = true, bytes += static_cast<double>(used);
  }
  return true;
}

}  // namespace

std::optional<double> NvmlSource::process_memory_gb(const std::vector<pid_t>& pids, double now,
                                                    double min_gap_s) {
  if (!lib_ || (!lib_->procs_v2 && !lib_->procs_v3 && !lib_->procs_v1)) return std::nullopt;
  if (now - last_query_t_ < min_gap_s) return last_query_gb_;
  last_query_t_ = now;
  ++process_queries_;
  bool any = false;
  double bytes = 0;
  auto mine = [&](unsigned pid) {
    return std::find(pids.begin(), pids.end(), static_cast<pid_t>(pid)) != pids.end();
  };
  for (auto& g : gpus_) {
    if (lib_->procs_v2)
      sum_process_memory(lib_->procs_v2, g.device, kV2Entry, mine, bytes, any);
    else if (lib_->procs_v3)
      sum_process_memory(lib_->procs_v3, g.device, process_entry_size_, mine, bytes, any);
    else
      sum_process_memory(lib_->procs_v1, g.device, kV1Entry, mine, bytes, any);
  }
  last_query_gb_ = any ? std::optional<double>(bytes / 1e9) : std::nullopt;
  return last_query_gb_;
}

}  // namespace pepr::meter
