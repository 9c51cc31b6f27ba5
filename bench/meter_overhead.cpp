// The sampler's own CPU cost, as a percentage of one core, beside the sampling interval.
// Target: below 0.5 % of one core at the default 100 ms interval.
//
//   bench_meter_overhead [SECONDS_PER_RUN]   (default 5)
//
// For each configuration the Tracker runs for SECONDS while the main thread sleeps. The sampler
// thread measures its own CPU time (CLOCK_THREAD_CPUTIME_ID, read inside the thread); the
// process CPU time over the same window (getrusage) is printed beside it as a cross-check.
// Configurations: the sensors of this machine (the estimate when it has none), a fake powercap
// tree with two packages and DRAM (RAPL file reads), the fake NVML when the tests built it, and
// tracking a child process (what `pepr track` does).
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "meter/carbon.hpp"
#include "meter/tracker.hpp"

namespace fs = std::filesystem;
using pepr::meter::Tracker;
using pepr::meter::TrackerOptions;

namespace {

double process_cpu_s() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 + ru.ru_stime.tv_sec +
         ru.ru_stime.tv_usec * 1e-6;
}

void zone(const fs::path& root, const std::string& z, const std::string& name) {
  fs::create_directories(root / z);
  std::ofstream(root / z / "name") << name << "\n";
  std::ofstream(root / z / "energy_uj") << "123456789\n";
  std::ofstream(root / z / "max_energy_range_uj") << "262143328850\n";
}

struct Config {
  std::string name;
  std::string powercap_root;  // empty: this machine
  std::string nvml;           // empty: this machine's
  bool perf = true;
  bool child = false;
  int workers = 0;  // the child touches `child_mb` MB and forks this many workers sharing it
  std::size_t child_mb = 0;
};

bool g_target_met = true;

void run(const Config& c, double interval, double seconds) {
  if (!c.perf) setenv("PEPR_PERF", "0", 1);
  TrackerOptions o;
  o.interval_s = interval;
  o.powercap_root = c.powercap_root;
  o.nvml_lib = c.nvml;
  Tracker t(o);
  pid_t child = 0;
  if (c.child) {
    child = fork();
    if (child == 0) {
      setpgid(0, 0);
      if (c.workers > 0) {
        // A parent with forked workers (a data loader): the tree's memory is read as PSS.
        std::vector<char> block(c.child_mb << 20);
        std::memset(block.data(), 1, block.size());
        for (int i = 0; i < c.workers; ++i)
          if (fork() == 0) {
            pause();
            _exit(0);
          }
        pause();
        _exit(0);
      }
      execlp("sleep", "sleep", "3600", static_cast<char*>(nullptr));
      _exit(127);
    }
    t.set_target(child);
    if (c.workers > 0) std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  const double p0 = process_cpu_s();
  t.start();
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  const double sampler = t.sampler_cpu_s();
  const std::size_t samples = t.sample_count();
  const double p1 = process_cpu_s();
  t.stop();
  if (child > 0) {
    kill(-child, SIGKILL);  // its process group: the child and its workers
    kill(child, SIGKILL);
    waitpid(child, nullptr, 0);
  }
  unsetenv("PEPR_PERF");
  const double pct = 100.0 * sampler / seconds;
  const double ppct = 100.0 * (p1 - p0) / seconds;
  const bool at_default = std::abs(interval - 0.1) < 1e-9;
  if (at_default && pct >= 0.5) g_target_met = false;
  fmt::print("{:<34} {:>8.0f} ms {:>8} {:>12.2f} us {:>10.3f} % {:>10.3f} %  [{}]{}\n", c.name,
             t.interval_s() * 1e3, samples, samples ? sampler / samples * 1e6 : 0.0, pct, ppct,
             t.energy_method(), at_default ? (pct < 0.5 ? "  target met" : "  ABOVE TARGET") : "");
}

}  // namespace

int main(int argc, char** argv) {
  const double seconds = argc > 1 ? std::atof(argv[1]) : 5.0;
  fs::path tree = fs::temp_directory_path() / fmt::format("pepr-bench-powercap-{}", getpid());
  zone(tree, "intel-rapl:0", "package-0");
  zone(tree, "intel-rapl:0:0", "core");
  zone(tree, "intel-rapl:0:1", "dram");
  zone(tree, "intel-rapl:1", "package-1");
  zone(tree, "intel-rapl:1:0", "dram");

  std::vector<Config> configs = {
      {"this machine, this process", "", "", true, false},
      {"this machine, child process", "", "", true, true},
      {"child + 4 workers, 512 MB shared", "", "", true, true, 4, 512},
      {"fake RAPL 2 pkg + DRAM (5 files)", tree.string(), "", false, false},
  };
#ifdef PEPR_FAKE_NVML_PATH
  setenv("FAKE_NVML_MODE", "power", 1);
  setenv("FAKE_NVML_COUNT", "4", 1);
  configs.push_back(
      {"fake RAPL + fake NVML 4 GPUs (power)", tree.string(), PEPR_FAKE_NVML_PATH, false, false});
#endif
  fmt::print("pepr meter sampler overhead: {:g} s per run, {} CPUs\n", seconds,
             std::thread::hardware_concurrency());
  fmt::print("{:<34} {:>11} {:>8} {:>15} {:>12} {:>12}\n", "configuration", "interval", "samples",
             "CPU per sample", "sampler/core", "process/core");
  for (const auto& c : configs)
    for (double interval : {0.01, 0.1, 1.0}) run(c, interval, seconds);
  fs::remove_all(tree);
  fmt::print("target (< 0.5 % of one core at 100 ms): {}\n", g_target_met ? "met" : "NOT MET");
  fmt::print(
      "peer: no Python tracker (CodeCarbon, carbontracker) is installed here, so none is "
      "compared in this run\n");
  return 0;
}
