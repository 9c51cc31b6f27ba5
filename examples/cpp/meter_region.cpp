// Meters a region of code with pepr's Tracker: energy (RAPL, perf, NVML or an estimate, as this
// machine allows), CO2eq, peak memory and time of a small matrix product loop.
//   meter_region [SECONDS]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include <pepr/tracker.hpp>

int main(int argc, char** argv) {
  const double seconds = argc > 1 ? std::atof(argv[1]) : 1.0;
  pepr::TrackerOptions options;
  options.interval_s = 0.05;
  pepr::Tracker tracker(options);
  tracker.start();
  // The metered work: multiply 128 x 128 matrices until `seconds` have passed.
  const int n = 128;
  std::vector<double> a(n * n, 1.0), b(n * n, 0.5), c(n * n, 0.0);
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  long products = 0;
  while (std::chrono::steady_clock::now() < end) {
    for (int i = 0; i < n; ++i)
      for (int k = 0; k < n; ++k)
        for (int j = 0; j < n; ++j) c[i * n + j] += a[i * n + k] * b[k * n + j];
    ++products;
  }
  pepr::IntervalRecord r = tracker.stop();
  std::printf("products %ld (c[0] = %g)\n", products, c[0]);
  std::printf("wall %.3f s, cpu %.3f s, energy %.3g kWh (%s), co2 %.3g g, peak memory %.3f GB\n",
              r.wall_s, r.cpu_s, r.energy_kwh, tracker.energy_method().c_str(), r.co2_g,
              r.mem_peak_gb);
  return r.wall_s > 0 && r.energy_kwh > 0 ? 0 : 1;
}
