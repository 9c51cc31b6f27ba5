#include "models/layers/transformer.hpp"

#include <cmath>
#include <ostream>

#include "core/error.hpp"

namespace pepr::models {

// ---------------------------------------------------------------------------------------------

LayerNormImpl::LayerNormImpl(int64_t dim, double eps, bool affine) : dim_(dim), eps_(eps) {
  if (affine) {
    weight = register_parameter("weight", torch::ones({dim}));
    bias = register_parameter("bias", torch::zeros({dim}));
  }
}

torch::Tensor LayerNormImpl::forward(const torch::Tensor& x) {
  return torch::layer_norm(x, {dim_}, weight, bias, eps_);
}

void LayerNormImpl::pretty_print(std::ostream& stream) const {
  stream << "pepr::models::LayerNorm(" << dim_ << ", eps=" << eps_ << ")";
}

// ---------------------------------------------------------------------------------------------

MlpImpl::MlpImpl(MlpOptions options) : options_(std::move(options)) {
  const int64_t in = options_.in_features();
  const int64_t hidden = options_.hidden_features() > 0 ? options_.hidden_features() : in;
  const int64_t out = options_.out_features() > 0 ? options_.out_features() : in;
  if (options_.use_conv()) {
    conv1 = register_module("fc1", Conv2d(ConvOptions(in, hidden, 1).bias(options_.bias())));
    conv2 = register_module("fc2", Conv2d(ConvOptions(hidden, out, 1).bias(options_.bias())));
  } else {
    fc1 = register_module(
        "fc1", torch::nn::Linear(torch::nn::LinearOptions(in, hidden).bias(options_.bias())));
    fc2 = register_module(
        "fc2", torch::nn::Linear(torch::nn::LinearOptions(hidden, out).bias(options_.bias())));
  }
}

torch::Tensor MlpImpl::forward(torch::Tensor x) {
  const double p = options_.drop();
  x = options_.use_conv() ? conv1->forward(x) : fc1->forward(x);
  x = apply_act(options_.act(), std::move(x));
  if (p > 0.0) x = torch::dropout(x, p, is_training());
  x = options_.use_conv() ? conv2->forward(x) : fc2->forward(x);
  if (p > 0.0) x = torch::dropout(x, p, is_training());
  return x;
}

// ---------------------------------------------------------------------------------------------

torch::Tensor softmax_attention(const torch::Tensor& q, const torch::Tensor& k,
                                const torch::Tensor& v, double attn_drop, bool training) {
  auto attn = torch::matmul(q, k.transpose(-2, -1)).softmax(-1);
  if (attn_drop > 0.0) attn = torch::dropout(attn, attn_drop, training);
  return torch::matmul(attn, v);
}

torch::Tensor window_partition(const torch::Tensor& x, int64_t ws) {
  const int64_t B = x.size(0), H = x.size(1), W = x.size(2), C = x.size(3);
  return x.view({B, H / ws, ws, W / ws, ws, C})
      .permute({0, 1, 3, 2, 4, 5})
      .contiguous()
      .view({-1, ws, ws, C});
}

torch::Tensor window_reverse(const torch::Tensor& windows, int64_t ws, int64_t H, int64_t W) {
  const int64_t C = windows.size(-1);
  return windows.view({-1, H / ws, W / ws, ws, ws, C})
      .permute({0, 1, 3, 2, 4, 5})
      .contiguous()
      .view({-1, H, W, C});
}

AttentionImpl::AttentionImpl(int64_t dim, int64_t num_heads, bool qkv_bias, double attn_drop,
                             double proj_drop)
    : num_heads_(num_heads),
      head_dim_(dim / num_heads),
      scale_(std::pow(static_cast<double>(dim / num_heads), -0.5)),
      attn_drop_(attn_drop),
      proj_drop_(proj_drop) {
  if (dim % num_heads != 0) {
    throw Error("Attention: dim " + std::to_string(dim) + " is not divisible by num_heads " +
                std::to_string(num_heads));
  }
  qkv = register_module("qkv",
                        torch::nn::Linear(torch::nn::LinearOptions(dim, dim * 3).bias(qkv_bias)));
  proj = register_module("proj", torch::nn::Linear(dim, dim));
}

torch::Tensor AttentionImpl::forward(const torch::Tensor& x) {
  const int64_t B = x.size(0), N = x.size(1);
  const auto qkv_ =
      qkv->forward(x).reshape({B, N, 3, num_heads_, head_dim_}).permute({2, 0, 3, 1, 4});
  const auto q = qkv_[0] * scale_;
  auto out = softmax_attention(q, qkv_[1], qkv_[2], attn_drop_, is_training());
  out = proj->forward(out.transpose(1, 2).reshape({B, N, num_heads_ * head_dim_}));
  if (proj_drop_ > 0.0) out = torch::dropout(out, proj_drop_, is_training());
  return out;
}

SpatialReductionAttentionImpl::SpatialReductionAttentionImpl(int64_t dim, int64_t num_heads,
                                                             int64_t sr_ratio, bool qkv_bias,
                                                             double attn_drop, double proj_drop)
    : num_heads_(num_heads),
      head_dim_(dim / num_heads),
      scale_(std::pow(static_cast<double>(dim / num_heads), -0.5)),
      attn_drop_(attn_drop),
      proj_drop_(proj_drop) {
  q = register_module("q", torch::nn::Linear(torch::nn::LinearOptions(dim, dim).bias(qkv_bias)));
  kv = register_module("kv",
                       torch::nn::Linear(torch::nn::LinearOptions(dim, dim * 2).bias(qkv_bias)));
  proj = register_module("proj", torch::nn::Linear(dim, dim));
  if (sr_ratio > 1) {
    sr = register_module("sr", Conv2d(ConvOptions(dim, dim, sr_ratio)
                                          .stride(sr_ratio)
                                          .bias(true)
                                          .padding(torch::ExpandingArray<2>(0))));
    norm = register_module("norm", LayerNorm(dim, 1e-5));
  }
}

torch::Tensor SpatialReductionAttentionImpl::forward(torch::Tensor x, int64_t H, int64_t W) {
  const int64_t B = x.size(0), N = x.size(1), C = x.size(2);
  const auto q_ = q->forward(x).reshape({B, N, num_heads_, head_dim_}).permute({0, 2, 1, 3});
  if (sr) {
    x = x.permute({0, 2, 1}).reshape({B, C, H, W});
    x = norm->forward(sr->forward(x).reshape({B, C, -1}).permute({0, 2, 1}));
  }
  const auto kv_ =
      kv->forward(x).reshape({B, -1, 2, num_heads_, head_dim_}).permute({2, 0, 3, 1, 4});
  auto out = softmax_attention(q_ * scale_, kv_[0], kv_[1], attn_drop_, is_training());
  out = proj->forward(out.transpose(1, 2).reshape({B, N, C}));
  if (proj_drop_ > 0.0) out = torch::dropout(out, proj_drop_, is_training());
  return out;
}

TransformerBlockImpl::TransformerBlockImpl(TransformerBlockOptions o) : drop_path_(o.drop_path()) {
  norm1 = register_module("norm1", LayerNorm(o.dim(), o.norm_eps()));
  attn = register_module(
      "attn", Attention(o.dim(), o.num_heads(), o.qkv_bias(), o.attn_drop(), o.proj_drop()));
  norm2 = register_module("norm2", LayerNorm(o.dim(), o.norm_eps()));
  const auto hidden = static_cast<int64_t>(static_cast<double>(o.dim()) * o.mlp_ratio());
  mlp = register_module("mlp", Mlp(MlpOptions(o.dim(), hidden).act(o.act()).drop(o.proj_drop())));
}

torch::Tensor TransformerBlockImpl::forward(torch::Tensor x) {
  x = x + drop_path(attn->forward(norm1->forward(x)), drop_path_, is_training());
  return x + drop_path(mlp->forward(norm2->forward(x)), drop_path_, is_training());
}

// ---------------------------------------------------------------------------------------------

NormMlpClassifierHeadImpl::NormMlpClassifierHeadImpl(int64_t in_features, int64_t num_classes,
                                                     double drop_rate, double norm_eps,
                                                     int64_t hidden_size, Act act)
    : num_features_(hidden_size > 0 ? hidden_size : in_features), drop_rate_(drop_rate), act_(act) {
  norm = register_module("norm", LayerNorm2d(in_features, norm_eps));
  if (hidden_size > 0) {
    auto holder = std::make_shared<torch::nn::Module>();
    pre_logits_fc = holder->register_module("fc", torch::nn::Linear(in_features, hidden_size));
    register_module("pre_logits", holder);
  }
  fc = register_module("fc", torch::nn::Linear(num_features_, num_classes));
}

torch::Tensor NormMlpClassifierHeadImpl::forward(torch::Tensor x) {
  x = norm->forward(x.mean({2, 3}, /*keepdim=*/true)).flatten(1);
  if (pre_logits_fc) x = apply_act(act_, pre_logits_fc->forward(x));
  if (drop_rate_ > 0.0) x = torch::dropout(x, drop_rate_, is_training());
  return fc->forward(x);
}

void NormMlpClassifierHeadImpl::reset(int64_t num_classes) {
  fc = replace_module("fc", torch::nn::Linear(num_features_, num_classes));
}

}  // namespace pepr::models
