#include "sweep/default_plan.hpp"

#include <fmt/format.h>

namespace pepr::sweep {

std::string default_plan_toml() {
  std::string names;
  for (auto m : kDefaultModels) names += fmt::format("{}\"{}\"", names.empty() ? "" : ", ", m);
  return fmt::format(
      R"(# pepr's default sweep: small native models trained from scratch on synthetic data
# (`pepr data synth`: 800 train / 200 val / 200 test images, 28x28, 4 classes), on all and on
# 10 % of the training data, 3 epochs each.
[sweep]
name = "default"
epochs = 3
lr = 1e-3
batch_size = 32
optimizer = "adam"
device = "cpu"
threads = 2
seeds = [0]
train_fractions = [1.0, 0.1]
regimes = ["scratch"]

[models]
names = [{}]

[[datasets]]
name = "synth"
synth = true
)",
      names);
}

}  // namespace pepr::sweep
