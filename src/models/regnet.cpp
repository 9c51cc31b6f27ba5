// timm/models/regnet.py, natively, for the pre-activation RegNet-V (regnetv_040): stem (3x3 conv),
// sN.bM (PreBottleneck: norm1 conv1 norm2 conv2 se norm3 conv3, downsample conv on the
// pre-activated input), final_conv (the activation), head (ClassifierHead). Stage widths and
// depths come from timm's generate_regnet, computed with the same float32 tensor arithmetic.
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

struct RegNetConfig {
  int64_t depth = 21;
  int64_t w0 = 80;
  double wa = 42.63;
  double wm = 2.66;
  int64_t group_size = 24;
  double bottle_ratio = 1.0;
  double se_ratio = 0.0;
  int64_t stem_width = 32;
  Act act = Act::relu;
};

struct StageSpec {
  int64_t width, depth, group_size;
};

// generate_regnet + torch.unique(return_counts) + adjust_widths_groups_comp (min_ratio 0).
std::vector<StageSpec> regnet_stages(const RegNetConfig& cfg) {
  const int64_t quant = 8;
  const auto widths_cont =
      torch::arange(cfg.depth, torch::kFloat32) * cfg.wa + static_cast<double>(cfg.w0);
  const auto width_exps =
      torch::round(torch::log(widths_cont / static_cast<double>(cfg.w0)) / std::log(cfg.wm));
  const auto widths = (torch::round(static_cast<double>(cfg.w0) * torch::pow(cfg.wm, width_exps) /
                                    static_cast<double>(quant)) *
                       quant)
                          .to(torch::kInt32);
  const auto [uniq, inverse, counts] =
      torch::_unique2(widths, /*sorted=*/true, /*return_inverse=*/false, /*return_counts=*/true);
  std::vector<StageSpec> stages;
  for (int64_t i = 0; i < uniq.size(0); ++i) {
    const auto w = uniq[i].item<int64_t>();
    const auto w_bot = static_cast<int64_t>(static_cast<double>(w) * cfg.bottle_ratio);
    const int64_t g = std::min(cfg.group_size, w_bot);
    // quantize_float: int(round(w_bot / g) * g), Python's round (half to even).
    const int64_t q = py_round(static_cast<double>(w_bot) / static_cast<double>(g)) * g;
    stages.push_back({static_cast<int64_t>(static_cast<double>(q) / cfg.bottle_ratio),
                      counts[i].item<int64_t>(), g});
  }
  return stages;
}

class PreBottleneckImpl : public torch::nn::Module {
 public:
  PreBottleneckImpl(int64_t in_chs, int64_t out_chs, int64_t stride, const RegNetConfig& cfg,
                    int64_t group_size, double drop_path_rate)
      : drop_path_rate_(drop_path_rate) {
    const int64_t mid = py_round(static_cast<double>(out_chs) * cfg.bottle_ratio);
    const int64_t groups = mid / group_size;
    norm1 = register_module("norm1", BatchNormAct2d(in_chs, cfg.act));
    conv1 = register_module("conv1", create_conv2d(in_chs, mid, 1));
    norm2 = register_module("norm2", BatchNormAct2d(mid, cfg.act));
    conv2 = register_module("conv2", create_conv2d(mid, mid, 3, stride, 1, groups));
    if (cfg.se_ratio > 0.0) {
      // SE width from the block's input channels.
      const int64_t rd = py_round(static_cast<double>(in_chs) * cfg.se_ratio);
      se = register_module("se", SEModule(mid, SEModuleOptions().rd_channels(rd).act(cfg.act)));
    }
    norm3 = register_module("norm3", BatchNormAct2d(mid, cfg.act));
    conv3 = register_module("conv3", create_conv2d(mid, out_chs, 1));
    if (in_chs != out_chs || stride != 1) {
      downsample = register_module("downsample", create_conv2d(in_chs, out_chs, 1, stride));
    }
  }

  torch::Tensor forward(const torch::Tensor& input) {
    const auto x_pre = norm1->forward(input);
    auto x = conv2->forward(norm2->forward(conv1->forward(x_pre)));
    if (se) x = se->forward(x);
    x = conv3->forward(norm3->forward(x));
    x = drop_path(x, drop_path_rate_, is_training());
    return x + (downsample ? downsample->forward(x_pre) : x_pre);
  }

  BatchNormAct2d norm1{nullptr}, norm2{nullptr}, norm3{nullptr};
  Conv2d conv1{nullptr}, conv2{nullptr}, conv3{nullptr}, downsample{nullptr};
  SEModule se{nullptr};

 private:
  double drop_path_rate_;
};
TORCH_MODULE(PreBottleneck);

class RegNet : public HeadedClassifier<ClassifierHead> {
 public:
  RegNet(const std::string& arch, const RegNetConfig& cfg, const ModelOptions& options)
      : HeadedClassifier(arch, options), act_(cfg.act) {
    stem_ = register_module("stem", create_conv2d(options.in_chans, cfg.stem_width, 3, 2));
    const auto stages = regnet_stages(cfg);
    int64_t total = 0;
    for (const auto& s : stages) total += s.depth;
    const auto dpr = dpnvov::drop_path_rates(options.drop_path_rate, total);
    int64_t prev = cfg.stem_width;
    size_t block_idx = 0;
    for (size_t i = 0; i < stages.size(); ++i) {
      // RegStage names its blocks b1, b2, ...
      auto stage =
          register_module(fmt::format("s{}", i + 1), std::make_shared<torch::nn::Module>());
      for (int64_t b = 0; b < stages[i].depth; ++b) {
        auto block = PreBottleneck(b == 0 ? prev : stages[i].width, stages[i].width, b == 0 ? 2 : 1,
                                   cfg, stages[i].group_size, dpr[block_idx++]);
        blocks_.push_back(block);
        stage->register_module(fmt::format("b{}", b + 1), block);
      }
      prev = stages[i].width;
    }
    set_num_features(prev);
    head_ = register_module("head", ClassifierHead(prev, options.num_classes, options.drop_rate));

    // timm _init_weights: conv N(0, sqrt(2 / fan_out)), Linear N(0, 0.01) with zero bias.
    init_weight_goog(*this);
    torch::NoGradGuard no_grad;
    head_->fc->weight.normal_(0.0, 0.01);
    head_->fc->bias.zero_();
  }

  torch::Tensor forward_features(torch::Tensor x) override {
    x = stem_->forward(x);
    for (auto& block : blocks_) x = block->forward(x);
    return apply_act(act_, x);  // final_conv: the activation (pre-activation network)
  }
  std::vector<std::string> first_conv_names() const override { return {"stem"}; }

 private:
  Act act_;
  Conv2d stem_{nullptr};
  std::vector<PreBottleneck> blocks_;
};

}  // namespace

void register_regnet_models(Registry& r) {
  RegNetConfig v040;
  v040.depth = 22;
  v040.w0 = 96;
  v040.wa = 31.41;
  v040.wm = 2.24;
  v040.group_size = 64;
  v040.se_ratio = 0.25;
  v040.act = Act::silu;
  r.add("regnetv_040", [v040](const std::string& arch, const ModelOptions& o) {
    return std::make_shared<RegNet>(arch, v040, o);
  });
}

}  // namespace pepr::models
