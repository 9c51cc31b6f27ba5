// timm/models/res2net.py, natively: timm's ResNet with Res2Net's Bottle2neck block (hierarchical
// residual-like connections between `scale` channel groups inside each bottleneck).
#include <fmt/format.h>

#include "models/registry.hpp"
#include "models/resnet.hpp"

namespace pepr::models {

namespace {

// timm res2net.Bottle2neck. Entries: conv1/bn1 (width * scale), convs.i/bns.i (i < scale - 1,
// 3x3 with the block's stride and groups = cardinality), conv3/bn3, optional se, downsample.
// Like timm's, the block ignores drop_path and anti-aliasing.
class Bottle2neckImpl : public ResNetBlockBase {
 public:
  Bottle2neckImpl(const ResNetBlockArgs& a, int64_t scale)
      : act_(a.act),
        scale_(scale),
        is_first_(a.stride > 1 || a.downsample),
        // int(math.floor(planes * (base_width / 64.0))) * cardinality
        width_(a.planes * a.base_width / 64 * a.cardinality) {
    const int64_t num_scales = std::max<int64_t>(1, scale - 1);
    const int64_t outplanes = a.planes * 4;
    conv1 = register_module("conv1", create_conv2d(a.inplanes, width_ * scale, 1));
    bn1 = register_module("bn1", BatchNormAct2d(width_ * scale, a.act));
    torch::nn::ModuleList conv_list, bn_list;
    for (int64_t i = 0; i < num_scales; ++i) {
      convs.push_back(create_conv2d(width_, width_, 3, a.stride, 1, a.cardinality));
      bns.push_back(BatchNormAct2d(width_, a.act));
      conv_list->push_back(convs.back());
      bn_list->push_back(bns.back());
    }
    register_module("convs", conv_list);
    register_module("bns", bn_list);
    if (is_first_) {
      // nn.AvgPool2d(3, stride, padding=1), count_include_pad left at True as in timm.
      pool = register_module(
          "pool", torch::nn::AvgPool2d(torch::nn::AvgPool2dOptions(3).stride(a.stride).padding(1)));
    }
    conv3 = register_module("conv3", create_conv2d(width_ * scale, outplanes, 1));
    bn3 = register_module("bn3", batch_norm2d(outplanes));
    if (a.attn_layer) {
      se = a.attn_layer(outplanes);
      register_module("se", se.ptr());
    }
    if (a.downsample) downsample = register_module("downsample", a.downsample);
  }

  torch::Tensor forward(const torch::Tensor& input) {
    auto out = bn1->forward(conv1->forward(input));
    const auto spx = torch::split(out, width_, 1);
    std::vector<torch::Tensor> spo;
    spo.reserve(static_cast<size_t>(scale_));
    torch::Tensor sp;
    for (size_t i = 0; i < convs.size(); ++i) {
      sp = (i == 0 || is_first_) ? spx[i] : sp + spx[i];
      sp = bns[i]->forward(convs[i]->forward(sp));
      spo.push_back(sp);
    }
    if (scale_ > 1) spo.push_back(pool ? pool->forward(spx.back()) : spx.back());
    out = bn3->forward(conv3->forward(torch::cat(spo, 1)));
    if (!se.is_empty()) out = se.forward(out);
    out.add_(downsample ? downsample->forward(input) : input);
    return apply_act(act_, out, /*inplace=*/true);
  }

  void zero_init_last() override {
    torch::NoGradGuard no_grad;
    bn3->weight.zero_();
  }

  Conv2d conv1{nullptr}, conv3{nullptr};
  BatchNormAct2d bn1{nullptr}, bn3{nullptr};
  std::vector<Conv2d> convs;
  std::vector<BatchNormAct2d> bns;
  torch::nn::AvgPool2d pool{nullptr};
  torch::nn::AnyModule se;
  Sequential downsample{nullptr};

 private:
  Act act_;
  int64_t scale_;
  bool is_first_;
  int64_t width_;
};
TORCH_MODULE(Bottle2neck);

// timm's res2net entry points: ResNet(block=Bottle2neck, base_width, cardinality,
// block_args=dict(scale=scale)).
void add(Registry& r, const std::string& name, std::vector<int64_t> layers, int64_t base_width,
         int64_t scale, int64_t cardinality = 1) {
  ResNetConfig cfg;
  cfg.layers = std::move(layers);
  cfg.base_width = base_width;
  cfg.cardinality = cardinality;
  cfg.block_fn = [scale](const ResNetBlockArgs& a) {
    return torch::nn::AnyModule(Bottle2neck(a, scale));
  };
  cfg.block_expansion = 4;
  r.add(name, [cfg](const std::string& arch, const ModelOptions& o) {
    return std::make_shared<ResNet>(arch, cfg, o);
  });
}

}  // namespace

void register_res2net_models(Registry& r) {
  add(r, "res2net50_14w_8s", {3, 4, 6, 3}, 14, 8);
  add(r, "res2net101_26w_4s", {3, 4, 23, 3}, 26, 4);
  add(r, "res2next50", {3, 4, 6, 3}, 4, 4, 8);
}

}  // namespace pepr::models
