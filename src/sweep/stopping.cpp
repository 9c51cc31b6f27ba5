#include "sweep/stopping.hpp"

#include <algorithm>
#include <cstddef>

#include <fmt/format.h>

namespace pepr::sweep {

bool should_stop_pepr(const std::vector<double>& test_acc, const std::vector<double>& cum_energy,
                      double ref_energy, int patience) {
  if (patience <= 0 || test_acc.empty() || test_acc.size() != cum_energy.size()) return false;
  std::size_t best = 0;
  double best_v = -1;
  for (std::size_t k = 0; k < test_acc.size(); ++k) {
    double r = ref_energy > 0 ? cum_energy[k] / ref_energy : 0.0;
    double v = test_acc[k] / (1.0 + r);
    if (v > best_v) best_v = v, best = k;
  }
  return test_acc.size() - 1 - best >= static_cast<std::size_t>(patience);
}

BudgetPrediction predict_after_first_epoch(double epoch1_energy_kwh, double epoch1_time_s,
                                           int epochs, double steady_fraction) {
  const double f = 1.0 + (epochs - 1) * std::clamp(steady_fraction, 0.0, 1.0);
  return {epoch1_energy_kwh * f, epoch1_time_s * f};
}

double steady_train_seconds(const std::vector<double>& step_s,
                            const std::vector<int64_t>& step_images, int64_t batch_size) {
  std::vector<double> full;
  double images = 0, total = 0;
  for (std::size_t i = 0; i < step_s.size() && i < step_images.size(); ++i) {
    images += static_cast<double>(step_images[i]);
    total += step_s[i];
    if (i > 0 && step_images[i] == batch_size) full.push_back(step_s[i]);
  }
  if (full.empty() || batch_size <= 0) return total;
  const auto mid = full.begin() + static_cast<std::ptrdiff_t>(full.size() / 2);
  std::nth_element(full.begin(), mid, full.end());
  double median = *mid;
  if (full.size() % 2 == 0) median = (median + *std::max_element(full.begin(), mid)) / 2;
  return median * images / static_cast<double>(batch_size);
}

double epoch1_steady_fraction(const Epoch1Timing& t) {
  if (!(t.train_s > 0) || !(t.wall_s > 0)) return 1.0;
  double steps_s = 0;
  for (double s : t.step_s) steps_s += s;
  const double train_steady = steady_train_seconds(t.step_s, t.step_images, t.batch_size) +
                              std::max(0.0, t.train_s - steps_s);  // after the last step
  const double eval_steady = t.test_n > 0 ? t.test_s * static_cast<double>(t.val_n + t.test_n) /
                                                static_cast<double>(t.test_n)
                                          : t.val_s + t.test_s;
  const double other = std::max(0.0, t.wall_s - t.train_s - t.val_s - t.test_s);
  return std::clamp((train_steady + eval_steady + other) / t.wall_s, 0.05, 1.0);
}

std::optional<double> relative_error(double predicted, double actual) {
  if (!(actual > 0)) return std::nullopt;
  return (predicted - actual) / actual;
}

std::string budget_stop_reason(const BudgetPrediction& p, double max_energy_wh, double max_time_s) {
  if (max_energy_wh >= 0 && p.energy_kwh * 1000 > max_energy_wh)
    return fmt::format("max-energy-wh: predicted {:.4g} Wh > {:.4g} Wh", p.energy_kwh * 1000,
                       max_energy_wh);
  if (max_time_s >= 0 && p.time_s > max_time_s)
    return fmt::format("max-time-s: predicted {:.4g} s > {:.4g} s", p.time_s, max_time_s);
  return "";
}

}  // namespace pepr::sweep
