// timm/models/dla.py (Deep Layer Aggregation), natively: base_layer (conv 7x7 + BN + ReLU),
// level0 / level1 (conv levels), level2..level5 (DlaTree: recursive trees of DlaBasic or
// DlaBottleneck blocks whose outputs a DlaRoot aggregates), fc (a 1x1 conv after global average
// pooling, as timm's create_classifier(use_conv=True)). Parameter names equal timm's state dict.
#include <cmath>
#include <vector>

#include <fmt/format.h>
#include <torch/torch.h>

#include "core/error.hpp"
#include "models/layers/common.hpp"
#include "models/model.hpp"
#include "models/registry.hpp"

namespace pepr::models {

namespace {

enum class DlaBlock { basic, bottleneck };

struct DlaConfig {
  std::vector<int64_t> levels;    // 6 entries: conv levels 0-1, tree levels 2-5
  std::vector<int64_t> channels;  // 6 entries
  DlaBlock block = DlaBlock::bottleneck;
  int64_t cardinality = 1;
  int64_t base_width = 64;
  bool shortcut_root = false;
};

// A node of a DLA tree: a block or a subtree. timm's forward(x, shortcut, children): blocks use
// the shortcut (x when undefined), trees use children (the outputs the root will aggregate).
class DlaNodeImpl : public torch::nn::Module {
 public:
  virtual torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& shortcut,
                                std::vector<torch::Tensor>* children) = 0;
};

// timm DlaBasic: conv 3x3 (stride) + BN + ReLU, conv 3x3 + BN, + shortcut, ReLU.
class DlaBasicImpl : public DlaNodeImpl {
 public:
  DlaBasicImpl(int64_t inplanes, int64_t planes, int64_t stride) {
    conv1 = register_module("conv1", create_conv2d(inplanes, planes, 3, stride));
    bn1 = register_module("bn1", BatchNormAct2d(planes, Act::relu));
    conv2 = register_module("conv2", create_conv2d(planes, planes, 3));
    bn2 = register_module("bn2", batch_norm2d(planes));
  }

  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& shortcut,
                        std::vector<torch::Tensor>* /*children*/) override {
    auto out = bn2->forward(conv2->forward(bn1->forward(conv1->forward(x))));
    out.add_(shortcut.defined() ? shortcut : x);
    return out.relu_();
  }

  Conv2d conv1{nullptr}, conv2{nullptr};
  BatchNormAct2d bn1{nullptr}, bn2{nullptr};
};

// timm DlaBottleneck (expansion 2): conv 1x1, grouped conv 3x3 (stride), conv 1x1, + shortcut.
class DlaBottleneckImpl : public DlaNodeImpl {
 public:
  DlaBottleneckImpl(int64_t inplanes, int64_t outplanes, int64_t stride, int64_t cardinality,
                    int64_t base_width) {
    // int(math.floor(outplanes * (base_width / 64)) * cardinality) // expansion
    const auto scaled = static_cast<int64_t>(
        std::floor(static_cast<double>(outplanes) * (static_cast<double>(base_width) / 64.0)));
    const int64_t mid = scaled * cardinality / 2;
    conv1 = register_module("conv1", create_conv2d(inplanes, mid, 1));
    bn1 = register_module("bn1", BatchNormAct2d(mid, Act::relu));
    conv2 = register_module("conv2", create_conv2d(mid, mid, 3, stride, 1, cardinality));
    bn2 = register_module("bn2", BatchNormAct2d(mid, Act::relu));
    conv3 = register_module("conv3", create_conv2d(mid, outplanes, 1));
    bn3 = register_module("bn3", batch_norm2d(outplanes));
  }

  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& shortcut,
                        std::vector<torch::Tensor>* /*children*/) override {
    auto out = bn1->forward(conv1->forward(x));
    out = bn2->forward(conv2->forward(out));
    out = bn3->forward(conv3->forward(out));
    out.add_(shortcut.defined() ? shortcut : x);
    return out.relu_();
  }

  Conv2d conv1{nullptr}, conv2{nullptr}, conv3{nullptr};
  BatchNormAct2d bn1{nullptr}, bn2{nullptr}, bn3{nullptr};
};

// timm DlaRoot: conv 1x1 over the concatenated children, BN, (+ first child), ReLU.
class DlaRootImpl : public torch::nn::Module {
 public:
  DlaRootImpl(int64_t in_channels, int64_t out_channels, int64_t kernel_size, bool shortcut)
      : shortcut_(shortcut) {
    conv = register_module("conv",
                           Conv2d(ConvOptions(in_channels, out_channels, 1)
                                      .padding(torch::ExpandingArray<2>((kernel_size - 1) / 2))));
    bn = register_module("bn", batch_norm2d(out_channels));
  }

  torch::Tensor forward(const std::vector<torch::Tensor>& children) {
    auto x = bn->forward(conv->forward(torch::cat(children, 1)));
    if (shortcut_) x.add_(children.front());
    return x.relu_();
  }

  Conv2d conv{nullptr};
  BatchNormAct2d bn{nullptr};

 private:
  bool shortcut_;
};
TORCH_MODULE(DlaRoot);

struct TreeArgs {
  DlaBlock block = DlaBlock::bottleneck;
  int64_t cardinality = 1;
  int64_t base_width = 64;
  int64_t root_kernel_size = 1;
  bool root_shortcut = false;
};

std::shared_ptr<DlaNodeImpl> make_block(const TreeArgs& a, int64_t in, int64_t out,
                                        int64_t stride) {
  if (a.block == DlaBlock::basic) return std::make_shared<DlaBasicImpl>(in, out, stride);
  return std::make_shared<DlaBottleneckImpl>(in, out, stride, a.cardinality, a.base_width);
}

// timm DlaTree.
class DlaTreeImpl : public DlaNodeImpl {
 public:
  DlaTreeImpl(int64_t levels, const TreeArgs& a, int64_t in_channels, int64_t out_channels,
              int64_t stride, bool level_root, int64_t root_dim)
      : stride_(stride), level_root_(level_root) {
    if (root_dim == 0) root_dim = 2 * out_channels;
    if (level_root) root_dim += in_channels;
    // timm assigns self.project (Identity) before tree1 / tree2, so a projection set later keeps
    // that first place in the state dict: register it first.
    if (levels == 1 && in_channels != out_channels) {
      project = Sequential();
      project->push_back(create_conv2d(in_channels, out_channels, 1));
      project->push_back(batch_norm2d(out_channels));
      register_module("project", project);
    }
    if (levels == 1) {
      tree1 = register_module("tree1", make_block(a, in_channels, out_channels, stride));
      tree2 = register_module("tree2", make_block(a, out_channels, out_channels, 1));
      root = register_module("root",
                             DlaRoot(root_dim, out_channels, a.root_kernel_size, a.root_shortcut));
    } else {
      tree1 = register_module(
          "tree1", std::make_shared<DlaTreeImpl>(levels - 1, a, in_channels, out_channels, stride,
                                                 /*level_root=*/false, /*root_dim=*/0));
      tree2 = register_module(
          "tree2", std::make_shared<DlaTreeImpl>(levels - 1, a, out_channels, out_channels, 1,
                                                 /*level_root=*/false, root_dim + out_channels));
    }
  }

  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& /*shortcut*/,
                        std::vector<torch::Tensor>* children) override {
    std::vector<torch::Tensor> own;
    if (children == nullptr) children = &own;
    const auto bottom =
        stride_ > 1 ? torch::max_pool2d(x, {stride_, stride_}, {stride_, stride_}) : x;
    if (level_root_) children->push_back(bottom);
    if (root) {  // levels == 1: two blocks and the root
      const auto shortcut = project ? project->forward(bottom) : bottom;
      auto x1 = tree1->forward(x, shortcut, nullptr);
      auto x2 = tree2->forward(x1, {}, nullptr);
      std::vector<torch::Tensor> inputs{x2, x1};
      inputs.insert(inputs.end(), children->begin(), children->end());
      return root->forward(inputs);
    }
    auto x1 = tree1->forward(x, {}, nullptr);
    children->push_back(x1);
    return tree2->forward(x1, {}, children);
  }

  Sequential project{nullptr};
  std::shared_ptr<DlaNodeImpl> tree1, tree2;
  DlaRoot root{nullptr};

 private:
  int64_t stride_;
  bool level_root_;
};

class DLA : public Classifier {
 public:
  DLA(const std::string& arch, const DlaConfig& cfg, const ModelOptions& options)
      : Classifier(arch, options) {
    const auto& ch = cfg.channels;
    base_layer = Sequential();
    base_layer->push_back(create_conv2d(options.in_chans, ch[0], 7));
    base_layer->push_back(batch_norm2d(ch[0]));
    base_layer->push_back(Activation(Act::relu, /*inplace=*/true));
    register_module("base_layer", base_layer);
    level0 = register_module("level0", make_conv_level(ch[0], ch[0], cfg.levels[0], 1));
    level1 = register_module("level1", make_conv_level(ch[0], ch[1], cfg.levels[1], 2));
    TreeArgs a;
    a.block = cfg.block;
    a.cardinality = cfg.cardinality;
    a.base_width = cfg.base_width;
    a.root_shortcut = cfg.shortcut_root;
    for (size_t i = 2; i < 6; ++i) {
      trees_.push_back(register_module(
          fmt::format("level{}", i),
          std::make_shared<DlaTreeImpl>(cfg.levels[i], a, ch[i - 1], ch[i], 2, i > 2, 0)));
    }
    set_num_features(ch[5]);
    fc = register_module("fc", make_fc(options.num_classes));

    // timm's DLA init: every nn.Conv2d (the fc included) N(0, sqrt(2 / (kh * kw * out))), conv
    // biases untouched; BatchNorm weight 1, bias 0 (already so).
    torch::NoGradGuard no_grad;
    for (auto& m : modules(/*include_self=*/false)) {
      if (auto* conv = m->as<Conv2dImpl>()) {
        const auto& w = conv->weight;
        const auto n = static_cast<double>(w.size(0) * w.size(2) * w.size(3));
        w.normal_(0.0, std::sqrt(2.0 / n));
      }
    }
  }

  // The max-pooled shortcut (floor) and the strided convolution (ceil) of every tree must agree
  // in size, so after level1 (stride 2) the size must divide by 16: 32, 64, 96, ... (or one less).
  torch::Tensor forward(torch::Tensor x) override {
    if (x.dim() == 4) {
      const int64_t h = x.size(2), w = x.size(3);
      auto fits = [](int64_t s) { return ((s + 1) / 2) % 16 == 0; };
      if (h >= min_input_size() && w >= min_input_size() && (!fits(h) || !fits(w))) {
        auto down = [](int64_t s) { return std::max<int64_t>(32, s / 32 * 32); };
        auto up = [](int64_t s) { return (s + 31) / 32 * 32; };
        throw Error(fmt::format(
            "{}: needs input height and width that are multiples of 32 (its max-pooled "
            "shortcuts and strided convolutions must agree in size), got {}x{}; resize the "
            "images to {}x{} or {}x{}",
            arch(), h, w, down(h), down(w), up(h), up(w)));
      }
    }
    return Classifier::forward(std::move(x));
  }

  torch::Tensor forward_features(torch::Tensor x) override {
    x = level1->forward(level0->forward(base_layer->forward(x)));
    for (auto& tree : trees_) x = tree->forward(x, {}, nullptr);
    return x;
  }

  torch::Tensor forward_head(torch::Tensor x) override {
    x = torch::adaptive_avg_pool2d(x, {1, 1});
    if (options().drop_rate > 0.0) x = torch::dropout(x, options().drop_rate, is_training());
    return fc->forward(x).flatten(1);
  }

  std::vector<std::string> first_conv_names() const override { return {"base_layer.0"}; }
  std::vector<std::string> classifier_names() const override { return {"fc"}; }
  void reset_classifier(int64_t num_classes) override {
    set_num_classes(num_classes);
    fc = replace_module("fc", make_fc(num_classes));
  }
  int64_t min_input_size() const override { return 32; }

  Sequential base_layer{nullptr}, level0{nullptr}, level1{nullptr};
  Conv2d fc{nullptr};

 private:
  // timm DLA._make_conv_level: (conv 3x3, BN, ReLU) x convs, the first with the stride.
  static Sequential make_conv_level(int64_t inplanes, int64_t planes, int64_t convs,
                                    int64_t stride) {
    Sequential seq;
    for (int64_t i = 0; i < convs; ++i) {
      seq->push_back(create_conv2d(inplanes, planes, 3, i == 0 ? stride : 1));
      seq->push_back(batch_norm2d(planes));
      seq->push_back(Activation(Act::relu, /*inplace=*/true));
      inplanes = planes;
    }
    return seq;
  }

  // timm create_classifier(use_conv=True): a 1x1 conv with bias (PyTorch's default init).
  Conv2d make_fc(int64_t num_classes) const {
    return create_conv2d(num_features(), num_classes, 1, 1, 1, 1, "", /*bias=*/true);
  }

  std::vector<std::shared_ptr<DlaTreeImpl>> trees_;
};

DlaConfig config(std::vector<int64_t> levels, std::vector<int64_t> channels, DlaBlock block,
                 int64_t cardinality = 1, int64_t base_width = 64, bool shortcut_root = false) {
  DlaConfig cfg;
  cfg.levels = std::move(levels);
  cfg.channels = std::move(channels);
  cfg.block = block;
  cfg.cardinality = cardinality;
  cfg.base_width = base_width;
  cfg.shortcut_root = shortcut_root;
  return cfg;
}

}  // namespace

void register_dla_models(Registry& r) {
  using B = DlaBlock;
  const std::vector<int64_t> small{16, 32, 64, 64, 128, 256};
  const std::vector<int64_t> wide{16, 32, 128, 256, 512, 1024};
  r.add<DLA>("dla34", config({1, 1, 1, 2, 2, 1}, {16, 32, 64, 128, 256, 512}, B::basic));
  r.add<DLA>("dla46_c", config({1, 1, 1, 2, 2, 1}, small, B::bottleneck));
  r.add<DLA>("dla46x_c", config({1, 1, 1, 2, 2, 1}, small, B::bottleneck, 32, 4));
  r.add<DLA>("dla60", config({1, 1, 1, 2, 3, 1}, wide, B::bottleneck));
  r.add<DLA>("dla60x", config({1, 1, 1, 2, 3, 1}, wide, B::bottleneck, 32, 4));
  r.add<DLA>("dla102", config({1, 1, 1, 3, 4, 1}, wide, B::bottleneck, 1, 64, true));
  r.add<DLA>("dla102x", config({1, 1, 1, 3, 4, 1}, wide, B::bottleneck, 32, 4, true));
  r.add<DLA>("dla102x2", config({1, 1, 1, 3, 4, 1}, wide, B::bottleneck, 64, 4, true));
  r.add<DLA>("dla169", config({1, 1, 2, 3, 5, 1}, wide, B::bottleneck, 1, 64, true));
}

}  // namespace pepr::models
