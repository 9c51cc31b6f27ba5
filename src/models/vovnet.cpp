// timm/models/vovnet.py, natively: VoVNet (V1 and V2 / ESE). stem (3 ConvNormAct or separable
// convs), stages.N (optional ceil-mode max pool, OSA blocks), head (ClassifierHead).
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

using dpnvov::ConvNormAct;
using dpnvov::EffectiveSEModule;
using dpnvov::SeparableConvNormAct;

struct VovNetConfig {
  std::vector<int64_t> stem_chs;
  std::vector<int64_t> stage_conv_chs;
  std::vector<int64_t> stage_out_chs;
  int64_t layer_per_block = 3;
  std::vector<int64_t> block_per_stage;
  bool residual = false;
  bool depthwise = false;
  bool ese = false;  // attn 'ese' on the last block of each stage
  int64_t stem_stride = 4;
};

// One-to-one aggregation block: conv_reduction (depthwise variants), conv_mid.N whose outputs are
// all concatenated with the block input, conv_concat, attn, residual.
class OsaBlockImpl : public torch::nn::Module {
 public:
  OsaBlockImpl(int64_t in_chs, int64_t mid_chs, int64_t out_chs, int64_t layer_per_block,
               bool residual, bool depthwise, bool ese, double drop_path_rate)
      : residual_(residual), drop_path_rate_(drop_path_rate) {
    int64_t next_in_chs = in_chs;
    if (depthwise && next_in_chs != mid_chs) {
      conv_reduction = register_module("conv_reduction",
                                       ConvNormAct(ConvOptions(in_chs, mid_chs, 1), Act::relu));
    }
    conv_mid = register_module("conv_mid", Sequential());
    for (int64_t i = 0; i < layer_per_block; ++i) {
      if (depthwise) {
        conv_mid->push_back(SeparableConvNormAct(mid_chs, mid_chs, 3, 1, Act::relu));
      } else {
        conv_mid->push_back(ConvNormAct(ConvOptions(next_in_chs, mid_chs, 3), Act::relu));
      }
      next_in_chs = mid_chs;
    }
    conv_concat = register_module(
        "conv_concat",
        ConvNormAct(ConvOptions(in_chs + layer_per_block * mid_chs, out_chs, 1), Act::relu));
    if (ese) attn = register_module("attn", EffectiveSEModule(out_chs));
  }

  torch::Tensor forward(const torch::Tensor& input) {
    std::vector<torch::Tensor> outputs{input};
    auto x = conv_reduction ? conv_reduction->forward(input) : input;
    for (auto& m : *conv_mid) {
      x = m.forward<torch::Tensor>(x);
      outputs.push_back(x);
    }
    x = conv_concat->forward(torch::cat(outputs, 1));
    if (attn) x = attn->forward(x);
    x = drop_path(x, drop_path_rate_, is_training());
    if (residual_) x = x + input;
    return x;
  }

  ConvNormAct conv_reduction{nullptr};
  Sequential conv_mid{nullptr};
  ConvNormAct conv_concat{nullptr};
  EffectiveSEModule attn{nullptr};

 private:
  bool residual_;
  double drop_path_rate_;
};
TORCH_MODULE(OsaBlock);

class OsaStageImpl : public torch::nn::Module {
 public:
  OsaStageImpl(int64_t in_chs, int64_t mid_chs, int64_t out_chs, int64_t block_per_stage,
               int64_t layer_per_block, bool downsample, bool residual, bool depthwise, bool ese,
               const std::vector<double>& drop_path_rates)
      : downsample_(downsample) {
    blocks = register_module("blocks", Sequential());
    for (int64_t i = 0; i < block_per_stage; ++i) {
      const bool last = i == block_per_stage - 1;
      blocks->push_back(OsaBlock(in_chs, mid_chs, out_chs, layer_per_block, residual && i > 0,
                                 depthwise, ese && last, drop_path_rates[static_cast<size_t>(i)]));
      in_chs = out_chs;
    }
  }

  torch::Tensor forward(torch::Tensor x) {
    if (downsample_) x = torch::max_pool2d(x, {3, 3}, {2, 2}, {0, 0}, {1, 1}, /*ceil_mode=*/true);
    return blocks->forward(x);
  }

  Sequential blocks{nullptr};

 private:
  bool downsample_;
};
TORCH_MODULE(OsaStage);

class VovNet : public HeadedClassifier<ClassifierHead> {
 public:
  VovNet(const std::string& arch, const VovNetConfig& cfg, const ModelOptions& options)
      : HeadedClassifier(arch, options) {
    const auto& sc = cfg.stem_chs;
    const int64_t last_stem_stride = cfg.stem_stride / 2;
    stem_ = register_module("stem", Sequential());
    stem_->push_back(ConvNormAct(ConvOptions(options.in_chans, sc[0], 3).stride(2), Act::relu));
    if (cfg.depthwise) {
      stem_->push_back(SeparableConvNormAct(sc[0], sc[1], 3, 1, Act::relu));
      stem_->push_back(SeparableConvNormAct(sc[1], sc[2], 3, last_stem_stride, Act::relu));
    } else {
      stem_->push_back(ConvNormAct(ConvOptions(sc[0], sc[1], 3), Act::relu));
      stem_->push_back(
          ConvNormAct(ConvOptions(sc[1], sc[2], 3).stride(last_stem_stride), Act::relu));
    }
    int64_t total_blocks = 0;
    for (auto n : cfg.block_per_stage) total_blocks += n;
    const auto dpr = dpnvov::drop_path_rates(options.drop_path_rate, total_blocks);
    stages_ = register_module("stages", Sequential());
    int64_t in_chs = sc.back();
    size_t block_idx = 0;
    for (size_t i = 0; i < 4; ++i) {
      const bool downsample = cfg.stem_stride == 2 || i > 0;
      downsamples_.push_back(downsample);
      const int64_t n = cfg.block_per_stage[i];
      std::vector<double> stage_dpr(dpr.begin() + static_cast<std::ptrdiff_t>(block_idx),
                                    dpr.begin() + static_cast<std::ptrdiff_t>(block_idx + n));
      block_idx += static_cast<size_t>(n);
      stages_->push_back(OsaStage(in_chs, cfg.stage_conv_chs[i], cfg.stage_out_chs[i], n,
                                  cfg.layer_per_block, downsample, cfg.residual, cfg.depthwise,
                                  cfg.ese, stage_dpr));
      in_chs = cfg.stage_out_chs[i];
    }
    set_num_features(in_chs);
    head_ = register_module("head", ClassifierHead(in_chs, options.num_classes, options.drop_rate));

    // timm: kaiming_normal_(fan_out, relu) for convs, zero Linear bias.
    init_kaiming_fan_out(*this);
    torch::NoGradGuard no_grad;
    head_->fc->bias.zero_();

    // Three stride-2 3x3 convs (padding 1) in the stem (or two), then ceil-mode 3x3 / 2 max pools
    // that need at least 3 pixels each.
    const int64_t stem_stride = cfg.stem_stride;
    const auto downsamples = downsamples_;
    min_size_ = dpnvov::smallest_size([stem_stride, downsamples](int64_t s) {
      s = dpnvov::pool_out_size(s, 3, 2, 1, false);
      s = dpnvov::pool_out_size(s, 3, stem_stride / 2, 1, false);
      for (bool d : downsamples) {
        if (d) s = dpnvov::pool_out_size(s, 3, 2, 0, true);
        if (s < 1) return false;
      }
      return s >= 1;
    });
  }

  torch::Tensor forward_features(torch::Tensor x) override {
    return stages_->forward(stem_->forward(x));
  }
  std::vector<std::string> first_conv_names() const override { return {"stem.0.conv"}; }
  int64_t min_input_size() const override { return min_size_; }

 private:
  Sequential stem_{nullptr};
  Sequential stages_{nullptr};
  std::vector<bool> downsamples_;
  int64_t min_size_ = 1;
};

}  // namespace

void register_vovnet_models(Registry& r) {
  VovNetConfig ese_vovnet19b_dw;
  ese_vovnet19b_dw.stem_chs = {64, 64, 64};
  ese_vovnet19b_dw.stage_conv_chs = {128, 160, 192, 224};
  ese_vovnet19b_dw.stage_out_chs = {256, 512, 768, 1024};
  ese_vovnet19b_dw.layer_per_block = 3;
  ese_vovnet19b_dw.block_per_stage = {1, 1, 1, 1};
  ese_vovnet19b_dw.residual = true;
  ese_vovnet19b_dw.depthwise = true;
  ese_vovnet19b_dw.ese = true;
  r.add<VovNet>("ese_vovnet19b_dw", ese_vovnet19b_dw);
}

}  // namespace pepr::models
