// Test helper: small results tables made here, in pepr's own column layout.
#pragma once

#include <cmath>
#include <string>
#include <vector>

#include <fmt/format.h>

namespace pepr::test {

// A results table as `pepr collect` writes it (the paper's columns and a few of pepr's), with
// `models` models in each experiment; every value is deterministic.
inline std::string synthetic_results(const std::vector<std::string>& experiments, int models = 8) {
  std::string csv =
      "model,num_param,energy,co2,train_time,memR,test_00,test_01,test_02,type,efficient,"
      "dataset,run_id,energy_method\n";
  for (std::size_t e = 0; e < experiments.size(); ++e)
    for (int m = 0; m < models; ++m) {
      double params = 1e6 * std::pow(m + 1, 1.7);
      double energy = 0.001 * (m + 1) * (1 + 0.3 * static_cast<double>(e)) + 0.0001 * ((m * 7) % 5);
      double base =
          std::min(0.95, 0.5 + 0.04 * m - 0.02 * static_cast<double>(e) + 0.01 * ((m * 3) % 4));
      csv += fmt::format("m{},{},{},{},{},{},{},{},{},{},{},{},{}-m{},{}\n", m, params, energy,
                         energy * 120, 10.0 * (m + 1) + static_cast<double>(e), 1 + 0.5 * m,
                         base - 0.1, base - 0.03, base, m % 3 == 0 ? "Other" : "CNN", m % 2,
                         experiments[e], experiments[e], m, m % 2 ? "rapl" : "estimate");
    }
  return csv;
}

}  // namespace pepr::test
