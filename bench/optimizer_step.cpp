// The optimizer's kernels (train/optimizer.hpp) on the CPU: the time of optimizer.step() alone
// and of a whole training step (forward, backward, step) for resnet18 and mobilenetv2_050 at
// 28 px, batch 32, float32, with each kernel path this LibTorch has. The peer is `single`,
// LibTorch's own torch::optim::Adam / SGD (what pepr used before). Paths alternate in rounds;
// each figure is the median over rounds of the mean step time in a round.
//
// Usage: bench_optimizer_step [ROUNDS (default 5)] [STEPS per round (default 20)]
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <torch/torch.h>

#include "models/model.hpp"
#include "models/registry.hpp"
#include "train/engine.hpp"
#include "train/optimizer.hpp"

namespace {

using pepr::train::OptimizerKernels;
using Clock = std::chrono::steady_clock;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const int rounds = argc > 1 ? std::max(1, std::atoi(argv[1])) : 5;
  const int steps = argc > 2 ? std::max(1, std::atoi(argv[2])) : 20;
  torch::set_num_threads(2);
  fmt::print("optimizer kernels on the CPU: LibTorch {}, {} threads, {} rounds x {} steps\n",
             TORCH_VERSION, torch::get_num_threads(), rounds, steps);
  fmt::print("{:<16} {:<5} {:<8} {:>12} {:>10} {:>14} {:>10}\n", "model", "opt", "kernels",
             "step() ms", "vs single", "train step ms", "vs single");
  for (const std::string model : {"resnet18", "mobilenetv2_050"}) {
    for (const auto optimizer : {pepr::run::Optimizer::adam, pepr::run::Optimizer::sgd}) {
      std::vector<OptimizerKernels> paths = {OptimizerKernels::single, OptimizerKernels::foreach};
      if (pepr::train::has_fused_kernel(optimizer, false)) paths.push_back(OptimizerKernels::fused);
      std::map<OptimizerKernels, std::vector<double>> step_ms, train_ms;
      torch::manual_seed(0);
      const auto x = torch::randn({32, 3, 28, 28});
      const auto y = torch::randint(0, 7, {32});
      for (int r = 0; r < rounds; ++r)
        for (const auto kernels : paths) {
          pepr::models::ModelOptions mo;
          mo.num_classes = 7;
          auto net = pepr::models::create_model(model, mo);
          net->train(true);
          pepr::train::TrainConfig cfg;
          cfg.optimizer = optimizer;
          cfg.lr = 5e-4;
          cfg.momentum = optimizer == pepr::run::Optimizer::sgd ? 0.9 : 0.0;
          auto opt = pepr::train::make_optimizer(cfg, net->parameters(), kernels).optimizer;
          double in_step = 0, total = 0;
          for (int k = 0; k < steps + 2; ++k) {  // 2 warm-up steps (state, allocator)
            const auto t0 = Clock::now();
            opt->zero_grad();
            auto loss = torch::nn::functional::cross_entropy(net->forward(x), y);
            loss.backward();
            const auto t1 = Clock::now();
            opt->step();
            const auto t2 = Clock::now();
            if (k < 2) continue;
            in_step += std::chrono::duration<double, std::milli>(t2 - t1).count();
            total += std::chrono::duration<double, std::milli>(t2 - t0).count();
          }
          step_ms[kernels].push_back(in_step / steps);
          train_ms[kernels].push_back(total / steps);
        }
      const double base_step = median(step_ms[OptimizerKernels::single]);
      const double base_train = median(train_ms[OptimizerKernels::single]);
      for (const auto kernels : paths) {
        const double s = median(step_ms[kernels]), t = median(train_ms[kernels]);
        fmt::print("{:<16} {:<5} {:<8} {:>12.2f} {:>9.2f}x {:>14.1f} {:>9.2f}x\n", model,
                   pepr::run::name(optimizer), pepr::train::kernels_name(kernels), s, base_step / s,
                   t, base_train / t);
      }
    }
  }
  fmt::print("(vs single: LibTorch's own optimizer's time over this path's; above 1 is faster)\n");
  return 0;
}
