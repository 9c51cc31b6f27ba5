#include "models/layers/common.hpp"

#include <cmath>
#include <ostream>

#include <fmt/format.h>

#include "core/error.hpp"

namespace pepr::models {

int64_t make_divisible(double v, int64_t divisor, std::optional<int64_t> min_value,
                       double round_limit) {
  const int64_t min_v = min_value.value_or(divisor);
  // int(v + divisor / 2) // divisor * divisor, with Python's truncation of a positive float.
  const auto truncated = static_cast<int64_t>(v + static_cast<double>(divisor) / 2.0);
  int64_t new_v = std::max(min_v, truncated / divisor * divisor);
  if (static_cast<double>(new_v) < round_limit * v) new_v += divisor;
  return new_v;
}

int64_t py_round(double v) {
  // std::nearbyint uses the current rounding mode, FE_TONEAREST by default: ties to even.
  return static_cast<int64_t>(std::nearbyint(v));
}

// ---------------------------------------------------------------------------------------------

namespace {
struct ActName {
  std::string_view name;
  Act act;
};
constexpr ActName kActNames[] = {
    {"identity", Act::identity},
    {"none", Act::identity},
    {"", Act::identity},
    {"relu", Act::relu},
    {"relu6", Act::relu6},
    {"leaky_relu", Act::leaky_relu},
    {"elu", Act::elu},
    {"selu", Act::selu},
    {"celu", Act::celu},
    {"silu", Act::silu},
    {"swish", Act::silu},
    {"hard_swish", Act::hard_swish},
    {"hardswish", Act::hard_swish},
    {"hard_sigmoid", Act::hard_sigmoid},
    {"hardsigmoid", Act::hard_sigmoid},
    {"sigmoid", Act::sigmoid},
    {"tanh", Act::tanh},
    {"gelu", Act::gelu},
    {"gelu_tanh", Act::gelu_tanh},
    {"mish", Act::mish},
};
}  // namespace

Act act_from_name(std::string_view name) {
  for (const auto& entry : kActNames) {
    if (entry.name == name) return entry.act;
  }
  throw Error(fmt::format("unknown activation '{}'", name));
}

std::string_view act_name(Act act) {
  for (const auto& entry : kActNames) {
    if (entry.act == act && !entry.name.empty()) return entry.name;
  }
  return "?";
}

torch::Tensor apply_act(Act act, torch::Tensor x, bool inplace) {
  switch (act) {
    case Act::identity:
      return x;
    case Act::relu:
      return inplace ? torch::relu_(x) : torch::relu(x);
    case Act::relu6:
      return inplace ? torch::hardtanh_(x, 0.0, 6.0) : torch::hardtanh(x, 0.0, 6.0);
    case Act::leaky_relu:
      return inplace ? torch::leaky_relu_(x, 0.01) : torch::leaky_relu(x, 0.01);
    case Act::elu:
      return torch::elu(x);
    case Act::selu:
      return torch::selu(x);
    case Act::celu:
      return torch::celu(x);
    case Act::silu:
      return torch::silu(x);  // in-place variants need the input for backward
    case Act::hard_swish:
      return torch::hardswish(x);
    case Act::hard_sigmoid:
      return torch::hardsigmoid(x);
    case Act::sigmoid:
      return torch::sigmoid(x);
    case Act::tanh:
      return torch::tanh(x);
    case Act::gelu:
      return torch::gelu(x);
    case Act::gelu_tanh:
      return torch::gelu(x, "tanh");
    case Act::mish:
      return torch::mish(x);
  }
  return x;
}

void ActivationImpl::pretty_print(std::ostream& stream) const {
  stream << "pepr::models::Activation(" << act_name(act_) << ")";
}

// ---------------------------------------------------------------------------------------------

Conv2dImpl::Conv2dImpl(ConvOptions options) : options_(std::move(options)) {
  const auto& o = options_;
  groups_ = o.depthwise() ? o.in_channels() : o.groups();
  if (o.in_channels() < 1 || o.out_channels() < 1 || groups_ < 1 ||
      o.in_channels() % groups_ != 0 || o.out_channels() % groups_ != 0) {
    throw Error(fmt::format("Conv2d: channels {} -> {} do not divide into {} groups",
                            o.in_channels(), o.out_channels(), groups_));
  }
  const auto k = *o.kernel_size();
  const auto s = *o.stride();
  const auto d = *o.dilation();
  if (o.padding()) {
    padding_ = {(**o.padding())[0], (**o.padding())[1]};
  } else if (o.pad_type() == "valid") {
    padding_ = {0, 0};
  } else if (o.pad_type() == "same") {
    bool is_static = true;
    for (int i = 0; i < 2; ++i) is_static = is_static && s[i] == 1 && (d[i] * (k[i] - 1)) % 2 == 0;
    if (is_static) {
      padding_ = {get_padding(k[0], s[0], d[0]), get_padding(k[1], s[1], d[1])};
    } else {
      dynamic_same_ = true;
    }
  } else if (o.pad_type().empty()) {
    padding_ = {get_padding(k[0], s[0], d[0]), get_padding(k[1], s[1], d[1])};
  } else {
    throw Error(
        fmt::format("Conv2d: unknown pad_type '{}' (use '', 'same' or 'valid')", o.pad_type()));
  }
  weight = register_parameter(
      "weight", torch::empty({o.out_channels(), o.in_channels() / groups_, k[0], k[1]}));
  if (o.bias()) bias = register_parameter("bias", torch::empty({o.out_channels()}));
  reset_parameters();
}

void Conv2dImpl::reset_parameters() {
  torch::NoGradGuard no_grad;
  torch::nn::init::kaiming_uniform_(weight, std::sqrt(5.0));
  if (bias.defined()) {
    const double fan_in = static_cast<double>(weight.size(1) * weight.size(2) * weight.size(3));
    const double bound = 1.0 / std::sqrt(fan_in);
    torch::nn::init::uniform_(bias, -bound, bound);
  }
}

torch::Tensor Conv2dImpl::forward(const torch::Tensor& x) {
  const auto s = *options_.stride();
  const auto d = *options_.dilation();
  if (dynamic_same_) {
    const auto k = *options_.kernel_size();
    auto same = [](int64_t size, int64_t kernel, int64_t stride, int64_t dilation) {
      const int64_t out = (size + stride - 1) / stride;
      return std::max<int64_t>((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0);
    };
    const int64_t ph = same(x.size(-2), k[0], s[0], d[0]);
    const int64_t pw = same(x.size(-1), k[1], s[1], d[1]);
    auto padded = torch::constant_pad_nd(x, {pw / 2, pw - pw / 2, ph / 2, ph - ph / 2}, 0);
    return torch::conv2d(padded, weight, bias, s, at::IntArrayRef{0, 0}, d, groups_);
  }
  return torch::conv2d(x, weight, bias, s, padding_, d, groups_);
}

void Conv2dImpl::pretty_print(std::ostream& stream) const {
  const auto k = *options_.kernel_size();
  const auto s = *options_.stride();
  stream << "pepr::models::Conv2d(" << options_.in_channels() << ", " << options_.out_channels()
         << ", kernel_size=[" << k[0] << ", " << k[1] << "], stride=[" << s[0] << ", " << s[1]
         << "]";
  if (dynamic_same_) {
    stream << ", padding=same(dynamic)";
  } else {
    stream << ", padding=[" << padding_[0] << ", " << padding_[1] << "]";
  }
  if (groups_ != 1) stream << ", groups=" << groups_;
  if (!bias.defined()) stream << ", bias=false";
  stream << ")";
}

Conv2d create_conv2d(int64_t in_channels, int64_t out_channels, int64_t kernel_size, int64_t stride,
                     int64_t dilation, int64_t groups, const std::string& pad_type, bool bias) {
  return Conv2d(ConvOptions(in_channels, out_channels, kernel_size)
                    .stride(stride)
                    .dilation(dilation)
                    .groups(groups)
                    .pad_type(pad_type)
                    .bias(bias));
}

// ---------------------------------------------------------------------------------------------

BatchNormAct2dImpl::BatchNormAct2dImpl(int64_t num_features, Act act, BatchNormOptions options)
    : num_features_(num_features), act_(act), options_(options) {
  if (options_.affine()) {
    weight = register_parameter("weight", torch::empty({num_features}));
    bias = register_parameter("bias", torch::empty({num_features}));
  }
  running_mean = register_buffer("running_mean", torch::zeros({num_features}));
  running_var = register_buffer("running_var", torch::ones({num_features}));
  num_batches_tracked = register_buffer("num_batches_tracked", torch::zeros({}, torch::kLong));
  reset_parameters();
}

void BatchNormAct2dImpl::reset_parameters() {
  torch::NoGradGuard no_grad;
  if (weight.defined()) weight.fill_(1.0);
  if (bias.defined()) bias.zero_();
  running_mean.zero_();
  running_var.fill_(1.0);
  num_batches_tracked.zero_();
}

torch::Tensor BatchNormAct2dImpl::forward(const torch::Tensor& x) {
  double momentum = 0.0;
  if (is_training()) {
    torch::NoGradGuard no_grad;
    num_batches_tracked.add_(1);
    momentum = options_.momentum();
  }
  auto y = torch::batch_norm(x, weight, bias, running_mean, running_var, is_training(), momentum,
                             options_.eps(), at::globalContext().userEnabledCuDNN());
  return apply_act(act_, std::move(y), /*inplace=*/true);
}

void BatchNormAct2dImpl::pretty_print(std::ostream& stream) const {
  stream << "pepr::models::BatchNormAct2d(" << num_features_ << ", eps=" << options_.eps();
  if (act_ != Act::identity) stream << ", act=" << act_name(act_);
  stream << ")";
}

// ---------------------------------------------------------------------------------------------

ConvBnActImpl::ConvBnActImpl(ConvOptions conv_options, Act act, const std::string& conv_name,
                             const std::string& bn_name) {
  const int64_t out = conv_options.out_channels();
  conv = register_module(conv_name, Conv2d(std::move(conv_options)));
  bn = register_module(bn_name, BatchNormAct2d(out, act));
}

// ---------------------------------------------------------------------------------------------

SqueezeExciteImpl::SqueezeExciteImpl(int64_t in_chs, SqueezeExciteOptions options)
    : options_(options) {
  int64_t rd = 0;
  if (options_.rd_channels()) {
    rd = *options_.rd_channels();
  } else if (options_.rd_divisor() > 0) {
    rd = make_divisible(static_cast<double>(in_chs) * options_.rd_ratio(), options_.rd_divisor());
  } else {
    rd = py_round(static_cast<double>(in_chs) * options_.rd_ratio());
  }
  conv_reduce = register_module("conv_reduce", create_conv2d(in_chs, rd, 1, 1, 1, 1, "", true));
  conv_expand = register_module("conv_expand", create_conv2d(rd, in_chs, 1, 1, 1, 1, "", true));
}

torch::Tensor SqueezeExciteImpl::forward(const torch::Tensor& x) {
  auto s = x.mean({2, 3}, /*keepdim=*/true);
  s = apply_act(options_.act(), conv_reduce->forward(s), true);
  s = apply_act(options_.gate(), conv_expand->forward(s), true);
  return x * s;
}

SEModuleImpl::SEModuleImpl(int64_t channels, SEModuleOptions options) : options_(options) {
  const int64_t rd = options_.rd_channels()
                         ? *options_.rd_channels()
                         : make_divisible(static_cast<double>(channels) * options_.rd_ratio(),
                                          options_.rd_divisor(), std::nullopt, 0.0);
  fc1 = register_module("fc1", create_conv2d(channels, rd, 1, 1, 1, 1, "", true));
  if (options_.use_norm()) bn = register_module("bn", BatchNormAct2d(rd, Act::identity));
  fc2 = register_module("fc2", create_conv2d(rd, channels, 1, 1, 1, 1, "", true));
}

torch::Tensor SEModuleImpl::forward(const torch::Tensor& x) {
  auto s = x.mean({2, 3}, /*keepdim=*/true);
  if (options_.add_maxpool()) s = 0.5 * s + 0.5 * x.amax({2, 3}, /*keepdim=*/true);
  s = fc1->forward(s);
  if (bn) s = bn->forward(s);
  s = apply_act(options_.act(), std::move(s), true);
  s = apply_act(options_.gate(), fc2->forward(s), true);
  return x * s;
}

// ---------------------------------------------------------------------------------------------

torch::Tensor drop_path(const torch::Tensor& x, double p, bool training) {
  if (p <= 0.0 || !training) return x;
  const double keep = 1.0 - p;
  std::vector<int64_t> shape(static_cast<size_t>(x.dim()), 1);
  shape[0] = x.size(0);
  auto mask = torch::empty(shape, x.options()).bernoulli_(keep);
  if (keep > 0.0) mask.div_(keep);
  return x * mask;
}

ClassifierHeadImpl::ClassifierHeadImpl(int64_t in_features, int64_t num_classes, double drop_rate)
    : in_features_(in_features), drop_rate_(drop_rate) {
  fc = register_module("fc", torch::nn::Linear(in_features, num_classes));
}

torch::Tensor ClassifierHeadImpl::forward(torch::Tensor x) {
  if (x.dim() == 4) x = global_avg_pool(x);
  if (drop_rate_ > 0.0) x = torch::dropout(x, drop_rate_, is_training());
  return fc->forward(x);
}

void ClassifierHeadImpl::reset(int64_t num_classes) {
  fc = replace_module("fc", torch::nn::Linear(in_features_, num_classes));
}

// ---------------------------------------------------------------------------------------------

namespace {
// module itself and all its descendants; works inside a constructor, before the module is
// owned by a shared_ptr (Module::modules(include_self = true) throws there).
template <typename F>
void for_each_module(torch::nn::Module& module, F&& fn) {
  fn(module);
  for (auto& m : module.modules(/*include_self=*/false)) fn(*m);
}
}  // namespace

void init_kaiming_fan_out(torch::nn::Module& module) {
  torch::NoGradGuard no_grad;
  for_each_module(module, [](torch::nn::Module& m) {
    if (auto* conv = m.as<Conv2dImpl>()) {
      torch::nn::init::kaiming_normal_(conv->weight, 0.0, torch::kFanOut, torch::kReLU);
      if (conv->bias.defined()) conv->bias.zero_();
    } else if (auto* bn = m.as<BatchNormAct2dImpl>()) {
      bn->reset_parameters();
    }
  });
}

void init_weight_goog(torch::nn::Module& module) {
  torch::NoGradGuard no_grad;
  for_each_module(module, [](torch::nn::Module& m) {
    if (auto* conv = m.as<Conv2dImpl>()) {
      const auto& w = conv->weight;
      const int64_t fan_out = w.size(2) * w.size(3) * w.size(0) / conv->groups();
      w.normal_(0.0, std::sqrt(2.0 / static_cast<double>(fan_out)));
      if (conv->bias.defined()) conv->bias.zero_();
    } else if (auto* bn = m.as<BatchNormAct2dImpl>()) {
      bn->reset_parameters();
    } else if (auto* linear = m.as<torch::nn::LinearImpl>()) {
      const double range = 1.0 / std::sqrt(static_cast<double>(linear->weight.size(0)));
      linear->weight.uniform_(-range, range);
      if (linear->bias.defined()) linear->bias.zero_();
    }
  });
}

void init_trunc_linear_fan_out_conv(torch::nn::Module& module) {
  torch::NoGradGuard no_grad;
  for_each_module(module, [](torch::nn::Module& m) {
    if (auto* linear = m.as<torch::nn::LinearImpl>()) {
      trunc_normal_(linear->weight, 0.02);
      if (linear->bias.defined()) linear->bias.zero_();
    } else if (auto* conv = m.as<Conv2dImpl>()) {
      const auto& w = conv->weight;
      const int64_t fan_out = w.size(0) * w.size(2) * w.size(3) / conv->groups();
      w.normal_(0.0, std::sqrt(2.0 / static_cast<double>(fan_out)));
      if (conv->bias.defined()) conv->bias.zero_();
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Generic timm layers shared by several families.

void trunc_normal_(torch::Tensor t, double std, double a, double b) {
  torch::NoGradGuard no_grad;
  // PyTorch's _no_grad_trunc_normal_ with mean 0.
  const auto norm_cdf = [](double x) { return (1.0 + std::erf(x / std::sqrt(2.0))) / 2.0; };
  const double l = norm_cdf(a / std);
  const double u = norm_cdf(b / std);
  t.uniform_(2 * l - 1, 2 * u - 1);
  t.erfinv_();
  t.mul_(std * std::sqrt(2.0));
  t.clamp_(a, b);
}

void trunc_normal_tf_(torch::Tensor t, double std, double a, double b) {
  torch::NoGradGuard no_grad;
  trunc_normal_(t, 1.0, a, b);
  t.mul_(std);
}

void init_trunc_normal(torch::nn::Module& module, double std, bool tf_style) {
  const auto init = [std, tf_style](torch::Tensor& w) {
    if (tf_style) {
      trunc_normal_tf_(w, std);
    } else {
      trunc_normal_(w, std);
    }
  };
  torch::NoGradGuard no_grad;
  // modules(include_self = false): this runs in constructors, before a shared_ptr owns module.
  for (auto& m : module.modules(/*include_self=*/false)) {
    if (auto* linear = m->as<torch::nn::LinearImpl>()) {
      init(linear->weight);
      if (linear->bias.defined()) linear->bias.zero_();
    } else if (auto* conv = m->as<Conv2dImpl>()) {
      init(conv->weight);
      if (conv->bias.defined()) conv->bias.zero_();
    }
  }
}

std::vector<double> drop_path_rates(double drop_path_rate, int64_t total) {
  std::vector<double> out;
  if (total <= 0) return out;
  const auto rates = torch::linspace(0.0, drop_path_rate, total, torch::kFloat32);
  const float* p = rates.data_ptr<float>();
  out.assign(p, p + total);
  return out;
}

std::vector<std::vector<double>> drop_path_rates(double drop_path_rate,
                                                 const std::vector<int64_t>& depths) {
  int64_t total = 0;
  for (int64_t d : depths) total += d;
  const auto flat = drop_path_rates(drop_path_rate, total);
  std::vector<std::vector<double>> out;
  size_t pos = 0;
  for (int64_t d : depths) {
    out.emplace_back(flat.begin() + static_cast<std::ptrdiff_t>(pos),
                     flat.begin() + static_cast<std::ptrdiff_t>(pos + static_cast<size_t>(d)));
    pos += static_cast<size_t>(d);
  }
  return out;
}

namespace {
// A k x k convolution with stride k and a bias: non-overlapping patches.
Conv2d patch_conv(int64_t in_chs, int64_t out_chs, int64_t k) {
  return Conv2d(
      ConvOptions(in_chs, out_chs, k).stride(k).bias(true).padding(torch::ExpandingArray<2>(0)));
}
}  // namespace

Sequential patchify_stem(int64_t in_chs, int64_t out_chs, int64_t patch, double eps) {
  return Sequential(patch_conv(in_chs, out_chs, patch), LayerNorm2d(out_chs, eps));
}

NormConvStageImpl::NormConvStageImpl(int64_t in_chs, int64_t out_chs, int64_t downsample_stride,
                                     double eps, Sequential stage_blocks) {
  if (downsample_stride > 0) {
    downsample = register_module(
        "downsample",
        Sequential(LayerNorm2d(in_chs, eps), patch_conv(in_chs, out_chs, downsample_stride)));
  }
  blocks = register_module("blocks", std::move(stage_blocks));
}

torch::Tensor NormConvStageImpl::forward(torch::Tensor x) {
  if (downsample) x = downsample->forward(x);
  return blocks->forward(x);
}

LayerNorm2dImpl::LayerNorm2dImpl(int64_t dim, double eps, bool affine) : dim_(dim), eps_(eps) {
  if (affine) {
    weight = register_parameter("weight", torch::ones({dim}));
    bias = register_parameter("bias", torch::zeros({dim}));
  }
}

torch::Tensor LayerNorm2dImpl::forward(const torch::Tensor& x) {
  return torch::layer_norm(x.permute({0, 2, 3, 1}), {dim_}, weight, bias, eps_)
      .permute({0, 3, 1, 2});
}

void LayerNorm2dImpl::pretty_print(std::ostream& stream) const {
  stream << "pepr::models::LayerNorm2d(" << dim_ << ", eps=" << eps_ << ")";
}

GroupNorm1Impl::GroupNorm1Impl(int64_t channels, double eps) : eps_(eps) {
  weight = register_parameter("weight", torch::ones({channels}));
  bias = register_parameter("bias", torch::zeros({channels}));
}

torch::Tensor GroupNorm1Impl::forward(const torch::Tensor& x) {
  return torch::group_norm(x, 1, weight, bias, eps_);
}

ConvMlpImpl::ConvMlpImpl(int64_t in_features, int64_t hidden_features, int64_t out_features,
                         Act act, bool layer_norm, double drop)
    : act_(act), drop_(drop) {
  fc1 = register_module("fc1", create_conv2d(in_features, hidden_features, 1, 1, 1, 1, "", true));
  if (layer_norm) norm = register_module("norm", LayerNorm2d(hidden_features));
  fc2 = register_module("fc2", create_conv2d(hidden_features, out_features, 1, 1, 1, 1, "", true));
}

torch::Tensor ConvMlpImpl::forward(const torch::Tensor& x) {
  auto y = fc1->forward(x);
  if (norm) y = norm->forward(y);
  y = apply_act(act_, std::move(y), /*inplace=*/true);
  if (drop_ > 0.0) y = torch::dropout(y, drop_, is_training());
  return fc2->forward(y);
}

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

GlobalContextImpl::GlobalContextImpl(int64_t channels, GlobalContextOptions options)
    : options_(options) {
  if (options_.use_attn()) {
    conv_attn = register_module("conv_attn", create_conv2d(channels, 1, 1, 1, 1, 1, "", true));
  }
  const int64_t rd = options_.rd_channels()
                         ? *options_.rd_channels()
                         : make_divisible(static_cast<double>(channels) * options_.rd_ratio(),
                                          options_.rd_divisor(), std::nullopt, 0.0);
  if (options_.fuse_add()) {
    mlp_add = register_module("mlp_add", ConvMlp(channels, rd, channels, options_.act(), true));
  }
  if (options_.fuse_scale()) {
    mlp_scale = register_module("mlp_scale", ConvMlp(channels, rd, channels, options_.act(), true));
  }
  reset_parameters();
}

void GlobalContextImpl::reset_parameters() {
  torch::NoGradGuard no_grad;
  if (conv_attn) {
    torch::nn::init::kaiming_normal_(conv_attn->weight, 0.0, torch::kFanIn, torch::kReLU);
  }
  if (mlp_add) mlp_add->fc2->weight.zero_();
}

torch::Tensor GlobalContextImpl::forward(const torch::Tensor& x) {
  const int64_t B = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  torch::Tensor context;
  if (conv_attn) {
    auto attn = conv_attn->forward(x).reshape({B, 1, H * W});
    attn = torch::softmax(attn, -1).unsqueeze(3);  // B, 1, HW, 1
    context = torch::matmul(x.reshape({B, C, H * W}).unsqueeze(1), attn);
    context = context.view({B, C, 1, 1});
  } else {
    context = x.mean({2, 3}, /*keepdim=*/true);
  }
  auto y = x;
  if (mlp_scale) y = y * apply_act(options_.gate(), mlp_scale->forward(context));
  if (mlp_add) y = y + mlp_add->forward(context);
  return y;
}

}  // namespace pepr::models
