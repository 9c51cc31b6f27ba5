// timm/models/vgg.py, natively: features.N (conv 3x3 + ReLU, MaxPool 2x2), pre_logits (ConvMlp:
// fc1 conv 7x7, fc2 conv 1x1), head (ClassifierHead: avg pool, fc).
#include <vector>

#include <torch/torch.h>

#include "models/headed_classifier.hpp"
#include "models/layers/common.hpp"
#include "models/model.hpp"
#include "models/registry.hpp"

namespace pepr::models {

namespace {

constexpr int64_t kMaxPool = -1;

// timm's ConvMlp: inputs smaller than the kernel are first average-pooled up to kernel x kernel.
class VggPreLogitsImpl : public torch::nn::Module {
 public:
  VggPreLogitsImpl(int64_t in_features, int64_t out_features, int64_t kernel_size, double drop_rate)
      : kernel_size_(kernel_size), drop_rate_(drop_rate) {
    fc1 = register_module("fc1", Conv2d(ConvOptions(in_features, out_features, kernel_size)
                                            .bias(true)
                                            .padding(torch::ExpandingArray<2>(0))));
    fc2 = register_module("fc2", create_conv2d(out_features, out_features, 1, 1, 1, 1, "", true));
  }

  torch::Tensor forward(torch::Tensor x) {
    if (x.size(-2) < kernel_size_ || x.size(-1) < kernel_size_) {
      x = torch::adaptive_avg_pool2d(
          x, {std::max(kernel_size_, x.size(-2)), std::max(kernel_size_, x.size(-1))});
    }
    x = fc1->forward(x).relu_();
    if (drop_rate_ > 0.0) x = torch::dropout(x, drop_rate_, is_training());
    return fc2->forward(x).relu_();
  }

  Conv2d fc1{nullptr}, fc2{nullptr};

 private:
  int64_t kernel_size_;
  double drop_rate_;
};
TORCH_MODULE(VggPreLogits);

class VGG : public HeadedClassifier<ClassifierHead> {
 public:
  VGG(const std::string& arch, const std::vector<int64_t>& cfg, const ModelOptions& options)
      : HeadedClassifier(arch, options) {
    Sequential features;
    int64_t prev = options.in_chans;
    for (int64_t v : cfg) {
      if (v == kMaxPool) {
        features->push_back(torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(2).stride(2)));
        ++num_pools_;
      } else {
        features->push_back(create_conv2d(prev, v, 3, 1, 1, 1, "", true));
        features->push_back(Activation(Act::relu, /*inplace=*/true));
        prev = v;
      }
    }
    features_ = register_module("features", features);
    set_num_features(prev);
    pre_logits_ = register_module("pre_logits", VggPreLogits(prev, kHidden, 7, options.drop_rate));
    head_ =
        register_module("head", ClassifierHead(kHidden, options.num_classes, options.drop_rate));

    // timm's VGG._init_weights.
    init_kaiming_fan_out(*this);
    torch::NoGradGuard no_grad;
    for (auto& m : modules(/*include_self=*/false)) {
      if (auto* linear = m->as<torch::nn::LinearImpl>()) {
        linear->weight.normal_(0.0, 0.01);
        linear->bias.zero_();
      }
    }
  }

  torch::Tensor forward_features(torch::Tensor x) override { return features_->forward(x); }
  torch::Tensor forward_head(torch::Tensor x) override {
    return head_->forward(pre_logits_->forward(x));
  }
  std::vector<std::string> first_conv_names() const override { return {"features.0"}; }
  // Each MaxPool2d(2, 2) needs at least 2 pixels: 5 of them need 32.
  int64_t min_input_size() const override { return int64_t{1} << num_pools_; }

 private:
  static constexpr int64_t kHidden = 4096;
  int num_pools_ = 0;
  Sequential features_{nullptr};
  VggPreLogits pre_logits_{nullptr};
};

void add(Registry& r, const std::string& name, std::vector<int64_t> cfg) {
  r.add(name, [cfg](const std::string& arch, const ModelOptions& o) {
    return std::make_shared<VGG>(arch, cfg, o);
  });
}

}  // namespace

void register_vgg_models(Registry& r) {
  constexpr int64_t M = kMaxPool;
  add(r, "vgg11", {64, M, 128, M, 256, 256, M, 512, 512, M, 512, 512, M});
  add(r, "vgg13", {64, 64, M, 128, 128, M, 256, 256, M, 512, 512, M, 512, 512, M});
}

}  // namespace pepr::models
