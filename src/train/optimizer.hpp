// The optimizer the training engine builds from a TrainConfig (optimizer, lr, momentum,
// weight_decay). Its own header so that tests can build exactly the engine's optimizer
// (tests/models/test_train_equivalence.cpp compares its steps with PyTorch's). Declares LibTorch's
// types without including LibTorch; the caller includes <torch/torch.h> to use the result.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "run/modes.hpp"
#include "train/torch_fwd.hpp"

namespace pepr::train {

struct TrainConfig;

// How a step updates the parameters. `single`: LibTorch's torch::optim::Adam / SGD, about 7
// kernels per parameter tensor (Adam; resnet18 has 62 tensors: about 430 launches a step).
// `foreach`: the same arithmetic, in the same order, on whole lists of tensors with ATen's
// _foreach_* operators (on CUDA a few multi-tensor kernels a step; on CPU a loop inside ATen, as
// PyTorch's foreach=True). `fused`: ATen's _fused_adam_ / _fused_sgd_, one kernel over all tensors
// (PyTorch's fused=True; rounding differs from the others in the last bits). `automatic` is
// fused where the LibTorch has a fused kernel for the optimizer and the parameters' device (on
// the CPU for Adam only: CPU-fused SGD was slower, bench/README.md), and foreach otherwise.
enum class OptimizerKernels { automatic, single, foreach, fused };

std::string_view kernels_name(OptimizerKernels kernels);

// Whether this LibTorch has a fused kernel of `optimizer` for CUDA or the CPU
// (asked of ATen's dispatcher: LibTorch 1.13 has _fused_adam_ for CUDA only, 2.4 and later for
// both, and _fused_sgd_ from 2.3 on).
bool has_fused_kernel(run::Optimizer optimizer, bool cuda);

struct MadeOptimizer {
  std::unique_ptr<torch::optim::Optimizer> optimizer;
  OptimizerKernels kernels = OptimizerKernels::single;  // what it uses (never automatic)
};

// Adam with lr and weight_decay (LibTorch's defaults otherwise: betas 0.9, 0.999, eps 1e-8, no
// amsgrad), or SGD with lr, momentum and weight_decay (dampening 0, no Nesterov).
// The result is a torch::optim::Adam or SGD (its options, param groups and per-parameter state
// are LibTorch's: AdamParamState, SGDParamState) whose step() uses `kernels`. `fused` where
// has_fused_kernel is false throws pepr::Error.
MadeOptimizer make_optimizer(const TrainConfig& cfg, const std::vector<at::Tensor>& params,
                             OptimizerKernels kernels = OptimizerKernels::automatic);

}  // namespace pepr::train
