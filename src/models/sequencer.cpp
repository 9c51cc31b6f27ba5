// timm/models/sequencer.py, natively (LSTM2d, bidirectional, union "cat", with fc), NHWC
// throughout:
//   stem (PatchEmbed: Conv2d k=s=patch_sizes[0], no norm) -> stages.i (downsample for i > 0:
//   Conv2d k=s=patch_sizes[i] as "down"; blocks: x + rnn_tokens(norm1 x), where rnn_tokens runs
//   a bidirectional LSTM down the columns (rnn_v) and along the rows (rnn_h), concatenates and
//   projects by fc; x + mlp_channels(norm2 x)) -> norm -> mean over H, W -> head.fc.
// Norms nn.LayerNorm(eps=1e-6), GELU exact. As in timm, drop_path_rate is the same for every
// block (no linear schedule) and drop_rate is also the MLPs' dropout.
// timm's cfg marks the model fixed_input_size, but nothing in it depends on the size: it runs
// on any input whose stem and stride-2 downsampling leave at least one token.
#include <cmath>
#include <vector>

#include <torch/torch.h>

#include "models/headed_classifier.hpp"
#include "models/layers/common.hpp"
#include "models/layers/transformer.hpp"
#include "models/model.hpp"
#include "models/registry.hpp"

namespace pepr::models {

namespace {

constexpr double kEps = 1e-6;

struct SequencerConfig {
  std::vector<int64_t> layers{4, 3, 8, 3};
  std::vector<int64_t> patch_sizes{7, 2, 2, 1};
  std::vector<int64_t> embed_dims{192, 384, 384, 384};
  std::vector<int64_t> hidden_sizes{48, 96, 96, 96};
  std::vector<double> mlp_ratios{3.0, 3.0, 3.0, 3.0};
};

class LSTM2dImpl : public torch::nn::Module {
 public:
  LSTM2dImpl(int64_t input_size, int64_t hidden_size) {
    fc = register_module("fc", torch::nn::Linear(4 * hidden_size, input_size));
    const auto opts =
        torch::nn::LSTMOptions(input_size, hidden_size).batch_first(true).bidirectional(true);
    rnn_v = register_module("rnn_v", torch::nn::LSTM(opts));
    rnn_h = register_module("rnn_h", torch::nn::LSTM(opts));
  }

  torch::Tensor forward(const torch::Tensor& x) {  // [B, H, W, C]
    const int64_t B = x.size(0), H = x.size(1), W = x.size(2), C = x.size(3);
    auto v = std::get<0>(rnn_v->forward(x.permute({0, 2, 1, 3}).reshape({-1, H, C})));
    v = v.reshape({B, W, H, -1}).permute({0, 2, 1, 3});
    auto h = std::get<0>(rnn_h->forward(x.reshape({-1, W, C})));
    h = h.reshape({B, H, W, -1});
    return fc->forward(torch::cat({v, h}, -1));
  }

  torch::nn::Linear fc{nullptr};
  torch::nn::LSTM rnn_v{nullptr}, rnn_h{nullptr};
};
TORCH_MODULE(LSTM2d);

class Sequencer2dBlockImpl : public torch::nn::Module {
 public:
  Sequencer2dBlockImpl(int64_t dim, int64_t hidden_size, double mlp_ratio, double drop,
                       double drop_path)
      : drop_path_(drop_path) {
    norm1 = register_module("norm1", LayerNorm(dim, kEps));
    rnn_tokens = register_module("rnn_tokens", LSTM2d(dim, hidden_size));
    norm2 = register_module("norm2", LayerNorm(dim, kEps));
    mlp_channels = register_module(
        "mlp_channels",
        Mlp(MlpOptions(dim, static_cast<int64_t>(mlp_ratio * static_cast<double>(dim)))
                .drop(drop)));
  }

  torch::Tensor forward(torch::Tensor x) {
    x = x + drop_path(rnn_tokens->forward(norm1->forward(x)), drop_path_, is_training());
    return x + drop_path(mlp_channels->forward(norm2->forward(x)), drop_path_, is_training());
  }

  LayerNorm norm1{nullptr}, norm2{nullptr};
  LSTM2d rnn_tokens{nullptr};
  Mlp mlp_channels{nullptr};

 private:
  double drop_path_;
};
TORCH_MODULE(Sequencer2dBlock);

// A convolution with kernel = stride = patch on NHWC input (timm's Downsample2d "down" and the
// PatchEmbed "proj").
class PatchConvImpl : public torch::nn::Module {
 public:
  PatchConvImpl(const std::string& name, int64_t in, int64_t out, int64_t patch) {
    conv = register_module(name, Conv2d(ConvOptions(in, out, patch)
                                            .stride(patch)
                                            .bias(true)
                                            .padding(torch::ExpandingArray<2>(0))));
  }
  torch::Tensor forward_nchw(const torch::Tensor& x) {
    return conv->forward(x).permute({0, 2, 3, 1});
  }
  torch::Tensor forward(const torch::Tensor& x) { return forward_nchw(x.permute({0, 3, 1, 2})); }
  Conv2d conv{nullptr};
};
TORCH_MODULE(PatchConv);

class Sequencer2dStageImpl : public torch::nn::Module {
 public:
  Sequencer2dStageImpl(int64_t dim, int64_t dim_out, int64_t depth, int64_t patch_size,
                       int64_t hidden_size, double mlp_ratio, bool downsample_, double drop,
                       double drop_path) {
    if (downsample_) {
      downsample = register_module("downsample", PatchConv("down", dim, dim_out, patch_size));
    }
    Sequential b;
    for (int64_t i = 0; i < depth; ++i) {
      b->push_back(Sequencer2dBlock(dim_out, hidden_size, mlp_ratio, drop, drop_path));
    }
    blocks = register_module("blocks", b);
  }

  torch::Tensor forward(torch::Tensor x) {
    if (downsample) x = downsample->forward(x);
    return blocks->forward(x);
  }

  PatchConv downsample{nullptr};
  Sequential blocks{nullptr};
};
TORCH_MODULE(Sequencer2dStage);

class Sequencer2d : public HeadedClassifier<ClassifierHead> {
 public:
  Sequencer2d(const std::string& arch, const SequencerConfig& cfg, const ModelOptions& options)
      : HeadedClassifier(arch, options), cfg_(cfg) {
    stem_ = register_module(
        "stem", PatchConv("proj", options.in_chans, cfg.embed_dims[0], cfg.patch_sizes[0]));
    Sequential stages;
    int64_t prev = cfg.embed_dims[0];
    for (size_t i = 0; i < cfg.embed_dims.size(); ++i) {
      stages->push_back(Sequencer2dStage(prev, cfg.embed_dims[i], cfg.layers[i], cfg.patch_sizes[i],
                                         cfg.hidden_sizes[i], cfg.mlp_ratios[i], i > 0,
                                         options.drop_rate, options.drop_path_rate));
      prev = cfg.embed_dims[i];
    }
    stages_ = register_module("stages", stages);
    set_num_features(prev);
    norm_ = register_module("norm", LayerNorm(prev, kEps));
    head_ = register_module("head", ClassifierHead(prev, options.num_classes, options.drop_rate));

    // timm's _init_weights: Linear xavier_uniform_ (biases zero, MLP biases N(0, 1e-6)), Conv2d
    // lecun_normal_, LSTMs U(+-1/sqrt(hidden)) (LibTorch's default). timm zeroes the head; here
    // it keeps nn.Linear's default (what timm's reset_classifier gives) so that a fresh model's
    // logits depend on its input.
    torch::NoGradGuard no_grad;
    for (const auto& item : named_modules("", /*include_self=*/false)) {
      const auto& name = item.key();
      if (name.rfind("head", 0) == 0) continue;
      if (auto* linear = item.value()->as<torch::nn::LinearImpl>()) {
        torch::nn::init::xavier_uniform_(linear->weight);
        if (name.find("mlp") != std::string::npos) {
          linear->bias.normal_(0.0, 1e-6);
        } else {
          linear->bias.zero_();
        }
      } else if (auto* conv = item.value()->as<Conv2dImpl>()) {
        const auto& w = conv->weight;
        const double fan_in = static_cast<double>(w.size(1) * w.size(2) * w.size(3));
        // lecun_normal_: truncated normal with std sqrt(1 / fan_in) (variance_scaling_).
        trunc_normal_tf_(conv->weight, std::sqrt(1.0 / fan_in) / .87962566103423978);
        conv->bias.zero_();
      }
    }
  }

  torch::Tensor forward_features(torch::Tensor x) override {
    x = stem_->forward_nchw(x);
    return norm_->forward(stages_->forward(x));  // NHWC
  }
  torch::Tensor forward_head(torch::Tensor x) override { return head_->forward(x.mean({1, 2})); }
  std::vector<std::string> first_conv_names() const override { return {"stem.proj"}; }
  // Every patch convolution needs at least one patch.
  int64_t min_input_size() const override {
    int64_t r = 1;
    for (int64_t p : cfg_.patch_sizes) r *= p;
    return r;
  }

 private:
  SequencerConfig cfg_;
  PatchConv stem_{nullptr};
  Sequential stages_{nullptr};
  LayerNorm norm_{nullptr};
};

}  // namespace

void register_sequencer_models(Registry& r) {
  SequencerConfig c;
  c.layers = {8, 8, 16, 4};
  c.patch_sizes = {7, 2, 1, 1};
  c.embed_dims = {192, 384, 384, 384};
  c.hidden_sizes = {48, 96, 96, 96};
  c.mlp_ratios = {3.0, 3.0, 3.0, 3.0};
  r.add<Sequencer2d>("sequencer2d_l", c);
}

}  // namespace pepr::models
