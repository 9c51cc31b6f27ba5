// timm/models/convmixer.py, natively: stem (patch conv with bias, act, BatchNorm), blocks.N
// (Residual(depthwise conv "same", act, BatchNorm) as N.0.fn, then 1x1 conv, act, BatchNorm),
// head (Linear).
#include <string>
#include <utility>

#include <torch/torch.h>

#include "models/headed_classifier.hpp"
#include "models/layers/common.hpp"
#include "models/model.hpp"
#include "models/registry.hpp"

namespace pepr::models {

namespace {

struct ConvMixerConfig {
  int64_t dim = 768;
  int64_t depth = 32;
  int64_t kernel_size = 9;
  int64_t patch_size = 7;
  Act act = Act::gelu;
};

// timm's Residual: fn(x) + x, with fn registered as "fn".
class ResidualImpl : public torch::nn::Module {
 public:
  explicit ResidualImpl(Sequential f) : fn(register_module("fn", std::move(f))) {}
  torch::Tensor forward(const torch::Tensor& x) { return fn->forward(x) + x; }
  Sequential fn;
};
TORCH_MODULE(Residual);

class ConvMixer : public LinearHeadClassifier {
 public:
  ConvMixer(const std::string& arch, const ConvMixerConfig& cfg, const ModelOptions& options)
      : LinearHeadClassifier(arch, options, "head"), patch_size_(cfg.patch_size) {
    const int64_t dim = cfg.dim;
    stem_ = register_module("stem", Sequential());
    stem_->push_back(Conv2d(ConvOptions(options.in_chans, dim, cfg.patch_size)
                                .stride(cfg.patch_size)
                                .padding(torch::ExpandingArray<2>(0))
                                .bias(true)));
    stem_->push_back(Activation(cfg.act));
    stem_->push_back(batch_norm2d(dim));
    blocks_ = register_module("blocks", Sequential());
    for (int64_t i = 0; i < cfg.depth; ++i) {
      // nn.Conv2d(padding="same") with stride 1: total padding k - 1, the extra pixel (even k)
      // on the right / bottom. Odd kernels: symmetric (k - 1) / 2.
      Sequential mix;
      mix->push_back(Conv2d(
          ConvOptions(dim, dim, cfg.kernel_size).depthwise(true).pad_type("same").bias(true)));
      mix->push_back(Activation(cfg.act));
      mix->push_back(batch_norm2d(dim));
      Sequential block;
      block->push_back(Residual(mix));
      block->push_back(create_conv2d(dim, dim, 1, 1, 1, 1, "", true));
      block->push_back(Activation(cfg.act));
      block->push_back(batch_norm2d(dim));
      blocks_->push_back(block);
    }
    set_num_features(dim);
    register_fc(dim);
  }

  torch::Tensor forward_features(torch::Tensor x) override {
    return blocks_->forward(stem_->forward(x));
  }
  std::vector<std::string> first_conv_names() const override { return {"stem.0"}; }
  // The patch embedding needs one whole patch.
  int64_t min_input_size() const override { return patch_size_; }

 private:
  int64_t patch_size_;
  Sequential stem_{nullptr};
  Sequential blocks_{nullptr};
};

}  // namespace

void register_convmixer_models(Registry& r) {
  ConvMixerConfig c768_32;
  c768_32.dim = 768;
  c768_32.depth = 32;
  c768_32.kernel_size = 7;
  c768_32.patch_size = 7;
  c768_32.act = Act::relu;
  r.add("convmixer_768_32", [c768_32](const std::string& arch, const ModelOptions& o) {
    return std::make_shared<ConvMixer>(arch, c768_32, o);
  });
}

}  // namespace pepr::models
