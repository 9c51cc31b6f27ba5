#include "train/optimizer.hpp"

#include <torch/torch.h>

#include "train/engine.hpp"

namespace pepr::train {

std::unique_ptr<torch::optim::Optimizer> make_optimizer(const TrainConfig& cfg,
                                                        const std::vector<at::Tensor>& params) {
  if (cfg.optimizer == "adam")
    return std::make_unique<torch::optim::Adam>(
        params, torch::optim::AdamOptions(cfg.lr).weight_decay(cfg.weight_decay));
  return std::make_unique<torch::optim::SGD>(
      params,
      torch::optim::SGDOptions(cfg.lr).momentum(cfg.momentum).weight_decay(cfg.weight_decay));
}

}  // namespace pepr::train
