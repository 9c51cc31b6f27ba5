// The optimizer the training engine builds from a TrainConfig (optimizer, lr, momentum,
// weight_decay). Its own header so that tests can build exactly the engine's optimizer
// (tests/models/test_train_equivalence.cpp compares its steps with PyTorch's). Declares LibTorch's
// types without including LibTorch; the caller includes <torch/torch.h> to use the result.
#pragma once

#include <memory>
#include <vector>

namespace at {
class Tensor;
}
namespace torch::optim {
class Optimizer;
}

namespace pepr::train {

struct TrainConfig;

// "adam": torch::optim::Adam with lr and weight_decay (LibTorch's defaults otherwise: betas 0.9,
// 0.999, eps 1e-8, no amsgrad); "sgd": torch::optim::SGD with lr, momentum and weight_decay
// (dampening 0, no Nesterov). Any other name is rejected before this is called (engine.cpp).
std::unique_ptr<torch::optim::Optimizer> make_optimizer(const TrainConfig& cfg,
                                                        const std::vector<at::Tensor>& params);

}  // namespace pepr::train
