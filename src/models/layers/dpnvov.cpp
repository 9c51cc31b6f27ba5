#include "models/layers/dpnvov.hpp"

#include <cmath>

namespace pepr::models::dpnvov {

ConvNormActImpl::ConvNormActImpl(ConvOptions conv_options, Act act, BatchNormOptions bn_options) {
  const int64_t out = conv_options.out_channels();
  conv = register_module("conv", Conv2d(std::move(conv_options)));
  bn = register_module("bn", BatchNormAct2d(out, act, bn_options));
}

SeparableConvNormActImpl::SeparableConvNormActImpl(int64_t in_chs, int64_t out_chs,
                                                   int64_t kernel_size, int64_t stride, Act act,
                                                   int64_t dilation, const std::string& pad_type) {
  conv_dw = register_module("conv_dw", Conv2d(ConvOptions(in_chs, in_chs, kernel_size)
                                                  .stride(stride)
                                                  .dilation(dilation)
                                                  .depthwise(true)
                                                  .pad_type(pad_type)));
  conv_pw = register_module("conv_pw", Conv2d(ConvOptions(in_chs, out_chs, 1).pad_type(pad_type)));
  bn = register_module("bn", BatchNormAct2d(out_chs, act));
}

EffectiveSEModuleImpl::EffectiveSEModuleImpl(int64_t channels, Act gate) : gate_(gate) {
  fc = register_module("fc", Conv2d(ConvOptions(channels, channels, 1).bias(true)));
}

torch::Tensor EffectiveSEModuleImpl::forward(const torch::Tensor& x) {
  auto s = fc->forward(x.mean({2, 3}, /*keepdim=*/true));
  return x * apply_act(gate_, std::move(s));
}

Conv2d conv_classifier(int64_t in_features, int64_t num_classes) {
  return Conv2d(ConvOptions(in_features, num_classes, 1).bias(true));
}

torch::Tensor conv_classifier_forward(Conv2d fc, torch::Tensor x, double drop_rate, bool training) {
  x = torch::adaptive_avg_pool2d(x, {1, 1});
  if (drop_rate > 0.0) x = torch::dropout(x, drop_rate, training);
  return fc->forward(x).flatten(1);
}

ConvClassifierHeadImpl::ConvClassifierHeadImpl(int64_t in_features, int64_t num_classes,
                                               double drop_rate)
    : in_features_(in_features), drop_rate_(drop_rate) {
  fc = register_module("fc", conv_classifier(in_features, num_classes));
}

torch::Tensor ConvClassifierHeadImpl::forward(torch::Tensor x) {
  return conv_classifier_forward(fc, std::move(x), drop_rate_, is_training());
}

void ConvClassifierHeadImpl::reset(int64_t num_classes) {
  fc = replace_module("fc", conv_classifier(in_features_, num_classes));
}

std::vector<double> drop_path_rates(double drop_path_rate, int64_t total_blocks) {
  std::vector<double> rates(static_cast<size_t>(std::max<int64_t>(total_blocks, 0)), 0.0);
  if (total_blocks > 1) {
    for (int64_t i = 0; i < total_blocks; ++i) {
      rates[static_cast<size_t>(i)] =
          drop_path_rate * static_cast<double>(i) / static_cast<double>(total_blocks - 1);
    }
  }
  return rates;
}

void trunc_normal_(torch::Tensor& t, double mean, double std, double a, double b) {
  torch::NoGradGuard no_grad;
  auto norm_cdf = [](double x) { return (1.0 + std::erf(x / std::sqrt(2.0))) / 2.0; };
  const double l = norm_cdf((a - mean) / std);
  const double u = norm_cdf((b - mean) / std);
  t.uniform_(2 * l - 1, 2 * u - 1);
  t.erfinv_();
  t.mul_(std * std::sqrt(2.0));
  t.add_(mean);
  t.clamp_(a, b);
}

int64_t smallest_size(const std::function<bool(int64_t)>& fits) {
  for (int64_t s = 1; s <= 4096; ++s) {
    if (fits(s)) return s;
  }
  return 4096;
}

int64_t pool_out_size(int64_t in, int64_t kernel, int64_t stride, int64_t padding, bool ceil_mode,
                      int64_t dilation) {
  // PyTorch's pooling_output_shape (floor division), also right for convolutions without ceil.
  const int64_t num = in + 2 * padding - dilation * (kernel - 1) - 1 + (ceil_mode ? stride - 1 : 0);
  const int64_t q = num >= 0 ? num / stride : -((-num + stride - 1) / stride);
  int64_t out = q + 1;
  // With ceil_mode the last window must start inside the input or the left padding.
  if (ceil_mode && (out - 1) * stride >= in + padding) --out;
  return out;
}

}  // namespace pepr::models::dpnvov
