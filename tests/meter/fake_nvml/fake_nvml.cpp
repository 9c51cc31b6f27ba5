// A fake NVML for the test suite, loaded by pepr through PEPR_NVML_LIB. Behaviour from the
// environment, read at nvmlInit:
//   FAKE_NVML_MODE     energy (default: total-energy counter), power (power readings only),
//                      nogpu (no device), initfail (nvmlInit fails)
//   FAKE_NVML_COUNT    number of GPUs (default 1)
//   FAKE_NVML_POWER_W  power of GPU 0 in W (default 100); GPU i draws (i + 1) x this
//   FAKE_NVML_PROC_MB  if set, the calling process is listed on every GPU with this much memory
// The energy counter grows with real time: 1e6 mJ + power x time since nvmlInit.
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
  unsigned index;
};
Device devices[16] = {{0}, {1}, {2},  {3},  {4},  {5},  {6},  {7},
                      {8}, {9}, {10}, {11}, {12}, {13}, {14}, {15}};

unsigned index_of(void* d) {
  return static_cast<Device*>(d)->index;
}

}  // namespace

extern "C" {

struct nvmlMemory_t {
  unsigned long long total, free, used;
};
struct nvmlProcessInfo_t {
  unsigned int pid;
  unsigned long long usedGpuMemory;
  unsigned int gpuInstanceId;
  unsigned int computeInstanceId;
};

int nvmlInit_v2() {
  g.mode = env_or("FAKE_NVML_MODE", "energy");
  g.count = static_cast<unsigned>(std::atoi(env_or("FAKE_NVML_COUNT", "1").c_str()));
  if (g.count > 16) g.count = 16;
  g.power_w = std::atof(env_or("FAKE_NVML_POWER_W", "100").c_str());
  g.proc_mb = std::atol(env_or("FAKE_NVML_PROC_MB", "-1").c_str());
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
int nvmlDeviceGetName(void* dev, char* name, unsigned len) {
  std::snprintf(name, len, "Fake GPU %u", index_of(dev));
  return 0;
}
int nvmlDeviceGetUUID(void* dev, char* uuid, unsigned len) {
  std::snprintf(uuid, len, "GPU-fake-%04u", index_of(dev));
  return 0;
}
int nvmlDeviceGetTotalEnergyConsumption(void* dev, unsigned long long* mj) {
  if (g.mode != "energy") return 3;  // NVML_ERROR_NOT_SUPPORTED
  double w = g.power_w * (index_of(dev) + 1);
  *mj = 1000000ULL + static_cast<unsigned long long>(w * (now() - g.t0) * 1000.0);
  return 0;
}
int nvmlDeviceGetPowerUsage(void* dev, unsigned* mw) {
  *mw = static_cast<unsigned>(g.power_w * (index_of(dev) + 1) * 1000.0);
  return 0;
}
int nvmlDeviceGetMemoryInfo(void*, nvmlMemory_t* m) {
  m->total = 80ULL << 30;
  m->used = 1ULL << 30;
  m->free = m->total - m->used;
  return 0;
}
int nvmlDeviceGetComputeRunningProcesses_v3(void*, unsigned* count, nvmlProcessInfo_t* infos) {
  if (g.proc_mb < 0) {
    *count = 0;
    return 0;
  }
  if (*count < 1) {
    *count = 1;
    return 7;  // NVML_ERROR_INSUFFICIENT_SIZE
  }
  *count = 1;
  infos[0].pid = static_cast<unsigned>(getpid());
  infos[0].usedGpuMemory = static_cast<unsigned long long>(g.proc_mb) * 1000000ULL;
  infos[0].gpuInstanceId = infos[0].computeInstanceId = 0xFFFFFFFFu;
  return 0;
}

}  // extern "C"
