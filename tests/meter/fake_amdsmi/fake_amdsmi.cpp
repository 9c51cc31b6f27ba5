// A fake amdsmi (libamd_smi.so) for the test suite, loaded by pepr through PEPR_AMDSMI_LIB.
// Behaviour from the environment, read at amdsmi_init:
//   FAKE_AMDSMI_MODE     initfail (amdsmi_init fails), nogpu (no GPU), noperm (every reading is
//                        refused with AMDSMI_STATUS_NO_PERM); default: GPUs that answer
//   FAKE_AMDSMI_GPUS     comma-separated kinds, one per GPU: counter (an energy counter and
//                        power) or power (power only); default "counter"
//   FAKE_AMDSMI_POWER_W  every GPU's socket power in W (default 100)
//   FAKE_AMDSMI_COUNT    every energy counter's value (default 1000000)
//   FAKE_AMDSMI_RES      the counter's resolution in uJ (default 15.3)
//   FAKE_AMDSMI_LAYOUT   old: amdsmi_power_info_t as earlier libraries wrote it ({uint32_t
//                        current_socket_power; uint32_t average_socket_power; ...}); default the
//                        current one ({uint64_t socket_power; uint32_t current; uint32_t average})
// Tests script the readings through fake_amdsmi_set_count / _set_power / _set_resolution (found
// with dlsym on the library pepr loaded): the values stay until set again.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

constexpr int kSuccess = 0, kInval = 1, kNotSupported = 2, kNoPerm = 10, kInitError = 18;
constexpr unsigned kMaxGpus = 16;

struct Gpu {
  unsigned index = 0;
  bool counter = true;
  std::uint64_t count = 1000000;
  std::uint64_t watts = 100;
};

struct State {
  std::string mode;
  bool old_layout = false;
  float resolution = 15.3f;
  unsigned count = 1;
  Gpu gpus[kMaxGpus];
  int socket = 0;  // the one socket's handle points here
} g;

std::string env_or(const char* name, const char* def) {
  const char* v = std::getenv(name);
  return v && *v ? v : def;
}

Gpu* gpu_of(void* h) {
  for (auto& gpu : g.gpus)
    if (&gpu == h) return &gpu;
  return nullptr;
}

}  // namespace

extern "C" {

int amdsmi_init(std::uint64_t flags) {
  if (!(flags & 2)) return kInval;  // pepr asks for AMD GPUs
  g.mode = env_or("FAKE_AMDSMI_MODE", "");
  g.old_layout = env_or("FAKE_AMDSMI_LAYOUT", "") == "old";
  g.resolution = std::strtof(env_or("FAKE_AMDSMI_RES", "15.3").c_str(), nullptr);
  const std::string kinds = env_or("FAKE_AMDSMI_GPUS", "counter") + ",";
  g.count = 0;
  for (std::size_t start = 0, comma;
       (comma = kinds.find(',', start)) != std::string::npos && g.count < kMaxGpus;
       start = comma + 1) {
    Gpu& gpu = g.gpus[g.count];
    gpu.index = g.count++;
    gpu.counter = kinds.substr(start, comma - start) != "power";
    gpu.count = std::strtoull(env_or("FAKE_AMDSMI_COUNT", "1000000").c_str(), nullptr, 10);
    gpu.watts = std::strtoull(env_or("FAKE_AMDSMI_POWER_W", "100").c_str(), nullptr, 10);
  }
  if (g.mode == "initfail") return kInitError;
  if (g.mode == "nogpu") g.count = 0;
  return kSuccess;
}

int amdsmi_shut_down() {
  return kSuccess;
}

int amdsmi_status_code_to_string(int status, const char** text) {
  switch (status) {
    case kSuccess:
      *text = "AMDSMI_STATUS_SUCCESS: Call succeeded";
      break;
    case kNotSupported:
      *text = "AMDSMI_STATUS_NOT_SUPPORTED: Feature not supported";
      break;
    case kNoPerm:
      *text = "AMDSMI_STATUS_NO_PERM: Permission Denied";
      break;
    case kInitError:
      *text = "AMDSMI_STATUS_INIT_ERROR: Initialization error";
      break;
    default:
      return kInval;
  }
  return kSuccess;
}

int amdsmi_get_socket_handles(std::uint32_t* count, void** handles) {
  if (handles && *count >= 1) handles[0] = &g.socket;
  *count = 1;
  return kSuccess;
}

int amdsmi_get_processor_handles(void* socket, std::uint32_t* count, void** handles) {
  if (socket != &g.socket) return kInval;
  const std::uint32_t n = *count < g.count ? *count : g.count;
  if (handles)
    for (std::uint32_t i = 0; i < n; ++i) handles[i] = &g.gpus[i];
  *count = g.count;
  return kSuccess;
}

int amdsmi_get_gpu_asic_info(void* h, void* info) {
  Gpu* gpu = gpu_of(h);
  if (!gpu) return kInval;
  const std::string name = "Fake AMD GPU " + std::to_string(gpu->index);
  std::memcpy(info, name.c_str(), name.size() + 1);  // market_name, the first member
  return kSuccess;
}

int amdsmi_get_energy_count(void* h, std::uint64_t* energy, float* resolution,
                            std::uint64_t* timestamp) {
  Gpu* gpu = gpu_of(h);
  if (!gpu || !energy || !resolution || !timestamp) return kInval;
  if (g.mode == "noperm") return kNoPerm;
  if (!gpu->counter) return kNotSupported;
  *energy = gpu->count;
  *resolution = g.resolution;
  *timestamp = 0;
  return kSuccess;
}

int amdsmi_get_power_info(void* h, void* info) {
  Gpu* gpu = gpu_of(h);
  if (!gpu || !info) return kInval;
  if (g.mode == "noperm") return kNoPerm;
  auto* bytes = static_cast<unsigned char*>(info);
  const std::uint32_t w = static_cast<std::uint32_t>(gpu->watts), none = 0xFFFFFFFFu, mv = 850;
  if (g.old_layout) {
    std::memcpy(bytes, &none, 4);    // current_socket_power: not supported (Navi, MI200)
    std::memcpy(bytes + 4, &w, 4);   // average_socket_power
    std::memcpy(bytes + 8, &mv, 4);  // gfx_voltage
    return kSuccess;
  }
  std::memcpy(bytes, &gpu->watts, 8);  // socket_power
  std::memcpy(bytes + 8, &none, 4);    // current_socket_power: not supported
  std::memcpy(bytes + 12, &w, 4);      // average_socket_power
  return kSuccess;
}

// Test controls.
void fake_amdsmi_set_count(unsigned gpu, std::uint64_t count) {
  if (gpu < kMaxGpus) g.gpus[gpu].count = count;
}
void fake_amdsmi_set_power(unsigned gpu, std::uint64_t watts) {
  if (gpu < kMaxGpus) g.gpus[gpu].watts = watts;
}
void fake_amdsmi_set_resolution(float uj) {
  g.resolution = uj;
}

}  // extern "C"
