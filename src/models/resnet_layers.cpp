#include "models/resnet_layers.hpp"

#include <cmath>
#include <ostream>

#include <fmt/format.h>

namespace pepr::models {

int64_t eca_kernel_size(int64_t channels, double gamma, double beta) {
  // Python: int(abs(math.log(channels, 2) + beta) / gamma); math.log(x, 2) is log(x) / log(2).
  const double l = std::log(static_cast<double>(channels)) / std::log(2.0);
  const auto t = static_cast<int64_t>(std::abs(l + beta) / gamma);
  return std::max<int64_t>(t % 2 ? t : t + 1, 3);
}

EcaModuleImpl::EcaModuleImpl(std::optional<int64_t> channels, EcaModuleOptions options)
    : options_(options),
      kernel_size_(channels ? eca_kernel_size(*channels, options.gamma(), options.beta())
                            : options.kernel_size()) {
  if (kernel_size_ % 2 != 1) throw std::logic_error("EcaModule: kernel size must be odd");
  conv = register_module("conv", torch::nn::Conv1d(torch::nn::Conv1dOptions(1, 1, kernel_size_)
                                                       .padding((kernel_size_ - 1) / 2)
                                                       .bias(false)));
}

torch::Tensor EcaModuleImpl::forward(const torch::Tensor& x) {
  auto y = x.mean({2, 3}).view({x.size(0), 1, -1});
  y = conv->forward(y);
  y = apply_act(options_.gate(), std::move(y), true).view({x.size(0), -1, 1, 1});
  return x * y.expand_as(x);
}

BlurPool2dImpl::BlurPool2dImpl(int64_t channels, BlurPool2dOptions options)
    : channels_(channels),
      options_(std::move(options)),
      padding_(get_padding(options_.filt_size(), options_.stride())) {
  const int64_t k = options_.filt_size();
  if (k < 2) throw std::logic_error("BlurPool2d: filt_size must be at least 2");
  if (options_.pad_mode() != "reflect" && options_.pad_mode() != "constant") {
    throw std::logic_error("BlurPool2d: pad_mode must be reflect or constant");
  }
  // Binomial coefficients C(k-1, i) / 2^(k-1), as float32 like timm.
  std::vector<float> coeffs(static_cast<size_t>(k));
  double c = 1.0;
  for (int64_t i = 0; i < k; ++i) {
    coeffs[static_cast<size_t>(i)] = static_cast<float>(c);
    c = c * static_cast<double>(k - 1 - i) / static_cast<double>(i + 1);
  }
  auto v = torch::tensor(coeffs) / static_cast<float>(int64_t{1} << (k - 1));
  auto filt = (v.unsqueeze(1) * v.unsqueeze(0)).view({1, 1, k, k});
  filt_ = filt.repeat({channels_, 1, 1, 1}).contiguous();
}

torch::Tensor BlurPool2dImpl::forward(const torch::Tensor& x) {
  if (filt_.device() != x.device() || filt_.dtype() != x.dtype()) {
    filt_ = filt_.to(x.device(), x.scalar_type());
  }
  const int64_t p = padding_;
  const auto padded = options_.pad_mode() == "reflect"
                          ? torch::reflection_pad2d(x, {p, p, p, p})
                          : torch::constant_pad_nd(x, {p, p, p, p}, 0.0);
  const int64_t s = options_.stride();
  const std::array<int64_t, 2> stride{s, s}, zero{0, 0}, one{1, 1};
  return torch::conv2d(padded, filt_, torch::Tensor(), at::IntArrayRef(stride),
                       at::IntArrayRef(zero), at::IntArrayRef(one), channels_);
}

int64_t BlurPool2dImpl::min_input_size() const {
  return options_.pad_mode() == "reflect" ? padding_ + 1 : 1;
}

void BlurPool2dImpl::pretty_print(std::ostream& stream) const {
  stream << fmt::format("BlurPool2d(channels={}, filt_size={}, stride={}, pad_mode={})", channels_,
                        options_.filt_size(), options_.stride(), options_.pad_mode());
}

}  // namespace pepr::models
