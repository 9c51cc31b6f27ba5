// timm/models/nfnet.py, natively, for the DeepMind NFNet-F models (dm_nfnet_f0):
// ScaledStdConv2dSame convolutions (weight standardisation with a learnable "gain", TF "same"
// padding), GELU scaled by its gamma in the activations (gamma_in_act), deep_quad stem
// (stem.conv1..4), stages.N.M (NormFreeBlock with the extra conv2b, SE "attn_last", skipinit_gain),
// final_conv, head.
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <torch/torch.h>

#include "models/headed_classifier.hpp"
#include "models/layers/common.hpp"
#include "models/layers/dpnvov.hpp"
#include "models/model.hpp"
#include "models/registry.hpp"

namespace pepr::models {

namespace {

// timm.layers.ScaledStdConv2dSame: the weight standardised per output channel by F.batch_norm in
// training mode with weight gain * gamma / sqrt(fan_in); bias; TF "same" padding, static for
// stride 1 and odd kernels, else computed from the input size.
class ScaledStdConv2dImpl : public torch::nn::Module {
 public:
  ScaledStdConv2dImpl(int64_t in_chs, int64_t out_chs, int64_t kernel_size, int64_t stride = 1,
                      int64_t groups = 1, double gamma = 1.0, double eps = 1e-6,
                      double gain_init = 1.0)
      : out_chs_(out_chs), kernel_(kernel_size), stride_(stride), groups_(groups), eps_(eps) {
    weight = register_parameter("weight",
                                torch::empty({out_chs, in_chs / groups, kernel_size, kernel_size}));
    bias = register_parameter("bias", torch::empty({out_chs}));
    gain = register_parameter("gain", torch::full({out_chs, 1, 1, 1}, gain_init));
    scale_ = gamma * std::pow(static_cast<double>(weight[0].numel()), -0.5);
    dynamic_ = !(stride == 1 && (kernel_size - 1) % 2 == 0);
    pad_ = dynamic_ ? 0 : get_padding(kernel_size, stride);
    // nn.Conv2d's default init (timm's NormFreeNet re-initialises the weight afterwards).
    torch::NoGradGuard no_grad;
    torch::nn::init::kaiming_uniform_(weight, std::sqrt(5.0));
    const double bound = 1.0 / std::sqrt(static_cast<double>(weight[0].numel()));
    bias.uniform_(-bound, bound);
  }

  torch::Tensor forward(torch::Tensor x) {
    if (dynamic_) {
      auto same = [this](int64_t size) {
        const int64_t out = (size + stride_ - 1) / stride_;
        return std::max<int64_t>((out - 1) * stride_ + (kernel_ - 1) + 1 - size, 0);
      };
      const int64_t ph = same(x.size(-2));
      const int64_t pw = same(x.size(-1));
      x = torch::constant_pad_nd(x, {pw / 2, pw - pw / 2, ph / 2, ph - ph / 2}, 0);
    }
    const auto w = torch::batch_norm(weight.reshape({1, out_chs_, -1}), (gain * scale_).view(-1),
                                     /*bias=*/{}, /*running_mean=*/{}, /*running_var=*/{},
                                     /*training=*/true, /*momentum=*/0.0, eps_,
                                     at::globalContext().userEnabledCuDNN())
                       .reshape_as(weight);
    return torch::conv2d(x, w, bias, stride_, pad_, 1, groups_);
  }

  torch::Tensor weight, bias, gain;

 private:
  int64_t out_chs_, kernel_, stride_, groups_;
  double eps_;
  double scale_ = 1.0;
  bool dynamic_ = false;
  int64_t pad_ = 0;
};
TORCH_MODULE(ScaledStdConv2d);

// The activation times its variance-preserving gamma (timm's GammaAct).
struct GammaAct {
  Act act;
  double gamma;
  torch::Tensor operator()(const torch::Tensor& x) const { return apply_act(act, x).mul_(gamma); }
};

// DeepMind's constants (timm's _nonlin_gamma).
double nonlin_gamma(Act act) {
  switch (act) {
    case Act::gelu:
      return 1.7015043497085571;
    case Act::relu:
      return 1.7139588594436646;
    case Act::silu:
      return 1.7881293296813965;
    default:
      return 1.0;
  }
}

struct NfConfig {
  std::vector<int64_t> depths;
  std::vector<int64_t> channels{256, 512, 1536, 1536};
  double alpha = 0.2;
  int64_t stem_chs = 128;
  int64_t group_size = 128;
  double bottle_ratio = 0.5;
  int64_t num_features = 3072;
  int64_t ch_div = 8;
  double se_rd_ratio = 0.5;
  double attn_gain = 2.0;
  double std_conv_eps = 1e-5;
  Act act = Act::gelu;
};

class NormFreeBlockImpl : public torch::nn::Module {
 public:
  NormFreeBlockImpl(int64_t in_chs, int64_t out_chs, int64_t stride, double beta,
                    const NfConfig& cfg, double drop_path_rate)
      : beta_(beta),
        alpha_(cfg.alpha),
        attn_gain_(cfg.attn_gain),
        act_{cfg.act, nonlin_gamma(cfg.act)},
        stride_(stride),
        drop_path_rate_(drop_path_rate) {
    const double eps = cfg.std_conv_eps;
    int64_t mid = make_divisible(static_cast<double>(out_chs) * cfg.bottle_ratio, cfg.ch_div);
    const int64_t groups = mid / cfg.group_size;
    if (cfg.group_size % cfg.ch_div == 0) mid = cfg.group_size * groups;
    // skipinit: a zero-initialised scalar gain on the residual branch.
    skipinit_gain = register_parameter("skipinit_gain", torch::zeros({}));
    if (in_chs != out_chs || stride != 1) {
      auto downsample = register_module("downsample", std::make_shared<torch::nn::Module>());
      down_conv =
          downsample->register_module("conv", ScaledStdConv2d(in_chs, out_chs, 1, 1, 1, 1.0, eps));
    }
    conv1 = register_module("conv1", ScaledStdConv2d(in_chs, mid, 1, 1, 1, 1.0, eps));
    conv2 = register_module("conv2", ScaledStdConv2d(mid, mid, 3, stride, groups, 1.0, eps));
    conv2b = register_module("conv2b", ScaledStdConv2d(mid, mid, 3, 1, groups, 1.0, eps));
    conv3 = register_module("conv3", ScaledStdConv2d(mid, out_chs, 1, 1, 1, 1.0, eps,
                                                     /*gain_init=*/1.0));
    attn_last = register_module("attn_last",
                                SEModule(out_chs, SEModuleOptions().rd_ratio(cfg.se_rd_ratio)));
  }

  torch::Tensor forward(const torch::Tensor& x) {
    auto out = act_(x) * beta_;
    torch::Tensor shortcut = x;
    if (down_conv) {
      // DownsampleAvg: AvgPool2d(2, stride, ceil_mode, count_include_pad=False), then the conv.
      auto pooled = stride_ > 1 ? torch::avg_pool2d(out, {2, 2}, {stride_, stride_}, {0, 0},
                                                    /*ceil_mode=*/true,
                                                    /*count_include_pad=*/false)
                                : out;
      shortcut = down_conv->forward(pooled);
    }
    out = conv1->forward(out);
    out = conv2->forward(act_(out));
    out = conv2b->forward(act_(out));
    out = conv3->forward(act_(out));
    out = attn_gain_ * attn_last->forward(out);
    out = drop_path(out, drop_path_rate_, is_training());
    out = out * skipinit_gain;
    return out * alpha_ + shortcut;
  }

  torch::Tensor skipinit_gain;
  ScaledStdConv2d down_conv{nullptr}, conv1{nullptr}, conv2{nullptr}, conv2b{nullptr},
      conv3{nullptr};
  SEModule attn_last{nullptr};

 private:
  double beta_, alpha_, attn_gain_;
  GammaAct act_;
  int64_t stride_;
  double drop_path_rate_;
};
TORCH_MODULE(NormFreeBlock);

class NormFreeNet : public HeadedClassifier<ClassifierHead> {
 public:
  NormFreeNet(const std::string& arch, const NfConfig& cfg, const ModelOptions& options)
      : HeadedClassifier(arch, options), act_{cfg.act, nonlin_gamma(cfg.act)} {
    const double eps = cfg.std_conv_eps;
    // deep_quad stem: 3x3 convs to c/8, c/4, c/2, c with strides 2, 1, 1, 2.
    const int64_t c = make_divisible(static_cast<double>(cfg.stem_chs), cfg.ch_div);
    auto stem = register_module("stem", std::make_shared<torch::nn::Module>());
    const std::vector<int64_t> stem_chs{c / 8, c / 4, c / 2, c};
    const std::vector<int64_t> strides{2, 1, 1, 2};
    int64_t in = options.in_chans;
    for (size_t i = 0; i < 4; ++i) {
      stem_.push_back(
          stem->register_module(fmt::format("conv{}", i + 1),
                                ScaledStdConv2d(in, stem_chs[i], 3, strides[i], 1, 1.0, eps)));
      in = stem_chs[i];
    }

    int64_t total = 0;
    for (auto d : cfg.depths) total += d;
    const auto dpr = dpnvov::drop_path_rates(options.drop_path_rate, total);
    auto stages = register_module("stages", std::make_shared<torch::nn::Module>());
    int64_t prev = c;
    double expected_var = 1.0;
    size_t block_idx = 0;
    for (size_t s = 0; s < cfg.depths.size(); ++s) {
      const int64_t stride = s == 0 ? 1 : 2;  // the stem already has stride 4
      auto stage =
          stages->register_module(std::to_string(s), std::make_shared<torch::nn::Module>());
      const int64_t out = make_divisible(static_cast<double>(cfg.channels[s]), cfg.ch_div);
      for (int64_t b = 0; b < cfg.depths[s]; ++b) {
        const double beta = 1.0 / std::pow(expected_var, 0.5);
        blocks_.push_back(stage->register_module(
            std::to_string(b),
            NormFreeBlock(prev, out, b == 0 ? stride : 1, beta, cfg, dpr[block_idx++])));
        if (b == 0) expected_var = 1.0;
        expected_var += cfg.alpha * cfg.alpha;
        prev = out;
      }
    }
    const int64_t nf = make_divisible(static_cast<double>(cfg.num_features), cfg.ch_div);
    final_conv_ = register_module("final_conv", ScaledStdConv2d(prev, nf, 1, 1, 1, 1.0, eps));
    set_num_features(nf);
    head_ = register_module("head", ClassifierHead(nf, options.num_classes, options.drop_rate));

    // timm: fc N(0, 0.01) with zero bias; convs kaiming_normal_(fan_in, linear) with zero bias.
    torch::NoGradGuard no_grad;
    head_->fc->weight.normal_(0.0, 0.01);
    head_->fc->bias.zero_();
    for (auto& m : modules(/*include_self=*/false)) {
      if (auto* conv = m->as<ScaledStdConv2dImpl>()) {
        torch::nn::init::kaiming_normal_(conv->weight, 0.0, torch::kFanIn, torch::kLinear);
        conv->bias.zero_();
      } else if (auto* c2d = m->as<Conv2dImpl>()) {
        torch::nn::init::kaiming_normal_(c2d->weight, 0.0, torch::kFanIn, torch::kLinear);
        if (c2d->bias.defined()) c2d->bias.zero_();
      }
    }
  }

  torch::Tensor forward_features(torch::Tensor x) override {
    for (size_t i = 0; i < stem_.size(); ++i) {
      x = stem_[i]->forward(x);
      if (i + 1 < stem_.size()) x = act_(x);
    }
    for (auto& block : blocks_) x = block->forward(x);
    return act_(final_conv_->forward(x));
  }
  std::vector<std::string> first_conv_names() const override { return {"stem.conv1"}; }

 private:
  GammaAct act_;
  std::vector<ScaledStdConv2d> stem_;
  std::vector<NormFreeBlock> blocks_;
  ScaledStdConv2d final_conv_{nullptr};
};

}  // namespace

void register_nfnet_models(Registry& r) {
  NfConfig f0;
  f0.depths = {1, 2, 6, 3};
  r.add("dm_nfnet_f0", [f0](const std::string& arch, const ModelOptions& o) {
    return std::make_shared<NormFreeNet>(arch, f0, o);
  });
}

}  // namespace pepr::models
