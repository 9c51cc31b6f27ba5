// timm/models/inception_v3.py, natively (without the auxiliary head, timm's default): the stem
// convs Conv2d_*, Mixed_5b..Mixed_7c (InceptionA..E), fc. Every conv is ConvNormAct with explicit
// padding (0 unless given), BatchNorm eps 1e-3, ReLU.
#include <array>
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "models/headed_classifier.hpp"
#include "models/layers/common.hpp"
#include "models/layers/dpnvov.hpp"
#include "models/model.hpp"
#include "models/registry.hpp"

namespace pepr::models {

namespace {

using dpnvov::ConvNormAct;

// timm's conv_block: ConvNormAct(padding=0 unless given, BatchNorm eps 1e-3, ReLU).
ConvNormAct cba(int64_t in, int64_t out, std::array<int64_t, 2> k, int64_t stride = 1,
                std::array<int64_t, 2> pad = {0, 0}) {
  return ConvNormAct(ConvOptions(in, out, torch::ExpandingArray<2>({k[0], k[1]}))
                         .stride(stride)
                         .padding(torch::ExpandingArray<2>({pad[0], pad[1]})),
                     Act::relu, BatchNormOptions().eps(1e-3));
}

ConvNormAct cba(int64_t in, int64_t out, int64_t k, int64_t stride = 1, int64_t pad = 0) {
  return cba(in, out, {k, k}, stride, {pad, pad});
}

torch::Tensor avg_pool_3x3(const torch::Tensor& x) {
  // F.avg_pool2d(x, 3, stride=1, padding=1): count_include_pad=True.
  return torch::avg_pool2d(x, {3, 3}, {1, 1}, {1, 1});
}

class InceptionAImpl : public torch::nn::Module {
 public:
  InceptionAImpl(int64_t in, int64_t pool_features) {
    branch1x1 = register_module("branch1x1", cba(in, 64, 1));
    branch5x5_1 = register_module("branch5x5_1", cba(in, 48, 1));
    branch5x5_2 = register_module("branch5x5_2", cba(48, 64, 5, 1, 2));
    branch3x3dbl_1 = register_module("branch3x3dbl_1", cba(in, 64, 1));
    branch3x3dbl_2 = register_module("branch3x3dbl_2", cba(64, 96, 3, 1, 1));
    branch3x3dbl_3 = register_module("branch3x3dbl_3", cba(96, 96, 3, 1, 1));
    branch_pool = register_module("branch_pool", cba(in, pool_features, 1));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    auto b1 = branch1x1->forward(x);
    auto b5 = branch5x5_2->forward(branch5x5_1->forward(x));
    auto b3 = branch3x3dbl_3->forward(branch3x3dbl_2->forward(branch3x3dbl_1->forward(x)));
    auto bp = branch_pool->forward(avg_pool_3x3(x));
    return torch::cat({b1, b5, b3, bp}, 1);
  }
  ConvNormAct branch1x1{nullptr}, branch5x5_1{nullptr}, branch5x5_2{nullptr},
      branch3x3dbl_1{nullptr}, branch3x3dbl_2{nullptr}, branch3x3dbl_3{nullptr},
      branch_pool{nullptr};
};
TORCH_MODULE(InceptionA);

class InceptionBImpl : public torch::nn::Module {
 public:
  explicit InceptionBImpl(int64_t in) {
    branch3x3 = register_module("branch3x3", cba(in, 384, 3, 2));
    branch3x3dbl_1 = register_module("branch3x3dbl_1", cba(in, 64, 1));
    branch3x3dbl_2 = register_module("branch3x3dbl_2", cba(64, 96, 3, 1, 1));
    branch3x3dbl_3 = register_module("branch3x3dbl_3", cba(96, 96, 3, 2));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    auto b3 = branch3x3->forward(x);
    auto bd = branch3x3dbl_3->forward(branch3x3dbl_2->forward(branch3x3dbl_1->forward(x)));
    auto bp = torch::max_pool2d(x, {3, 3}, {2, 2});
    return torch::cat({b3, bd, bp}, 1);
  }
  ConvNormAct branch3x3{nullptr}, branch3x3dbl_1{nullptr}, branch3x3dbl_2{nullptr},
      branch3x3dbl_3{nullptr};
};
TORCH_MODULE(InceptionB);

class InceptionCImpl : public torch::nn::Module {
 public:
  InceptionCImpl(int64_t in, int64_t c7) {
    branch1x1 = register_module("branch1x1", cba(in, 192, 1));
    branch7x7_1 = register_module("branch7x7_1", cba(in, c7, 1));
    branch7x7_2 = register_module("branch7x7_2", cba(c7, c7, {1, 7}, 1, {0, 3}));
    branch7x7_3 = register_module("branch7x7_3", cba(c7, 192, {7, 1}, 1, {3, 0}));
    branch7x7dbl_1 = register_module("branch7x7dbl_1", cba(in, c7, 1));
    branch7x7dbl_2 = register_module("branch7x7dbl_2", cba(c7, c7, {7, 1}, 1, {3, 0}));
    branch7x7dbl_3 = register_module("branch7x7dbl_3", cba(c7, c7, {1, 7}, 1, {0, 3}));
    branch7x7dbl_4 = register_module("branch7x7dbl_4", cba(c7, c7, {7, 1}, 1, {3, 0}));
    branch7x7dbl_5 = register_module("branch7x7dbl_5", cba(c7, 192, {1, 7}, 1, {0, 3}));
    branch_pool = register_module("branch_pool", cba(in, 192, 1));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    auto b1 = branch1x1->forward(x);
    auto b7 = branch7x7_3->forward(branch7x7_2->forward(branch7x7_1->forward(x)));
    auto bd = branch7x7dbl_1->forward(x);
    bd = branch7x7dbl_3->forward(branch7x7dbl_2->forward(bd));
    bd = branch7x7dbl_5->forward(branch7x7dbl_4->forward(bd));
    auto bp = branch_pool->forward(avg_pool_3x3(x));
    return torch::cat({b1, b7, bd, bp}, 1);
  }
  ConvNormAct branch1x1{nullptr}, branch7x7_1{nullptr}, branch7x7_2{nullptr}, branch7x7_3{nullptr},
      branch7x7dbl_1{nullptr}, branch7x7dbl_2{nullptr}, branch7x7dbl_3{nullptr},
      branch7x7dbl_4{nullptr}, branch7x7dbl_5{nullptr}, branch_pool{nullptr};
};
TORCH_MODULE(InceptionC);

class InceptionDImpl : public torch::nn::Module {
 public:
  explicit InceptionDImpl(int64_t in) {
    branch3x3_1 = register_module("branch3x3_1", cba(in, 192, 1));
    branch3x3_2 = register_module("branch3x3_2", cba(192, 320, 3, 2));
    branch7x7x3_1 = register_module("branch7x7x3_1", cba(in, 192, 1));
    branch7x7x3_2 = register_module("branch7x7x3_2", cba(192, 192, {1, 7}, 1, {0, 3}));
    branch7x7x3_3 = register_module("branch7x7x3_3", cba(192, 192, {7, 1}, 1, {3, 0}));
    branch7x7x3_4 = register_module("branch7x7x3_4", cba(192, 192, 3, 2));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    auto b3 = branch3x3_2->forward(branch3x3_1->forward(x));
    auto b7 = branch7x7x3_2->forward(branch7x7x3_1->forward(x));
    b7 = branch7x7x3_4->forward(branch7x7x3_3->forward(b7));
    auto bp = torch::max_pool2d(x, {3, 3}, {2, 2});
    return torch::cat({b3, b7, bp}, 1);
  }
  ConvNormAct branch3x3_1{nullptr}, branch3x3_2{nullptr}, branch7x7x3_1{nullptr},
      branch7x7x3_2{nullptr}, branch7x7x3_3{nullptr}, branch7x7x3_4{nullptr};
};
TORCH_MODULE(InceptionD);

class InceptionEImpl : public torch::nn::Module {
 public:
  explicit InceptionEImpl(int64_t in) {
    branch1x1 = register_module("branch1x1", cba(in, 320, 1));
    branch3x3_1 = register_module("branch3x3_1", cba(in, 384, 1));
    branch3x3_2a = register_module("branch3x3_2a", cba(384, 384, {1, 3}, 1, {0, 1}));
    branch3x3_2b = register_module("branch3x3_2b", cba(384, 384, {3, 1}, 1, {1, 0}));
    branch3x3dbl_1 = register_module("branch3x3dbl_1", cba(in, 448, 1));
    branch3x3dbl_2 = register_module("branch3x3dbl_2", cba(448, 384, 3, 1, 1));
    branch3x3dbl_3a = register_module("branch3x3dbl_3a", cba(384, 384, {1, 3}, 1, {0, 1}));
    branch3x3dbl_3b = register_module("branch3x3dbl_3b", cba(384, 384, {3, 1}, 1, {1, 0}));
    branch_pool = register_module("branch_pool", cba(in, 192, 1));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    auto b1 = branch1x1->forward(x);
    auto b3 = branch3x3_1->forward(x);
    b3 = torch::cat({branch3x3_2a->forward(b3), branch3x3_2b->forward(b3)}, 1);
    auto bd = branch3x3dbl_2->forward(branch3x3dbl_1->forward(x));
    bd = torch::cat({branch3x3dbl_3a->forward(bd), branch3x3dbl_3b->forward(bd)}, 1);
    auto bp = branch_pool->forward(avg_pool_3x3(x));
    return torch::cat({b1, b3, bd, bp}, 1);
  }
  ConvNormAct branch1x1{nullptr}, branch3x3_1{nullptr}, branch3x3_2a{nullptr},
      branch3x3_2b{nullptr}, branch3x3dbl_1{nullptr}, branch3x3dbl_2{nullptr},
      branch3x3dbl_3a{nullptr}, branch3x3dbl_3b{nullptr}, branch_pool{nullptr};
};
TORCH_MODULE(InceptionE);

class InceptionV3 : public LinearHeadClassifier {
 public:
  InceptionV3(const std::string& arch, const ModelOptions& options)
      : LinearHeadClassifier(arch, options, "fc") {
    Conv2d_1a_3x3 = register_module("Conv2d_1a_3x3", cba(options.in_chans, 32, 3, 2));
    Conv2d_2a_3x3 = register_module("Conv2d_2a_3x3", cba(32, 32, 3));
    Conv2d_2b_3x3 = register_module("Conv2d_2b_3x3", cba(32, 64, 3, 1, 1));
    Conv2d_3b_1x1 = register_module("Conv2d_3b_1x1", cba(64, 80, 1));
    Conv2d_4a_3x3 = register_module("Conv2d_4a_3x3", cba(80, 192, 3));
    mixed_.emplace_back(register_module("Mixed_5b", InceptionA(192, 32)));
    mixed_.emplace_back(register_module("Mixed_5c", InceptionA(256, 64)));
    mixed_.emplace_back(register_module("Mixed_5d", InceptionA(288, 64)));
    mixed_.emplace_back(register_module("Mixed_6a", InceptionB(288)));
    mixed_.emplace_back(register_module("Mixed_6b", InceptionC(768, 128)));
    mixed_.emplace_back(register_module("Mixed_6c", InceptionC(768, 160)));
    mixed_.emplace_back(register_module("Mixed_6d", InceptionC(768, 160)));
    mixed_.emplace_back(register_module("Mixed_6e", InceptionC(768, 192)));
    mixed_.emplace_back(register_module("Mixed_7a", InceptionD(768)));
    mixed_.emplace_back(register_module("Mixed_7b", InceptionE(1280)));
    mixed_.emplace_back(register_module("Mixed_7c", InceptionE(2048)));
    set_num_features(2048);
    register_fc(2048);

    // timm: trunc_normal_(std=0.1) for every conv and Linear weight; BatchNorm 1 / 0.
    for (auto& m : modules(/*include_self=*/false)) {
      if (auto* conv = m->as<Conv2dImpl>()) dpnvov::trunc_normal_(conv->weight, 0.0, 0.1);
      if (auto* linear = m->as<torch::nn::LinearImpl>()) {
        dpnvov::trunc_normal_(linear->weight, 0.0, 0.1);
      }
    }
  }

  torch::Tensor forward_features(torch::Tensor x) override {
    x = Conv2d_2b_3x3->forward(Conv2d_2a_3x3->forward(Conv2d_1a_3x3->forward(x)));
    x = torch::max_pool2d(x, {3, 3}, {2, 2});
    x = Conv2d_4a_3x3->forward(Conv2d_3b_1x1->forward(x));
    x = torch::max_pool2d(x, {3, 3}, {2, 2});
    for (auto& m : mixed_) x = m.forward(x);
    return x;
  }
  std::vector<std::string> first_conv_names() const override { return {"Conv2d_1a_3x3.conv"}; }
  // Unpadded 3x3 convs and max pools: 1a (s2), 2a, pool, 4a, pool, 6a (s2), 7a (s2).
  int64_t min_input_size() const override {
    return dpnvov::smallest_size([](int64_t s) {
      using dpnvov::pool_out_size;
      for (const auto& [k, st, p] : std::vector<std::array<int64_t, 3>>{{3, 2, 0},
                                                                        {3, 1, 0},
                                                                        {3, 1, 1},
                                                                        {3, 2, 0},
                                                                        {3, 1, 0},
                                                                        {3, 2, 0},
                                                                        {3, 2, 0},
                                                                        {3, 2, 0}}) {
        s = pool_out_size(s, k, st, p, false);
        if (s < 1) return false;
      }
      return true;
    });
  }

 private:
  ConvNormAct Conv2d_1a_3x3{nullptr}, Conv2d_2a_3x3{nullptr}, Conv2d_2b_3x3{nullptr},
      Conv2d_3b_1x1{nullptr}, Conv2d_4a_3x3{nullptr};
  std::vector<torch::nn::AnyModule> mixed_;
};

}  // namespace

void register_inception_v3_models(Registry& r) {
  // timm now names these inception_v3.tf_adv_in1k and inception_v3.gluon_in1k: the same network.
  for (const char* name : {"adv_inception_v3", "gluon_inception_v3"}) {
    r.add(name, [](const std::string& arch, const ModelOptions& o) {
      return std::make_shared<InceptionV3>(arch, o);
    });
  }
}

}  // namespace pepr::models
