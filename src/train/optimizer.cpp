#include "train/optimizer.hpp"

#include <cmath>
#include <map>
#include <sstream>
#include <tuple>
#include <type_traits>

#include <ATen/core/dispatch/Dispatcher.h>
#include <fmt/format.h>
#include <torch/torch.h>
#if __has_include(<ATen/ops/_fused_sgd.h>)
#define PEPR_HAS_FUSED_SGD 1
#endif

#include "core/error.hpp"
#include "train/engine.hpp"

namespace pepr::train {

std::string_view kernels_name(OptimizerKernels kernels) {
  switch (kernels) {
    case OptimizerKernels::automatic:
      return "automatic";
    case OptimizerKernels::single:
      return "single";
    case OptimizerKernels::foreach:
      return "foreach";
    case OptimizerKernels::fused:
      return "fused";
  }
  return "?";
}

bool has_fused_kernel(run::Optimizer optimizer, bool cuda) {
  const bool adam = optimizer == run::Optimizer::adam;
  const char* op = adam ? "aten::_fused_adam_" : "aten::_fused_sgd_";
#ifndef PEPR_HAS_FUSED_SGD
  if (!adam) return false;  // the operator may be registered; these headers cannot call it
#endif
  const auto handle = c10::Dispatcher::singleton().findOp({op, ""});
  return handle.has_value() &&
         handle->hasKernelForDispatchKey(cuda ? c10::DispatchKey::CUDA : c10::DispatchKey::CPU);
}

namespace {

// The parameters of one group that have gradients, split by device and dtype (a fused kernel,
// and a foreach operator's fast path, take tensors of one device and dtype), in parameter order.
std::vector<std::vector<torch::Tensor>> with_grads_by_device_and_dtype(
    const std::vector<torch::Tensor>& params) {
  std::map<std::tuple<int, int, int>, std::vector<torch::Tensor>> split;
  for (const auto& p : params) {
    if (!p.grad().defined()) continue;
    const auto key =
        std::make_tuple(static_cast<int>(p.device().type()), static_cast<int>(p.device().index()),
                        static_cast<int>(p.scalar_type()));
    split[key].push_back(p);
  }
  std::vector<std::vector<torch::Tensor>> out;
  for (auto& [key, ps] : split) out.push_back(std::move(ps));
  return out;
}

// torch::optim::Optimizer::state_ is keyed by the parameter's TensorImpl: a void* from LibTorch
// 2.0 on, its address printed to a string before (c10::guts::to_string, gone in 2.x).
template <typename Map>
typename Map::key_type state_key(const Map&, const torch::Tensor& p) {
  if constexpr (std::is_same_v<typename Map::key_type, void*>) {
    return p.unsafeGetTensorImpl();
  } else {
    std::ostringstream key;
    key << p.unsafeGetTensorImpl();
    return key.str();
  }
}

torch::Tensor run_closure(const torch::optim::Optimizer::LossClosure& closure) {
  if (closure == nullptr) return {};
  at::AutoGradMode enable_grad(true);
  return closure();
}

// Adam whose step runs on lists of tensors. Its state is LibTorch's AdamParamState (step, exp_avg,
// exp_avg_sq), updated exactly as torch::optim::Adam::step does; the fused kernel also keeps each
// parameter's step as a float32 tensor on its device, as PyTorch's fused Adam does, counted in
// step with the state's (which is what a checkpoint saves).
class MultiTensorAdam : public torch::optim::Adam {
 public:
  MultiTensorAdam(const std::vector<torch::Tensor>& params, const torch::optim::AdamOptions& o,
                  bool fused)
      : Adam(params, o), fused_(fused) {}

  torch::Tensor step(LossClosure closure = nullptr) override {
    for (const auto& group : param_groups_)
      if (static_cast<const torch::optim::AdamOptions&>(group.options()).amsgrad())
        return Adam::step(std::move(closure));  // pepr never sets amsgrad: LibTorch's own path
    torch::NoGradGuard no_grad;
    auto loss = run_closure(closure);
    for (auto& group : param_groups_) {
      const auto& o = static_cast<const torch::optim::AdamOptions&>(group.options());
      for (const auto& ps : with_grads_by_device_and_dtype(group.params())) update(ps, o);
    }
    return loss;
  }

 private:
  void update(const std::vector<torch::Tensor>& ps, const torch::optim::AdamOptions& o) {
    const auto [beta1, beta2] = o.betas();
    std::vector<torch::Tensor> grads, exp_avgs, exp_avg_sqs, steps;
    std::vector<c10::Scalar> bias_correction2_sqrt, neg_step_size;
    for (const auto& p : ps) {
      auto& slot = state_[state_key(state_, p)];
      if (!slot) {
        auto s = std::make_unique<torch::optim::AdamParamState>();
        s->step(0);
        s->exp_avg(torch::zeros_like(p, torch::MemoryFormat::Preserve));
        s->exp_avg_sq(torch::zeros_like(p, torch::MemoryFormat::Preserve));
        slot = std::move(s);
      }
      auto& s = static_cast<torch::optim::AdamParamState&>(*slot);
      s.step(s.step() + 1);
      grads.push_back(p.grad());
      exp_avgs.push_back(s.exp_avg());
      exp_avg_sqs.push_back(s.exp_avg_sq());
      if (fused_) {
        // Made from the state's count, the steps before this one: after optimizer.load() (a run
        // continued from its checkpoint) the state holds them, the tensors are new.
        auto& t = fused_steps_[p.unsafeGetTensorImpl()];
        if (!t.defined())
          t = torch::full({}, static_cast<double>(s.step() - 1),
                          p.options().dtype(torch::kFloat32));
        steps.push_back(t);
      } else {
        const auto k = static_cast<double>(s.step());
        bias_correction2_sqrt.emplace_back(std::sqrt(1 - std::pow(beta2, k)));
        neg_step_size.emplace_back(-o.lr() / (1 - std::pow(beta1, k)));
      }
    }
    if (fused_) {
      // PyTorch's _fused_adam: the steps are counted first, then one kernel does the rest
      // (weight decay into the gradient, both moments, bias corrections, the update).
      at::_foreach_add_(steps, 1);
      at::_fused_adam_(ps, grads, exp_avgs, exp_avg_sqs, {}, steps, o.lr(), beta1, beta2,
                       o.weight_decay(), o.eps(), /*amsgrad=*/false, /*maximize=*/false);
      return;
    }
    // torch::optim::Adam::step's operations in its order, each over the whole list.
    if (o.weight_decay() != 0) grads = at::_foreach_add(grads, ps, o.weight_decay());
    at::_foreach_mul_(exp_avgs, beta1);
    at::_foreach_add_(exp_avgs, grads, 1 - beta1);
    at::_foreach_mul_(exp_avg_sqs, beta2);
    at::_foreach_addcmul_(exp_avg_sqs, grads, grads, 1 - beta2);
    auto denom = at::_foreach_sqrt(exp_avg_sqs);
    at::_foreach_div_(denom, bias_correction2_sqrt);
    at::_foreach_add_(denom, o.eps());
    at::_foreach_addcdiv_(ps, exp_avgs, denom, neg_step_size);
  }

  bool fused_;
  std::map<void*, torch::Tensor> fused_steps_;
};

// SGD (momentum, dampening, weight decay, Nesterov) on lists of tensors; its state is LibTorch's
// SGDParamState (momentum_buffer), made as torch::optim::SGD::step makes it: a copy of the first
// step's gradient.
class MultiTensorSgd : public torch::optim::SGD {
 public:
  MultiTensorSgd(const std::vector<torch::Tensor>& params, const torch::optim::SGDOptions& o,
                 bool fused)
      : SGD(params, o), fused_(fused) {}

  torch::Tensor step(LossClosure closure = nullptr) override {
    torch::NoGradGuard no_grad;
    auto loss = run_closure(closure);
    for (auto& group : param_groups_) {
      const auto& o = static_cast<const torch::optim::SGDOptions&>(group.options());
      for (const auto& ps : with_grads_by_device_and_dtype(group.params())) update(ps, o);
    }
    return loss;
  }

 private:
  void update(const std::vector<torch::Tensor>& ps, const torch::optim::SGDOptions& o) {
    if (o.momentum() == 0) return update(ps, o, false);
    // A parameter's first step makes its momentum buffer (a parameter may have had no gradient
    // in earlier steps): those with a buffer and those without are updated apart.
    std::vector<torch::Tensor> fresh, seasoned;
    for (const auto& p : ps) (state_.count(state_key(state_, p)) ? seasoned : fresh).push_back(p);
    if (!fresh.empty()) update(fresh, o, true);
    if (!seasoned.empty()) update(seasoned, o, false);
  }

  void update(const std::vector<torch::Tensor>& ps, const torch::optim::SGDOptions& o, bool first) {
    std::vector<torch::Tensor> grads, bufs;
    for (const auto& p : ps) grads.push_back(p.grad());
    const bool momentum = o.momentum() != 0;
#ifdef PEPR_HAS_FUSED_SGD
    if (fused_) {
      // PyTorch's _fused_sgd: on the first step the kernel fills new (uninitialised) buffers.
      if (momentum)
        for (const auto& p : ps) bufs.push_back(buffer(p, first ? torch::empty_like(p) : p));
      at::_fused_sgd_(ps, grads, bufs, o.weight_decay(), o.momentum(), o.lr(), o.dampening(),
                      o.nesterov(), /*maximize=*/false, /*is_first_step=*/first && momentum);
      return;
    }
#endif
    // torch::optim::SGD::step's operations in its order, each over the whole list.
    if (o.weight_decay() != 0) grads = at::_foreach_add(grads, ps, o.weight_decay());
    if (momentum) {
      for (size_t i = 0; i < ps.size(); ++i)
        bufs.push_back(buffer(ps[i], first ? torch::clone(grads[i]).detach() : ps[i]));
      if (!first) {
        at::_foreach_mul_(bufs, o.momentum());
        at::_foreach_add_(bufs, grads, 1 - o.dampening());
      }
      if (o.nesterov())
        grads = at::_foreach_add(grads, bufs, o.momentum());
      else
        grads = bufs;
    }
    at::_foreach_add_(ps, grads, -o.lr());
  }

  // The parameter's momentum buffer: `made` becomes it where it has none yet (`made` is not used
  // otherwise).
  torch::Tensor buffer(const torch::Tensor& p, const torch::Tensor& made) {
    auto& slot = state_[state_key(state_, p)];
    if (!slot) {
      auto s = std::make_unique<torch::optim::SGDParamState>();
      s->momentum_buffer(made);
      slot = std::move(s);
    }
    return static_cast<torch::optim::SGDParamState&>(*slot).momentum_buffer();
  }

  bool fused_;
};

}  // namespace

MadeOptimizer make_optimizer(const TrainConfig& cfg, const std::vector<at::Tensor>& params,
                             OptimizerKernels kernels) {
  const bool cuda = !params.empty() && params.front().is_cuda();
  if (kernels == OptimizerKernels::automatic) {
    // On the CPU only Adam's fused kernel pays (LibTorch 2.11, 2 cores, bench_optimizer_step:
    // resnet18's Adam step 4.7x faster; SGD's fused step 3x slower on mobilenetv2_050's many small
    // tensors); on CUDA fused kernels save the launches.
    const bool worth_it = cuda || cfg.optimizer == run::Optimizer::adam;
    kernels = worth_it && has_fused_kernel(cfg.optimizer, cuda) ? OptimizerKernels::fused
                                                                : OptimizerKernels::foreach;
  }
  if (kernels == OptimizerKernels::fused && !has_fused_kernel(cfg.optimizer, cuda))
    throw Error(fmt::format("this LibTorch ({}) has no fused {} kernel for the {}", TORCH_VERSION,
                            run::name(cfg.optimizer), cuda ? "GPU" : "CPU"));
  const bool fused = kernels == OptimizerKernels::fused;
  MadeOptimizer made;
  made.kernels = kernels;
  if (cfg.optimizer == run::Optimizer::adam) {
    const auto o = torch::optim::AdamOptions(cfg.lr).weight_decay(cfg.weight_decay);
    if (kernels == OptimizerKernels::single)
      made.optimizer = std::make_unique<torch::optim::Adam>(params, o);
    else
      made.optimizer = std::make_unique<MultiTensorAdam>(params, o, fused);
  } else {
    const auto o =
        torch::optim::SGDOptions(cfg.lr).momentum(cfg.momentum).weight_decay(cfg.weight_decay);
    if (kernels == OptimizerKernels::single)
      made.optimizer = std::make_unique<torch::optim::SGD>(params, o);
    else
      made.optimizer = std::make_unique<MultiTensorSgd>(params, o, fused);
  }
  return made;
}

}  // namespace pepr::train
