// A fake NVML for the test suite, loaded by pepr through PEPR_NVML_LIB. Behaviour from the
// environment, read at nvmlInit:
//   FAKE_NVML_MODE     energy (default: total-energy counter), power (power readings only),
//                      nogpu (no device), initfail (nvmlInit fails)
//   FAKE_NVML_COUNT    number of GPUs (default 1)
//   FAKE_NVML_POWER_W  power of GPU 0 in W (default 100); GPU i draws (i + 1) x this
//   FAKE_NVML_PROC_MB  if set, the calling process is listed on every GPU with this much memory
//   FAKE_NVML_PROCS    how many processes the list holds (default 1): the caller is the last one,
//                      the others are pids 4000001, 4000002, ... with 7 MB each
//   FAKE_NVML_DRIVER   nvmlSystemGetDriverVersion (default 550.54.15); on 535.43-535.86 the _v3
//                      process list writes 32-byte entries, as those drivers did (_v2: 24 bytes)
//   FAKE_NVML_NAMES    comma-separated model names by index (default "Fake GPU <i>")
//   FAKE_NVML_MIG      number of MIG instances of GPU 0 (UUIDs MIG-fake-0000-<k>); default 0
//   FAKE_NVML_BROKEN   index of a GPU whose energy and power readings fail (GPU is lost)
//   FAKE_NVML_RESET_S  seconds after nvmlInit at which the energy counters restart from 0
// The energy counter grows with real time: 1e6 mJ + power x time since nvmlInit.
// Built twice: with FAKE_NVML_NO_V2 the library has no _v2 process list (only _v3 and v1).
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

struct State {
  std::string mode = "energy";
  unsigned count = 1;
  double power_w = 100;
  long proc_mb = -1;
  unsigned procs = 1;
  std::string driver = "550.54.15";
  std::string names;
  unsigned mig = 0;
  int broken = -1;
  double reset_s = -1;
  double t0 = 0;
} g;

double now() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

std::string env_or(const char* name, const char* def) {
  const char* v = std::getenv(name);
  return v && *v ? v : def;
}

struct Device {
  unsigned index;  // 100 + k: MIG instance k of GPU 0
};
Device devices[16] = {{0}, {1}, {2},  {3},  {4},  {5},  {6},  {7},
                      {8}, {9}, {10}, {11}, {12}, {13}, {14}, {15}};
Device mig_devices[8] = {{100}, {101}, {102}, {103}, {104}, {105}, {106}, {107}};

// The i-th comma-separated name of FAKE_NVML_NAMES, or empty.
std::string name_of(unsigned i) {
  std::string s = g.names;
  for (unsigned k = 0; k < i; ++k) {
    auto c = s.find(',');
    if (c == std::string::npos) return "";
    s = s.substr(c + 1);
  }
  return s.substr(0, s.find(','));
}

bool driver_writes_32_byte_v3() {
  unsigned major = 0, minor = 0;
  return std::sscanf(g.driver.c_str(), "%u.%u", &major, &minor) == 2 && major == 535 &&
         minor >= 43 && minor <= 86;
}

// Writes the process list: entries `entry` bytes apart, {pid, usedGpuMemory, ...}.
int write_procs(unsigned* count, void* infos, std::size_t entry) {
  if (g.proc_mb < 0) {
    *count = 0;
    return 0;
  }
  if (*count < g.procs) {
    *count = g.procs;
    return 7;  // NVML_ERROR_INSUFFICIENT_SIZE
  }
  *count = g.procs;
  auto* bytes = static_cast<unsigned char*>(infos);
  for (unsigned i = 0; i < g.procs; ++i) {
    const bool me = i + 1 == g.procs;
    unsigned pid = me ? static_cast<unsigned>(getpid()) : 4000001u + i;
    unsigned long long mem =
        me ? static_cast<unsigned long long>(g.proc_mb) * 1000000ULL : 7000000ULL;
    std::memset(bytes + i * entry, 0xFF, entry);  // gpuInstanceId etc.: "not applicable"
    std::memcpy(bytes + i * entry, &pid, sizeof pid);
    std::memset(bytes + i * entry + 4, 0, 4);
    std::memcpy(bytes + i * entry + 8, &mem, sizeof mem);
  }
  return 0;
}

unsigned index_of(void* d) {
  return static_cast<Device*>(d)->index;
}

}  // namespace

extern "C" {

struct nvmlMemory_t {
  unsigned long long total, free, used;
};

int nvmlInit_v2() {
  g.mode = env_or("FAKE_NVML_MODE", "energy");
  g.count = static_cast<unsigned>(std::atoi(env_or("FAKE_NVML_COUNT", "1").c_str()));
  if (g.count > 16) g.count = 16;
  g.power_w = std::atof(env_or("FAKE_NVML_POWER_W", "100").c_str());
  g.proc_mb = std::atol(env_or("FAKE_NVML_PROC_MB", "-1").c_str());
  g.procs = static_cast<unsigned>(std::atoi(env_or("FAKE_NVML_PROCS", "1").c_str()));
  if (g.procs < 1) g.procs = 1;
  g.driver = env_or("FAKE_NVML_DRIVER", "550.54.15");
  g.names = env_or("FAKE_NVML_NAMES", "");
  g.mig = static_cast<unsigned>(std::atoi(env_or("FAKE_NVML_MIG", "0").c_str()));
  if (g.mig > 8) g.mig = 8;
  g.broken = std::atoi(env_or("FAKE_NVML_BROKEN", "-1").c_str());
  g.reset_s = std::atof(env_or("FAKE_NVML_RESET_S", "-1").c_str());
  g.t0 = now();
  if (g.mode == "initfail") return 9;  // NVML_ERROR_DRIVER_NOT_LOADED
  if (g.mode == "nogpu") g.count = 0;
  return 0;
}
int nvmlShutdown() {
  return 0;
}
const char* nvmlErrorString(int r) {
  if (r == 9) return "Driver Not Loaded";
  if (r == 3) return "Not Supported";
  return r == 0 ? "Success" : "Unknown Error";
}
int nvmlDeviceGetCount_v2(unsigned* n) {
  *n = g.count;
  return 0;
}
int nvmlDeviceGetHandleByIndex_v2(unsigned i, void** dev) {
  if (i >= g.count) return 2;  // NVML_ERROR_INVALID_ARGUMENT
  *dev = &devices[i];
  return 0;
}
int nvmlSystemGetDriverVersion(char* version, unsigned len) {
  std::snprintf(version, len, "%s", g.driver.c_str());
  return 0;
}
int nvmlDeviceGetName(void* dev, char* name, unsigned len) {
  const std::string n = name_of(index_of(dev));
  if (!n.empty())
    std::snprintf(name, len, "%s", n.c_str());
  else
    std::snprintf(name, len, "Fake GPU %u", index_of(dev));
  return 0;
}
int nvmlDeviceGetUUID(void* dev, char* uuid, unsigned len) {
  if (index_of(dev) >= 100)
    std::snprintf(uuid, len, "MIG-fake-0000-%u", index_of(dev) - 100);
  else
    std::snprintf(uuid, len, "GPU-fake-%04u", index_of(dev));
  return 0;
}
int nvmlDeviceGetMaxMigDeviceCount(void* dev, unsigned* count) {
  *count = index_of(dev) == 0 ? g.mig : 0;
  return 0;
}
int nvmlDeviceGetMigDeviceHandleByIndex(void* dev, unsigned k, void** mig) {
  if (index_of(dev) != 0 || k >= g.mig) return 6;  // NVML_ERROR_NOT_FOUND
  *mig = &mig_devices[k];
  return 0;
}
int nvmlDeviceGetTotalEnergyConsumption(void* dev, unsigned long long* mj) {
  if (g.mode != "energy") return 3;                            // NVML_ERROR_NOT_SUPPORTED
  if (static_cast<int>(index_of(dev)) == g.broken) return 15;  // NVML_ERROR_GPU_IS_LOST
  double w = g.power_w * (index_of(dev) + 1);
  const double t = now() - g.t0;
  if (g.reset_s >= 0 && t >= g.reset_s)
    *mj = static_cast<unsigned long long>(w * (t - g.reset_s) * 1000.0);  // restarted from 0
  else
    *mj = 1000000ULL + static_cast<unsigned long long>(w * t * 1000.0);
  return 0;
}
int nvmlDeviceGetPowerUsage(void* dev, unsigned* mw) {
  if (static_cast<int>(index_of(dev)) == g.broken) return 15;
  *mw = static_cast<unsigned>(g.power_w * (index_of(dev) + 1) * 1000.0);
  return 0;
}
int nvmlDeviceGetMemoryInfo(void*, nvmlMemory_t* m) {
  m->total = 80ULL << 30;
  m->used = 1ULL << 30;
  m->free = m->total - m->used;
  return 0;
}
int nvmlDeviceGetComputeRunningProcesses_v3(void*, unsigned* count, void* infos) {
  return write_procs(count, infos, driver_writes_32_byte_v3() ? 32 : 24);
}
#ifndef FAKE_NVML_NO_V2
int nvmlDeviceGetComputeRunningProcesses_v2(void*, unsigned* count, void* infos) {
  return write_procs(count, infos, 24);
}
#endif

}  // extern "C"
