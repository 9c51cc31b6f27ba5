// timm/models/hrnet.py, natively: HRNet for classification. Stem (conv1/bn1, conv2/bn2), layer1
// (ResNet Bottlenecks), transitionN / stageN (HighResolutionModule: branches of BasicBlocks and
// fuse_layers that upsample or stride down between resolutions), the classification head
// (incre_modules, downsamp_modules, final_layer) and classifier (Linear).
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <torch/torch.h>

#include "core/error.hpp"
#include "models/headed_classifier.hpp"
#include "models/layers/common.hpp"
#include "models/model.hpp"
#include "models/registry.hpp"

namespace pepr::models {

namespace {

using ModulePtr = std::shared_ptr<torch::nn::Module>;

// Sequential(conv kxk, BatchNorm [, ReLU]) with children "0", "1" (the ReLU at "2" holds nothing
// and is folded into the BatchNorm).
Sequential conv_bn(int64_t in, int64_t out, int64_t k, int64_t stride, bool relu,
                   bool bias = false) {
  Sequential seq;
  seq->push_back(create_conv2d(in, out, k, stride, 1, 1, "", bias));
  seq->push_back(BatchNormAct2d(out, relu ? Act::relu : Act::identity));
  return seq;
}

// timm.models.resnet BasicBlock / Bottleneck as HRNet builds them (ReLU, no attention).
class ResBlockImpl : public torch::nn::Module {
 public:
  ResBlockImpl(bool bottleneck, int64_t inplanes, int64_t planes, int64_t stride = 1)
      : bottleneck_(bottleneck) {
    const int64_t expansion = bottleneck ? 4 : 1;
    const int64_t outplanes = planes * expansion;
    if (bottleneck) {
      conv1 = register_module("conv1", create_conv2d(inplanes, planes, 1));
      bn1 = register_module("bn1", BatchNormAct2d(planes, Act::relu));
      conv2 = register_module("conv2", create_conv2d(planes, planes, 3, stride));
      bn2 = register_module("bn2", BatchNormAct2d(planes, Act::relu));
      conv3 = register_module("conv3", create_conv2d(planes, outplanes, 1));
      bn3 = register_module("bn3", batch_norm2d(outplanes));
    } else {
      conv1 = register_module("conv1", create_conv2d(inplanes, planes, 3, stride));
      bn1 = register_module("bn1", BatchNormAct2d(planes, Act::relu));
      conv2 = register_module("conv2", create_conv2d(planes, planes, 3));
      bn2 = register_module("bn2", batch_norm2d(planes));
    }
    if (stride != 1 || inplanes != outplanes) {
      downsample = register_module("downsample", conv_bn(inplanes, outplanes, 1, stride, false));
    }
  }

  torch::Tensor forward(const torch::Tensor& input) {
    auto x = bn2->forward(conv2->forward(bn1->forward(conv1->forward(input))));
    if (bottleneck_) x = bn3->forward(conv3->forward(x));
    x.add_(downsample ? downsample->forward(input) : input);
    return torch::relu_(x);
  }

  Conv2d conv1{nullptr}, conv2{nullptr}, conv3{nullptr};
  BatchNormAct2d bn1{nullptr}, bn2{nullptr}, bn3{nullptr};
  Sequential downsample{nullptr};

 private:
  bool bottleneck_;
};
TORCH_MODULE(ResBlock);

// _make_layer: blocks "0", "1", ...; the first projects the shortcut when needed.
Sequential make_layer(bool bottleneck, int64_t inplanes, int64_t planes, int64_t blocks) {
  Sequential seq;
  seq->push_back(ResBlock(bottleneck, inplanes, planes));
  const int64_t out = planes * (bottleneck ? 4 : 1);
  for (int64_t i = 1; i < blocks; ++i) seq->push_back(ResBlock(bottleneck, out, planes));
  return seq;
}

struct StageCfg {
  int64_t num_modules;
  bool bottleneck;
  std::vector<int64_t> num_blocks;
  std::vector<int64_t> num_channels;
};

class HighResolutionModuleImpl : public torch::nn::Module {
 public:
  HighResolutionModuleImpl(const StageCfg& cfg, std::vector<int64_t>& num_in_chs) {
    const size_t n = cfg.num_channels.size();
    const int64_t expansion = cfg.bottleneck ? 4 : 1;
    auto branches_list = register_module("branches", std::make_shared<torch::nn::Module>());
    for (size_t i = 0; i < n; ++i) {
      branches.push_back(branches_list->register_module(
          std::to_string(i),
          make_layer(cfg.bottleneck, num_in_chs[i], cfg.num_channels[i], cfg.num_blocks[i])));
      num_in_chs[i] = cfg.num_channels[i] * expansion;
    }
    if (n == 1) return;
    auto fuse_list = register_module("fuse_layers", std::make_shared<torch::nn::Module>());
    fuse.resize(n);
    for (size_t i = 0; i < n; ++i) {
      auto row =
          fuse_list->register_module(std::to_string(i), std::make_shared<torch::nn::Module>());
      for (size_t j = 0; j < n; ++j) {
        Sequential f{nullptr};
        if (j > i) {
          // 1x1 conv + BatchNorm, then nearest upsampling by 2^(j - i).
          f = conv_bn(num_in_chs[j], num_in_chs[i], 1, 1, false);
          f->push_back(torch::nn::Upsample(
              torch::nn::UpsampleOptions()
                  .scale_factor(std::vector<double>(2, static_cast<double>(int64_t{1} << (j - i))))
                  .mode(torch::kNearest)));
        } else if (j < i) {
          // i - j stride-2 3x3 convs; ReLU on all but the last.
          f = Sequential();
          for (size_t k = 0; k < i - j; ++k) {
            const bool last = k == i - j - 1;
            f->push_back(conv_bn(num_in_chs[j], last ? num_in_chs[i] : num_in_chs[j], 3, 2, !last));
          }
        }
        if (f) row->register_module(std::to_string(j), f);
        fuse[i].push_back(f);
      }
    }
  }

  std::vector<torch::Tensor> forward(std::vector<torch::Tensor> x) {
    for (size_t i = 0; i < branches.size(); ++i) x[i] = branches[i]->forward(x[i]);
    if (branches.size() == 1) return x;
    std::vector<torch::Tensor> out;
    for (size_t i = 0; i < fuse.size(); ++i) {
      torch::Tensor y;
      for (size_t j = 0; j < fuse[i].size(); ++j) {
        auto f = fuse[i][j] ? fuse[i][j]->forward(x[j]) : x[j];
        y = y.defined() ? y + f : f;
      }
      out.push_back(torch::relu(y));
    }
    return out;
  }

  std::vector<Sequential> branches;
  std::vector<std::vector<Sequential>> fuse;  // null for the identity (j == i)
};
TORCH_MODULE(HighResolutionModule);

struct HRNetConfig {
  int64_t stem_width = 64;
  StageCfg stage1, stage2, stage3, stage4;
};

class HighResolutionNet : public LinearHeadClassifier {
 public:
  HighResolutionNet(const std::string& arch, const HRNetConfig& cfg, const ModelOptions& options)
      : LinearHeadClassifier(arch, options, "classifier") {
    conv1_ = register_module("conv1", create_conv2d(options.in_chans, cfg.stem_width, 3, 2));
    bn1_ = register_module("bn1", BatchNormAct2d(cfg.stem_width, Act::relu));
    conv2_ = register_module("conv2", create_conv2d(cfg.stem_width, 64, 3, 2));
    bn2_ = register_module("bn2", BatchNormAct2d(64, Act::relu));
    const auto& s1 = cfg.stage1;
    layer1_ = register_module("layer1",
                              make_layer(s1.bottleneck, 64, s1.num_channels[0], s1.num_blocks[0]));
    std::vector<int64_t> pre{s1.num_channels[0] * (s1.bottleneck ? 4 : 1)};

    int idx = 0;
    for (const StageCfg* st : {&cfg.stage2, &cfg.stage3, &cfg.stage4}) {
      ++idx;
      std::vector<int64_t> cur;
      for (auto c : st->num_channels) cur.push_back(c * (st->bottleneck ? 4 : 1));
      transitions_.push_back(make_transition(fmt::format("transition{}", idx), pre, cur));
      auto stage =
          register_module(fmt::format("stage{}", idx + 1), std::make_shared<torch::nn::Module>());
      std::vector<HighResolutionModule> mods;
      std::vector<int64_t> in_chs = cur;
      for (int64_t m = 0; m < st->num_modules; ++m) {
        mods.push_back(
            stage->register_module(std::to_string(m), HighResolutionModule(*st, in_chs)));
      }
      stages_.push_back(std::move(mods));
      pre = in_chs;
    }

    // Classification head: Bottleneck per branch to 32/64/128/256 (x4), stride-2 3x3 convs (with
    // bias) between resolutions, 1x1 conv (with bias) to 2048.
    const std::vector<int64_t> head_channels{32, 64, 128, 256};
    auto incre = register_module("incre_modules", std::make_shared<torch::nn::Module>());
    for (size_t i = 0; i < pre.size(); ++i) {
      incre_.push_back(
          incre->register_module(std::to_string(i), make_layer(true, pre[i], head_channels[i], 1)));
    }
    auto downs = register_module("downsamp_modules", std::make_shared<torch::nn::Module>());
    for (size_t i = 0; i + 1 < pre.size(); ++i) {
      downsamp_.push_back(downs->register_module(
          std::to_string(i),
          conv_bn(head_channels[i] * 4, head_channels[i + 1] * 4, 3, 2, true, /*bias=*/true)));
    }
    final_layer_ = register_module("final_layer",
                                   conv_bn(head_channels[3] * 4, kNumFeatures, 1, 1, true, true));
    set_num_features(kNumFeatures);
    register_fc(kNumFeatures);

    // timm init_weights: kaiming_normal_(fan_out, relu) for conv weights (biases keep PyTorch's
    // default), BatchNorm 1 / 0; the Linear keeps its default.
    torch::NoGradGuard no_grad;
    for (auto& m : modules(/*include_self=*/false)) {
      if (auto* conv = m->as<Conv2dImpl>()) {
        torch::nn::init::kaiming_normal_(conv->weight, 0.0, torch::kFanOut, torch::kReLU);
      }
    }
  }

  // Every fuse step adds a branch to the upsampled next one: the stem's output (ceil(size / 4))
  // must divide by 8, i.e. sizes 32k - 3 .. 32k. timm fails on other sizes with a shape error.
  torch::Tensor forward(torch::Tensor x) override {
    if (x.dim() == 4) {
      for (int d = 2; d < 4; ++d) {
        const int64_t s = x.size(d);
        if (s >= min_input_size() && ((s + 3) / 4) % 8 != 0) {
          const int64_t up = (s + 31) / 32 * 32;
          throw Error(fmt::format(
              "{}: needs input sizes whose quarter (rounded up) divides by 8, e.g. multiples of "
              "32, got {}x{}; resize the images to {}x{}",
              arch(), x.size(2), x.size(3), up, up));
        }
      }
    }
    return Classifier::forward(std::move(x));
  }

  torch::Tensor forward_features(torch::Tensor x) override {
    x = bn2_->forward(conv2_->forward(bn1_->forward(conv1_->forward(x))));
    x = layer1_->forward(x);
    std::vector<torch::Tensor> yl{x};
    for (size_t s = 0; s < stages_.size(); ++s) {
      // A branch whose transition is not the identity reads the last (lowest-resolution) output.
      std::vector<torch::Tensor> xl;
      for (size_t i = 0; i < transitions_[s].size(); ++i) {
        xl.push_back(transitions_[s][i] ? transitions_[s][i]->forward(yl.back()) : yl[i]);
      }
      for (auto& m : stages_[s]) xl = m->forward(xl);
      yl = std::move(xl);
    }
    torch::Tensor y;
    for (size_t i = 0; i < incre_.size(); ++i) {
      auto inc = incre_[i]->forward(yl[i]);
      y = y.defined() ? inc + downsamp_[i - 1]->forward(y) : inc;
    }
    return final_layer_->forward(y);
  }
  std::vector<std::string> first_conv_names() const override { return {"conv1"}; }
  int64_t min_input_size() const override { return 32; }

 private:
  static constexpr int64_t kNumFeatures = 2048;

  // _make_transition_layer: "transitionN.i" is Sequential(conv3x3, bn, relu) where the channels
  // change, and for a new branch Sequential of stride-2 Sequential(conv3x3, bn, relu); null for
  // the identity.
  std::vector<Sequential> make_transition(const std::string& name, const std::vector<int64_t>& pre,
                                          const std::vector<int64_t>& cur) {
    auto list = register_module(name, std::make_shared<torch::nn::Module>());
    std::vector<Sequential> out;
    for (size_t i = 0; i < cur.size(); ++i) {
      Sequential t{nullptr};
      if (i < pre.size()) {
        if (cur[i] != pre[i]) t = conv_bn(pre[i], cur[i], 3, 1, true);
      } else {
        t = Sequential();
        for (size_t j = 0; j < i + 1 - pre.size(); ++j) {
          const int64_t in = pre.back();
          const int64_t o = j == i - pre.size() ? cur[i] : in;
          t->push_back(conv_bn(in, o, 3, 2, true));
        }
      }
      if (t) list->register_module(std::to_string(i), t);
      out.push_back(t);
    }
    return out;
  }

  Conv2d conv1_{nullptr}, conv2_{nullptr};
  BatchNormAct2d bn1_{nullptr}, bn2_{nullptr};
  Sequential layer1_{nullptr};
  std::vector<std::vector<Sequential>> transitions_;
  std::vector<std::vector<HighResolutionModule>> stages_;
  std::vector<Sequential> incre_, downsamp_;
  Sequential final_layer_{nullptr};
};

}  // namespace

void register_hrnet_models(Registry& r) {
  HRNetConfig w18;
  w18.stem_width = 64;
  w18.stage1 = {1, true, {4}, {64}};
  w18.stage2 = {1, false, {4, 4}, {18, 36}};
  w18.stage3 = {4, false, {4, 4, 4}, {18, 36, 72}};
  w18.stage4 = {3, false, {4, 4, 4, 4}, {18, 36, 72, 144}};
  r.add("hrnet_w18", [w18](const std::string& arch, const ModelOptions& o) {
    return std::make_shared<HighResolutionNet>(arch, w18, o);
  });
}

}  // namespace pepr::models
