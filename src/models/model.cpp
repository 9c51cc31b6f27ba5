#include "models/model.hpp"

#include <fmt/format.h>

#include "core/error.hpp"
#include "models/registry.hpp"

namespace pepr::models {

Classifier::Classifier(std::string arch, const ModelOptions& options)
    : arch_(std::move(arch)), options_(options) {
  set_num_classes(options.num_classes);
  if (options.in_chans < 1) {
    throw Error(fmt::format("{}: in_chans must be at least 1, got {}", arch_, options.in_chans));
  }
  if (!(options.drop_rate >= 0.0 && options.drop_rate < 1.0)) {
    throw Error(fmt::format("{}: drop_rate must be in [0, 1), got {}", arch_, options.drop_rate));
  }
  if (!(options.drop_path_rate >= 0.0 && options.drop_path_rate < 1.0)) {
    throw Error(
        fmt::format("{}: drop_path_rate must be in [0, 1), got {}", arch_, options.drop_path_rate));
  }
}

void Classifier::set_num_classes(int64_t n) {
  if (n < 1) throw Error(fmt::format("{}: num_classes must be at least 1, got {}", arch_, n));
  options_.num_classes = n;
}

torch::Tensor Classifier::forward(torch::Tensor x) {
  if (x.dim() != 4) {
    throw Error(
        fmt::format("{}: expected a 4-D input [N, C, H, W], got {} dimensions", arch_, x.dim()));
  }
  if (x.size(1) != options_.in_chans) {
    throw Error(fmt::format("{}: built for {} input channel(s), got an input with {}", arch_,
                            options_.in_chans, x.size(1)));
  }
  if (const auto fixed = fixed_input_size();
      fixed && (x.size(2) != *fixed || x.size(3) != *fixed)) {
    throw Error(fmt::format(
        "{}: needs inputs of exactly {}x{} pixels, got {}x{}; resize the images to {}x{}", arch_,
        *fixed, *fixed, x.size(2), x.size(3), *fixed, *fixed));
  }
  const int64_t min_size = min_input_size();
  if (x.size(2) < min_size || x.size(3) < min_size) {
    throw Error(fmt::format(
        "{}: needs inputs of at least {}x{} pixels, got {}x{}; resize the images to {}x{} or "
        "larger",
        arch_, min_size, min_size, x.size(2), x.size(3), min_size, min_size));
  }
  return forward_head(forward_features(std::move(x)));
}

std::shared_ptr<torch::nn::Module> Classifier::clone(
    const c10::optional<torch::Device>& device) const {
  std::shared_ptr<Classifier> copy = create_model(arch_, options_);
  torch::NoGradGuard no_grad;
  const auto copy_all = [&](const torch::OrderedDict<std::string, torch::Tensor>& from,
                            torch::OrderedDict<std::string, torch::Tensor> to, const char* what) {
    if (from.size() != to.size())
      throw Error(fmt::format("{}: cannot clone: {} {}s, a new one has {}", arch_, from.size(),
                              what, to.size()));
    for (const auto& item : from) {
      torch::Tensor* dst = to.find(item.key());
      if (dst == nullptr || !item.value().defined())
        throw Error(
            fmt::format("{}: cannot clone: {} '{}' has no counterpart", arch_, what, item.key()));
      torch::Tensor value = device ? item.value().to(*device) : item.value();
      dst->set_data(value.clone());  // clone keeps the memory format (channels_last)
      if (dst->is_leaf()) dst->set_requires_grad(item.value().requires_grad());
    }
  };
  copy_all(named_parameters(), copy->named_parameters(), "parameter");
  copy_all(named_buffers(), copy->named_buffers(), "buffer");
  copy->train(is_training());
  return copy;
}

int64_t count_parameters(const torch::nn::Module& module) {
  int64_t n = 0;
  for (const auto& p : module.parameters(/*recurse=*/true)) {
    if (p.requires_grad()) n += p.numel();
  }
  return n;
}

void to_channels_last(torch::nn::Module& module) {
  torch::NoGradGuard no_grad;
  for (auto& p : module.parameters(/*recurse=*/true)) {
    if (p.dim() == 4) p.set_data(p.data().contiguous(at::MemoryFormat::ChannelsLast));
  }
  for (auto& b : module.buffers(/*recurse=*/true)) {
    if (b.dim() == 4) b.set_data(b.data().contiguous(at::MemoryFormat::ChannelsLast));
  }
}

}  // namespace pepr::models
