// LibTorch's types that pepr's LibTorch-free headers name, declared without including LibTorch
// (a translation unit that uses them includes <torch/torch.h>).
#pragma once

namespace at {
class Tensor;
}
namespace torch::optim {
class Optimizer;
}
