// Budget prediction and PePR-aware early stopping: pure functions shared by `pepr bench`, the
// paper simulation in bench/early_stopping_paper.cpp and the trainers.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace pepr::sweep {

// PePR-aware early stopping. test_acc[k] and cum_energy[k] are the test accuracy and the
// cumulative energy after epoch k+1. R_k = cum_energy[k] / ref_energy, where ref_energy is the
// run's predicted total energy after its first epoch (epoch-1 energy x planned epochs), and
// PePR_k = test_acc[k] / (1 + R_k). True when the last `patience` epochs all come after the
// curve's maximum so far (ties go to the earlier epoch): PePR has not reached a new maximum for
// `patience` epochs. Off (false) when patience <= 0. The same rule as pepr::train's.
bool should_stop_pepr(const std::vector<double>& test_acc, const std::vector<double>& cum_energy,
                      double ref_energy, int patience);

// The prediction made after epoch 1. The first epoch carries one-off start-up costs; where the
// trainer measured which share of epoch 1 ran at the steady rate (`steady_fraction`, in (0, 1];
// epoch1_steady_fraction), the later epochs are predicted at that
// rate: total = epoch1 x (1 + (epochs - 1) x steady_fraction). With 1 (nothing known) it is the
// first epoch's value times the planned epochs, which over-predicts and so errs on the side of a
// budget.
struct BudgetPrediction {
  double energy_kwh = 0;
  double time_s = 0;
};
BudgetPrediction predict_after_first_epoch(double epoch1_energy_kwh, double epoch1_time_s,
                                           int epochs, double steady_fraction = 1.0);

// The time epoch 1's training steps would have taken at the steady rate: the median time of the
// full batches after the first step (the first step, and a partial last batch whose new shape
// costs kernel selection and allocation once, carry one-off costs) per image, times all the
// images. `step_s[i]` is step i's time (data wait included), `step_images[i]` its images. With
// no full batch after the first, the measured sum (nothing to separate).
double steady_train_seconds(const std::vector<double>& step_s,
                            const std::vector<int64_t>& step_images, int64_t batch_size);

// What the trainer measured in epoch 1, for the steady fraction.
struct Epoch1Timing {
  std::vector<double> step_s;        // each training step's time (data wait included)
  std::vector<int64_t> step_images;  // each step's images
  int64_t batch_size = 0;
  double train_s = 0;  // the whole training pass (the steps and what follows the last one)
  double val_s = 0, test_s = 0;
  int64_t val_n = 0, test_n = 0;  // evaluation images
  double wall_s = 0;              // the epoch's metered interval
};
// The share of epoch 1 that later epochs repeat: training at the steady step rate, evaluation at
// the rate of the test pass (the val pass before it warms evaluation up), the rest as measured;
// over the epoch's wall time, clamped to [0.05, 1]. 1 when nothing was measured.
double epoch1_steady_fraction(const Epoch1Timing& t);

// The relative error of a prediction: (predicted - actual) / actual; nullopt when actual <= 0.
std::optional<double> relative_error(double predicted, double actual);

// The reason to stop after epoch 1 under the budgets (a negative budget is off), or "" to go on:
// "max-energy-wh: predicted 12.3 Wh > 10 Wh".
std::string budget_stop_reason(const BudgetPrediction& p, double max_energy_wh, double max_time_s);

}  // namespace pepr::sweep
